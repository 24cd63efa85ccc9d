from dataclasses import replace

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from bench.measurement.metrics.conditional import intra_class_fid, requested_class_accuracy
from bench.measurement.truncation import truncated_normal
from bench.protocol import variants
from bench.training.ema import update_ema
from bench.training.objective import Objective
from bench.training.regularizers import orthogonal_penalty
from models.registry import Recipe

# --- truncation ---------------------------------------------------------------------------------------------------


@settings(derandomize=True, max_examples=30, deadline=None)
@given(n=st.integers(1, 200), dim=st.integers(1, 16), tau=st.floats(0.05, 3.0), seed=st.integers(0, 2**31 - 1))
def test_truncated_normal_never_exceeds_tau(n, dim, tau, seed):
    z = truncated_normal(n, dim, tau, torch.Generator().manual_seed(seed))
    assert z.shape == (n, dim)
    assert z.abs().max().item() <= tau


def test_untruncated_sampling_is_plain_randn_of_the_same_stream():
    z = truncated_normal(7, 5, None, torch.Generator().manual_seed(123))
    assert torch.equal(z, torch.randn(7, 5, generator=torch.Generator().manual_seed(123)))


@pytest.mark.parametrize("tau", [0.0, -1.0])
def test_non_positive_tau_is_refused(tau):
    with pytest.raises(ValueError):
        truncated_normal(3, 2, tau, torch.Generator().manual_seed(0))


def test_truncated_normal_follows_the_truncated_standard_normal():
    z = truncated_normal(20000, 1, 1.0, torch.Generator().manual_seed(2024)).flatten().double().numpy()
    result = scipy.stats.kstest(z, scipy.stats.truncnorm(-1.0, 1.0).cdf)
    assert result.pvalue > 1e-3
    # and it is not the untruncated normal restricted by clamping: no mass piles up at the bounds
    assert (np.abs(z) == 1.0).sum() == 0


# --- intra-class FID and requested-class accuracy -----------------------------------------------------------------


def _frechet_reference(a: np.ndarray, b: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)), sample covariances (ddof 1)."""
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False, ddof=1), np.cov(b, rowvar=False, ddof=1)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2.0 * root))


def test_intra_class_fid_is_the_mean_of_per_class_frechet_distances():
    rng = np.random.default_rng(0)
    dim, n_classes = 4, 3
    gen_labels = np.repeat(np.arange(n_classes), [20, 35, 27])
    ref_labels = np.repeat(np.arange(n_classes), [30, 18, 40])
    rng.shuffle(gen_labels)
    rng.shuffle(ref_labels)
    gen = rng.normal(size=(len(gen_labels), dim)) + gen_labels[:, None] * 0.5
    ref = rng.normal(size=(len(ref_labels), dim)) * 1.3 - ref_labels[:, None] * 0.2
    mean, per_class = intra_class_fid(gen, gen_labels, ref, ref_labels, n_classes)
    expected = [_frechet_reference(gen[gen_labels == c], ref[ref_labels == c]) for c in range(n_classes)]
    assert per_class == pytest.approx(expected, rel=1e-6)
    assert mean == pytest.approx(np.mean(expected), rel=1e-6)


@pytest.mark.parametrize("which", ["gen", "ref"])
def test_intra_class_fid_refuses_a_class_with_fewer_than_two_samples(which):
    rng = np.random.default_rng(1)
    few = np.array([0, 0, 0, 1, 1, 1, 2])  # class 2 has one sample
    enough = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    gen_labels, ref_labels = (few, enough) if which == "gen" else (enough, few)
    with pytest.raises(ValueError):
        intra_class_fid(rng.normal(size=(len(gen_labels), 2)), gen_labels,
                        rng.normal(size=(len(ref_labels), 2)), ref_labels, 3)


def test_requested_class_accuracy_counts_argmax_hits():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.4, 0.35, 0.25]])
    requested = np.array([0, 1, 1, 2])  # hits: sample 0 and sample 2
    assert requested_class_accuracy(probs, requested) == 0.5


@pytest.mark.parametrize("n_labels", [2, 4])
def test_requested_class_accuracy_refuses_mismatched_lengths(n_labels):
    with pytest.raises(ValueError):
        requested_class_accuracy(np.full((3, 2), 0.5), np.zeros(n_labels, dtype=int))


def test_requested_class_accuracy_refuses_no_samples():
    with pytest.raises(ValueError):
        requested_class_accuracy(np.zeros((0, 2)), np.zeros(0, dtype=int))


# --- orthogonal regularization ------------------------------------------------------------------------------------


def _off_diagonal_gram_norm2(rows: list[list[float]]) -> float:
    total = 0.0
    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            if i != j:
                total += sum(x * y for x, y in zip(a, b, strict=True)) ** 2
    return total


def test_orthogonal_penalty_of_a_small_matrix():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # W W^T = [[5, 11], [11, 25]]: 2 * 11^2
    assert orthogonal_penalty([w]).item() == 242.0


def test_orthogonal_penalty_flattens_conv_kernels_and_sums_over_weights():
    torch.manual_seed(0)
    kernel = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    by_hand = _off_diagonal_gram_norm2(kernel.reshape(3, 18).tolist())
    assert orthogonal_penalty([kernel]).item() == pytest.approx(by_hand, rel=1e-12)
    assert orthogonal_penalty([kernel, w]).item() == pytest.approx(by_hand + 242.0, rel=1e-12)


@pytest.mark.parametrize("rows", [[[2.0, 0.0], [0.0, 3.0]], [[3.0, 4.0], [-8.0, 6.0]]])
def test_orthogonal_penalty_is_zero_for_orthogonal_rows_of_any_norm(rows):
    assert orthogonal_penalty([torch.tensor(rows)]).item() == 0.0


# --- AC-GAN's class terms -----------------------------------------------------------------------------------------


def _acgan(seed: int = 0):
    torch.manual_seed(seed)
    v = variants.compose("acgan")
    g = v.generator((1, 32, 32), v.z_dim, width=0.125, n_classes=10)
    d = v.discriminator((1, 32, 32), width=0.125, n_classes=10).eval()  # eval: no dropout, both passes agree
    return v, g, d


def test_acgan_d_loss_adds_class_cross_entropy_on_reals_and_fakes():
    v, g, d = _acgan()
    assert v.recipe.aux_classifier == 1.0
    objective = Objective(v.recipe, g, d, 1000, torch.Generator().manual_seed(0))
    real, fake = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    y_real, y_fake = torch.tensor([0, 3, 9, 3]), torch.tensor([5, 5, 1, 8])
    total, logs = objective.d_loss(d, real, fake, 0, y_real, y_fake)
    with torch.no_grad():
        real_out, real_classes = d.forward_with_classes(real)
        fake_out, fake_classes = d.forward_with_classes(fake)
    adversarial = F.softplus(-real_out).mean() + F.softplus(fake_out).mean()  # NS loss of D
    classes = F.cross_entropy(real_classes, y_real) + F.cross_entropy(fake_classes, y_fake)
    assert total.item() - adversarial.item() == pytest.approx(v.recipe.aux_classifier * classes.item(), rel=1e-5)
    assert logs["class_d"] == pytest.approx(classes.item(), rel=1e-6)
    assert logs["loss_d"] == pytest.approx(adversarial.item(), rel=1e-6)


def test_acgan_g_loss_adds_class_cross_entropy_on_fakes():
    v, g, d = _acgan(seed=1)
    objective = Objective(v.recipe, g, d, 1000, torch.Generator().manual_seed(0))
    z, y = torch.randn(4, v.z_dim), torch.tensor([2, 7, 7, 0])
    total = objective.g_loss(g, d, None, z, lambda: (None, None), lambda: (z, y), 0, y)
    with torch.no_grad():
        fake_out, fake_classes = d.forward_with_classes(g(z, y))
    expected = F.softplus(-fake_out).mean() + v.recipe.aux_classifier * F.cross_entropy(fake_classes, y)
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert F.cross_entropy(fake_classes, y).item() > 1e-3  # the class term is not negligible


# --- labels reach every D call --------------------------------------------------------------------------------------


class RecordingCritic(nn.Module):
    """D(x, y) = <x, w_y>: conditional, differentiable in x, and it records every (x, y) it is called with."""

    def __init__(self, dim: int = 3, n_classes: int = 4) -> None:
        super().__init__()
        self.w = nn.Embedding(n_classes, dim)
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls.append((x.detach().clone(), y.clone()))
        return (x * self.w(y)).sum(dim=1)


REAL = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0], [0.0, -3.0, 1.0], [2.0, 2.0, -2.0]])
FAKE = -REAL + 5.0
Y_REAL, Y_FAKE = torch.tensor([0, 1, 2, 3]), torch.tensor([3, 3, 0, 1])


def _classify_calls(d: RecordingCritic) -> dict[str, list[torch.Tensor]]:
    kinds: dict[str, list[torch.Tensor]] = {"real": [], "fake": [], "other": []}
    for x, y in d.calls:
        kind = "real" if torch.equal(x, REAL) else "fake" if torch.equal(x, FAKE) else "other"
        kinds[kind].append(y)
    return kinds


def test_wgan_gp_penalty_sees_the_real_labels_and_fakes_the_fake_labels():
    d = RecordingCritic()
    recipe = Recipe(loss="wgan-gp", penalty_weight=10.0, n_critic=5)
    _, logs = Objective(recipe, nn.Linear(2, 2), d, 1000, torch.Generator().manual_seed(0)).d_loss(
        d, REAL, FAKE, 0, Y_REAL, Y_FAKE)
    assert "penalty" in logs
    calls = _classify_calls(d)
    assert [len(calls[k]) for k in ("real", "fake", "other")] == [1, 1, 1]  # the interpolates are "other"
    assert torch.equal(calls["real"][0], Y_REAL) and torch.equal(calls["fake"][0], Y_FAKE)
    assert torch.equal(calls["other"][0], Y_REAL)


def test_r1_and_r2_penalties_see_the_labels_of_their_samples():
    d = RecordingCritic()
    recipe = Recipe(loss="ns", r1=1.0, r2=1.0)
    _, logs = Objective(recipe, nn.Linear(2, 2), d, 1000, torch.Generator().manual_seed(0)).d_loss(
        d, REAL, FAKE, 0, Y_REAL, Y_FAKE)
    assert "r1" in logs and "r2" in logs
    calls = _classify_calls(d)
    # non-lazy: each penalty comes from the loss's own pass (one call each), with that pass's labels
    assert len(calls["real"]) == 1 and len(calls["fake"]) == 1 and not calls["other"]
    assert all(torch.equal(y, Y_REAL) for y in calls["real"])
    assert all(torch.equal(y, Y_FAKE) for y in calls["fake"])
    lazy = Objective(replace(recipe, reg_every=4), nn.Linear(2, 2), d, 1000, torch.Generator().manual_seed(0))
    d.calls.clear()
    _, logs = lazy.d_reg_loss(d, REAL, FAKE, 0, Y_REAL, Y_FAKE)  # a lazy step: a pass of its own
    calls = _classify_calls(d)
    assert "r1" in logs and len(calls["real"]) == 1 and len(calls["fake"]) == 1 and not calls["other"]
    assert all(torch.equal(y, Y_REAL) for y in calls["real"]) and all(torch.equal(y, Y_FAKE) for y in calls["fake"])


# --- EMA of G -----------------------------------------------------------------------------------------------------


class WithBuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.register_buffer("stat", torch.zeros(4))


def _perturb(g: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in [*g.parameters(), *g.buffers()]:
            t.copy_(torch.randn(t.shape, generator=gen))


def test_update_ema_copies_g_before_averaging_and_then_follows_the_ema_formula():
    beta = 0.9
    g = WithBuffer()
    ema = AveragedModel(g, multi_avg_fn=get_ema_multi_avg_fn(beta), use_buffers=True)
    _perturb(g, 1)
    update_ema(ema, g, averaging=False)
    for name, value in g.state_dict().items():
        assert torch.equal(ema.module.state_dict()[name], value), name
    _perturb(g, 2)  # a copy, not an alias
    assert not torch.equal(ema.module.linear.weight, g.linear.weight)

    update_ema(ema, g, averaging=True)  # AveragedModel's first update (n_averaged == 0) copies
    for name, value in g.state_dict().items():
        assert torch.equal(ema.module.state_dict()[name], value), name
    before = {k: v.clone() for k, v in ema.module.state_dict().items()}
    _perturb(g, 3)
    update_ema(ema, g, averaging=True)
    for name, value in g.state_dict().items():
        expected = beta * before[name] + (1 - beta) * value
        torch.testing.assert_close(ema.module.state_dict()[name], expected, rtol=1e-6, atol=1e-7, msg=name)
