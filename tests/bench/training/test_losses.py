import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.training.losses import LOSSES, get_loss

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _ce_d(r, f):
    return _mean(-math.log(_sigmoid(x)) for x in r) + _mean(-math.log(1.0 - _sigmoid(x)) for x in f)


def _ns_g(r, f):
    return _mean(-math.log(_sigmoid(x)) for x in f)


NAIVE = {  # name -> (D loss, G loss) of Python lists of logits, straight from each paper's formula
    "mm": (_ce_d, lambda r, f: _mean(math.log(1.0 - _sigmoid(x)) for x in f)),
    "ns": (_ce_d, _ns_g),
    "dragan": (_ce_d, _ns_g),
    "lsgan": (lambda r, f: 0.5 * _mean((x - 1.0) ** 2 for x in r) + 0.5 * _mean(x**2 for x in f),
              lambda r, f: 0.5 * _mean((x - 1.0) ** 2 for x in f)),
    "wgan": (lambda r, f: _mean(f) - _mean(r), lambda r, f: -_mean(f)),
    "wgan-gp": (lambda r, f: _mean(f) - _mean(r), lambda r, f: -_mean(f)),
    "hinge": (lambda r, f: _mean(max(0.0, 1.0 - x) for x in r) + _mean(max(0.0, 1.0 + x) for x in f),
              lambda r, f: -_mean(f)),
    "rpgan": (lambda r, f: _mean(-math.log(_sigmoid(a - b)) for a, b in zip(r, f, strict=True)),
              lambda r, f: _mean(-math.log(_sigmoid(b - a)) for a, b in zip(r, f, strict=True))),
}
SMOOTHABLE = {"mm", "ns", "dragan", "lsgan"}
UNSMOOTHABLE = {"wgan", "wgan-gp", "hinge", "rpgan"}


def _g(name: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    loss = get_loss(name)
    return loss.g_loss(real if loss.needs_real_for_g else None, fake)


def test_non_saturating_values_at_known_logits():
    ns = get_loss("ns")
    zero = torch.zeros(4)
    assert ns.d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert ns.g_loss(None, zero).item() == pytest.approx(math.log(2))
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    expected_d = -math.log(1 / (1 + math.exp(-2.0))) - math.log(1 - 1 / (1 + math.exp(1.0)))
    assert ns.d_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert ns.g_loss(None, fake).item() == pytest.approx(-math.log(1 / (1 + math.exp(1.0))), rel=1e-6)


def test_non_saturating_generator_gradient_does_not_vanish_when_d_is_confident():
    """The point of NS (Goodfellow et al. Sec. 3): strong gradient where D rejects the fakes."""
    fake = torch.tensor([-10.0], requires_grad=True)
    get_loss("ns").g_loss(None, fake).backward()
    assert fake.grad.abs().item() > 0.99
    saturating = torch.tensor([-10.0], requires_grad=True)
    get_loss("mm").g_loss(None, saturating).backward()
    assert saturating.grad.abs().item() < 1e-4


def test_unknown_loss_lists_known_ones():
    with pytest.raises(KeyError, match="known: .*hinge, lsgan, mm, ns, rpgan, wgan, wgan-gp"):
        get_loss("nope")


def test_registry_holds_exactly_the_eight_losses():
    assert set(LOSSES) == set(NAIVE)


def test_values_at_hand_computed_logits():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.25])
    assert get_loss("hinge").d_loss(real, fake).item() == pytest.approx(0.25 + 0.625)
    assert get_loss("hinge").g_loss(None, fake).item() == pytest.approx(0.875)
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    assert get_loss("lsgan").d_loss(real, fake).item() == pytest.approx(1.0 + 1.0)
    assert get_loss("lsgan").g_loss(None, fake).item() == pytest.approx(0.5)
    assert get_loss("wgan").d_loss(real, fake).item() == pytest.approx(-1.0)
    assert get_loss("wgan-gp").g_loss(None, fake).item() == pytest.approx(-1.0)
    zero = torch.zeros(3)
    assert get_loss("mm").d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert get_loss("mm").g_loss(None, zero).item() == pytest.approx(-math.log(2))
    assert get_loss("rpgan").d_loss(zero, zero).item() == pytest.approx(math.log(2))
    assert get_loss("rpgan").g_loss(zero, zero).item() == pytest.approx(math.log(2))


def test_rpgan_pairs_real_and_fake_elementwise():
    """softplus(f_i - r_i) averaged over pairs differs from any unpaired average: swap the order of the fakes."""
    real, fake = torch.tensor([3.0, -3.0]), torch.tensor([-3.0, 3.0])
    rp = get_loss("rpgan")
    assert rp.d_loss(real, fake).item() == pytest.approx(0.5 * (math.log1p(math.exp(-6)) + math.log1p(math.exp(6))))
    assert rp.d_loss(real, fake.flip(0)).item() == pytest.approx(math.log(2))
    assert rp.g_loss(real, fake).item() == pytest.approx(0.5 * (math.log1p(math.exp(6)) + math.log1p(math.exp(-6))))


@pytest.mark.parametrize("name", sorted(NAIVE))
@FAST
@given(pairs=st.lists(st.tuples(st.floats(-15, 15), st.floats(-15, 15)), min_size=1, max_size=6))
def test_losses_match_the_paper_formulas(name, pairs):
    r, f = [a for a, _ in pairs], [b for _, b in pairs]
    real, fake = torch.tensor(r, dtype=torch.float64), torch.tensor(f, dtype=torch.float64)
    naive_d, naive_g = NAIVE[name]
    assert get_loss(name).d_loss(real, fake).item() == pytest.approx(naive_d(r, f), rel=1e-9, abs=1e-12)
    assert _g(name, real, fake).item() == pytest.approx(naive_g(r, f), rel=1e-9, abs=1e-12)


def test_rpgan_generator_loss_needs_the_reals():
    assert get_loss("rpgan").needs_real_for_g
    assert not any(get_loss(n).needs_real_for_g for n in NAIVE if n != "rpgan")
    with pytest.raises(ValueError, match="real"):
        get_loss("rpgan").g_loss(None, torch.zeros(3))


def test_dragan_is_the_non_saturating_loss_with_a_penalty():
    real, fake = torch.tensor([0.7, -1.2, 2.5]), torch.tensor([-0.3, 1.1, 0.0])
    dragan, ns = get_loss("dragan"), get_loss("ns")
    assert dragan.d_loss(real, fake).item() == pytest.approx(ns.d_loss(real, fake).item(), rel=1e-12)
    assert dragan.g_loss(None, fake).item() == pytest.approx(ns.g_loss(None, fake).item(), rel=1e-12)
    assert (dragan.penalty, get_loss("wgan-gp").penalty) == ("dragan", "wgan-gp")
    assert all(get_loss(n).penalty is None for n in NAIVE if n not in {"dragan", "wgan-gp"})
    assert get_loss("wgan").clip and not any(get_loss(n).clip for n in NAIVE if n != "wgan")


@pytest.mark.parametrize("name", ["mm", "ns", "dragan"])
@FAST
@given(t=st.floats(0.5, 1.0), pairs=st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=1,
                                              max_size=5))
def test_one_sided_label_smoothing_is_cross_entropy_against_the_real_target(name, t, pairs):
    real = torch.tensor([a for a, _ in pairs], dtype=torch.float64)
    fake = torch.tensor([b for _, b in pairs], dtype=torch.float64)
    expected = (F.binary_cross_entropy_with_logits(real, torch.full_like(real, t))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    assert get_loss(name).d_loss(real, fake, real_label=t).item() == pytest.approx(expected.item(), rel=1e-9)


def test_lsgan_smoothing_moves_only_the_real_target():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.5, -0.5])
    expected = 0.5 * ((0.1**2 + 0.9**2) / 2) + 0.5 * 0.25
    assert get_loss("lsgan").d_loss(real, fake, real_label=0.9).item() == pytest.approx(expected, rel=1e-6)


def test_smoothable_flags_match_losses_with_a_real_target():
    assert {n for n in NAIVE if get_loss(n).smoothable} == SMOOTHABLE


@pytest.mark.parametrize("name", sorted(UNSMOOTHABLE))
def test_losses_without_a_real_target_refuse_label_smoothing(name):
    x = torch.zeros(2)
    with pytest.raises(ValueError, match="label smoothing"):
        get_loss(name).d_loss(x, x, real_label=0.9)
    assert get_loss(name).d_loss(x, x, real_label=1.0).isfinite()


def _counts_to_batches(counts):
    """Point k appears n_r(k) times among the reals and n_g(k) times among the fakes."""
    real_idx = torch.tensor([k for k, (n_r, _) in enumerate(counts) for _ in range(n_r)])
    fake_idx = torch.tensor([k for k, (_, n_g) in enumerate(counts) for _ in range(n_g)])
    p_r = [n_r / sum(c[0] for c in counts) for n_r, _ in counts]
    p_g = [n_g / sum(c[1] for c in counts) for _, n_g in counts]
    return real_idx, fake_idx, p_r, p_g


@pytest.mark.parametrize("name", ["mm", "ns", "lsgan"])
@FAST
@given(counts=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6)), min_size=1, max_size=4),
       t=st.sampled_from([1.0, 0.9, 0.7]))
def test_optimal_discriminator_is_the_smoothed_density_ratio(name, counts, t):
    """Goodfellow et al. Prop. 1, with one-sided smoothing as in Salimans et al. Sec. 3.4, and Mao et al. Thm. 1
    with b = t, a = 0: D*(x) = t p_r / (p_r + p_g) (a probability for the cross entropy, the raw output for
    LSGAN) zeroes the gradient of D's loss w.r.t. every output, over a table of outputs on a finite support."""
    real_idx, fake_idx, p_r, p_g = _counts_to_batches(counts)
    d_star = [t * a / (a + b) for a, b in zip(p_r, p_g, strict=True)]
    outputs = d_star if name == "lsgan" else [math.log(d / (1.0 - d)) for d in d_star]
    table = torch.tensor(outputs, dtype=torch.float64, requires_grad=True)
    loss = get_loss(name).d_loss(table[real_idx], table[fake_idx], real_label=t)
    (grad,) = torch.autograd.grad(loss, table)
    assert grad.abs().max().item() < 1e-12
    with torch.no_grad():
        for k in range(len(outputs)):
            for step in (-1e-2, 1e-2):
                moved = table.clone()
                moved[k] += step
                assert get_loss(name).d_loss(moved[real_idx], moved[fake_idx], real_label=t) > loss


def test_optimal_discriminator_found_numerically_is_log_density_ratio():
    """Two support points with p_r = (0.8, 0.2), p_g = (0.3, 0.7): Newton's method on D's loss over the two
    logits lands on log(p_r / p_g)."""
    real_idx, fake_idx, _, _ = _counts_to_batches([(8, 3), (2, 7)])

    def loss(table):
        return get_loss("ns").d_loss(table[real_idx], table[fake_idx])

    table = torch.zeros(2, dtype=torch.float64)
    for _ in range(30):
        grad = torch.autograd.functional.jacobian(loss, table)
        table = table - torch.linalg.solve(torch.autograd.functional.hessian(loss, table), grad)
    assert table.tolist() == pytest.approx([math.log(0.8 / 0.3), math.log(0.2 / 0.7)], abs=1e-10)


def test_paper_defaults():
    """Gulrajani et al. Alg. 1: lambda 10, n_critic 5, Adam lr 1e-4, betas (0, 0.9); Arjovsky et al. Alg. 1:
    c 0.01, n_critic 5, lr 5e-5; Kodali et al.: lambda 10."""
    gp = get_loss("wgan-gp").defaults
    assert (gp["penalty_weight"], gp["n_critic"], gp["lr_d"], gp["betas"]) == (10.0, 5, 1e-4, (0.0, 0.9))
    w = get_loss("wgan").defaults
    assert (w["clip"], w["n_critic"], w["lr_d"], w["lr_g"]) == (0.01, 5, 5e-5, 5e-5)
    assert get_loss("dragan").defaults["penalty_weight"] == 10.0
