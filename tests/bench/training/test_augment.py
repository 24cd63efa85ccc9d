"""DiffAugment (bench/training/augment.py): each op against a direct per-sample computation on the same draws,
the gradient through the transform, and `+diffaug` wired into every D input of both players' steps.
tests/benchmarks/diffaugment_reference.py compares the ops with the authors' function itself."""

import pytest
import torch

from bench.training import augment
from bench.training.augment import Augmented, diff_augment
from tests.conftest import RecordingD

X = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))


def _draws(seed: int, *calls):
    """The numbers the ops draw, drawn again from the same seed: ('rand',) or ('randint', low, high)."""
    torch.manual_seed(seed)
    out = []
    for call in calls:
        if call[0] == "rand":
            out.append(torch.rand(X.shape[0]))
        else:
            out.append(torch.randint(call[1], call[2], (X.shape[0],)))
    return out


def test_translation_shifts_each_sample_by_its_own_draw_with_zero_fill():
    torch.manual_seed(3)
    out = augment.translation(X)
    dy, dx = _draws(3, ("randint", -2, 3), ("randint", -2, 3))  # 16 / 8 = 2
    expected = torch.zeros_like(X)
    for b in range(X.shape[0]):
        for i in range(16):
            for j in range(16):
                si, sj = i + int(dy[b]), j + int(dx[b])
                if 0 <= si < 16 and 0 <= sj < 16:
                    expected[b, :, i, j] = X[b, :, si, sj]
    assert torch.equal(out, expected) and len(set(zip(dy.tolist(), dx.tolist(), strict=True))) > 1


def test_cutout_zeroes_a_half_size_square_around_each_samples_centre():
    torch.manual_seed(4)
    out = augment.cutout(X)
    cy, cx = _draws(4, ("randint", 0, 17), ("randint", 0, 17))  # an 8x8 square: even, so centres 0..16
    expected = X.clone()
    for b in range(X.shape[0]):
        for i in range(int(cy[b]) - 4, int(cy[b]) + 4):
            for j in range(int(cx[b]) - 4, int(cx[b]) + 4):
                if 0 <= i < 16 and 0 <= j < 16:
                    expected[b, :, i, j] = 0.0
    assert torch.equal(out, expected)


def test_color_is_brightness_then_saturation_then_contrast_on_per_sample_draws():
    torch.manual_seed(5)
    out = diff_augment(X, "color")
    u_b, u_s, u_c = _draws(5, ("rand",), ("rand",), ("rand",))
    x = X + (u_b - 0.5).view(-1, 1, 1, 1)
    gray = x.mean(dim=1, keepdim=True)
    x = gray + (x - gray) * (2 * u_s).view(-1, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * (u_c + 0.5).view(-1, 1, 1, 1)
    torch.testing.assert_close(out, x, rtol=0, atol=1e-6)


def test_saturation_leaves_a_gray_image_alone():
    gray = X[:, :1]
    assert torch.equal(augment.saturation(gray), gray)


def test_the_gradient_flows_through_the_transform():
    """R1 on an augmented D is taken on the un-augmented input: d/dx of sum(D(T(x))) for D = w . x is the
    translation's adjoint applied to w (cutout's mask times w)."""
    x = X.clone().requires_grad_(True)
    w = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(7)
    (grad,) = torch.autograd.grad((diff_augment(x, "cutout") * w).sum(), x)
    torch.manual_seed(7)
    mask = augment.cutout(torch.ones_like(X))
    assert torch.equal(grad, mask * w)


def test_diffaug_reaches_every_d_input_of_both_steps_and_the_penalty():
    from bench.protocol import variants
    from bench.training.objective import Objective, build_discriminator

    recording = RecordingD()
    seen = recording.seen
    recipe = variants.compose("dcgan+diffaug-translation+r1").recipe
    d = build_discriminator(recording, recipe)
    assert isinstance(d, Augmented) and d.augment.policy == "translation"
    g = torch.nn.Linear(2, 3 * 16 * 16)
    objective = Objective(recipe, g, d, 1000, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    _, logs = objective.d_loss(d, X, X.flip(0), 0)
    assert len(seen) == 2 and not torch.equal(seen[0], X) and "r1" in logs  # R1 from the same, augmented pass
    for x in seen:  # every input is a translated copy: its rows are the input's, shifted, or 0
        assert x.shape == X.shape
    seen.clear()
    z = torch.randn(6, 2)
    objective.g_loss(lambda z: g(z).view(-1, 3, 16, 16), d, torch.optim.Adam(d.parameters()), z,
                     lambda: (X, None), lambda: (z, None), 0, None)
    assert len(seen) == 1 and not torch.equal(seen[0], g(z).view(-1, 3, 16, 16).detach())


@pytest.mark.parametrize(("name", "message"), [
    ("mlp-gan+diffaug", "DiffAugment transforms images; this variant trains on points: drop \\+diffaug"),
])
def test_diffaug_is_refused_where_it_cannot_apply(name, message):
    from bench.protocol import variants
    from models.registry import RegistryError

    with pytest.raises(RegistryError, match=message):
        variants.check(variants.compose(name))
