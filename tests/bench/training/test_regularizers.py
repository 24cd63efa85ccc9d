import copy
import statistics

import numpy as np
import pytest
import torch
import torch._dynamo  # noqa: F401  (the first torch.optim constructor imports it: pay that at collection)
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.training import regularizers as reg
from bench.training.losses import get_loss

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)
WEIGHTS = st.lists(st.floats(-3, 3), min_size=1, max_size=5)


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=_rng(seed), dtype=torch.float64)


def _linear_critic(w: torch.Tensor):
    return lambda x: x.flatten(1) @ w


def _half_square_critic(x: torch.Tensor) -> torch.Tensor:
    """D(x) = |x|^2 / 2, whose input gradient is x itself."""
    return 0.5 * x.flatten(1).pow(2).sum(dim=1)


class Quadratic(nn.Module):
    """D(x) = x^T A x / 2 + b.x with A symmetric: grad D(x) = A x + b."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.a, self.b = nn.Parameter((a + a.T) / 2), nn.Parameter(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((x @ self.a) * x).sum(dim=1) + x @ self.b


# --- gradient penalties -------------------------------------------------------------------------------------------


@FAST
@given(w=WEIGHTS, seed=st.integers(0, 2**16))
def test_wgan_gp_of_a_linear_critic_is_norm_minus_one_squared(w, seed):
    w = torch.tensor(w, dtype=torch.float64)
    real, fake = _randn(6, len(w), seed=seed), _randn(6, len(w), seed=seed + 1) * 3
    penalty = reg.wgan_gp_penalty(_linear_critic(w), real, fake, _rng(seed))
    assert penalty.item() == pytest.approx((w.norm().item() - 1.0) ** 2, rel=1e-9, abs=1e-12)
    assert 10 * penalty.item() == pytest.approx(10 * (w.norm().item() - 1.0) ** 2, rel=1e-9, abs=1e-12)


def test_wgan_gp_on_images_with_a_linear_critic_on_the_flattened_input():
    w = _randn(3 * 5 * 4, seed=7) * 0.2
    real, fake = _randn(4, 3, 5, 4, seed=1), _randn(4, 3, 5, 4, seed=2)
    penalty = reg.wgan_gp_penalty(_linear_critic(w), real, fake, _rng())
    assert penalty.item() == pytest.approx((w.norm().item() - 1.0) ** 2, rel=1e-9)


def test_wgan_gp_is_taken_at_per_sample_interpolates():
    """x_hat = e x + (1 - e) x~ with one e ~ U[0, 1] per sample (Gulrajani et al. Alg. 1), replayed from the
    same generator; with D = |x|^2 / 2 the gradient at x_hat is x_hat."""
    real, fake = _randn(5, 2, 3, seed=1), _randn(5, 2, 3, seed=2)
    eps = torch.rand((5, 1, 1), generator=_rng(3)).double()
    x_hat = (eps * real + (1 - eps) * fake).flatten(1)
    expected = statistics.fmean((row.norm().item() - 1.0) ** 2 for row in x_hat)
    assert reg.wgan_gp_penalty(_half_square_critic, real, fake, _rng(3)).item() == pytest.approx(expected, rel=1e-9)


def test_wgan_gp_trains_the_critic_and_leaves_the_samples_alone():
    """d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|; the samples (G's output) get no gradient from the penalty."""
    w = torch.tensor([0.3, -2.0, 1.5], dtype=torch.float64, requires_grad=True)
    real, fake = _randn(4, 3, seed=1), _randn(4, 3, seed=2).requires_grad_(True)
    reg.wgan_gp_penalty(_linear_critic(w), real, fake, _rng()).backward()
    n = w.detach().norm()
    torch.testing.assert_close(w.grad, 2 * (n - 1) * w.detach() / n)
    assert fake.grad is None


@FAST
@given(w=WEIGHTS, seed=st.integers(0, 2**16))
def test_dragan_of_a_linear_critic_is_norm_minus_one_squared(w, seed):
    w = torch.tensor(w, dtype=torch.float64)
    penalty = reg.dragan_penalty(_linear_critic(w), _randn(6, len(w), seed=seed), _rng(seed))
    assert penalty.item() == pytest.approx((w.norm().item() - 1.0) ** 2, rel=1e-9, abs=1e-12)


def test_dragan_is_taken_around_reals_perturbed_by_half_their_std():
    """Kodali et al.'s code: x_p = x + 0.5 std(x) u (numpy's population std), u ~ U[0,1] elementwise, then
    x + a (x_p - x), a ~ U[0,1] per sample, replayed from the same generator; with D = |x|^2 / 2 the gradient
    there is the point itself."""
    real = _randn(5, 3, seed=4) * 2 + 1
    rng = _rng(9)
    u = torch.rand((5, 3), generator=rng).double()
    a = torch.rand((5, 1), generator=rng).double()
    x_hat = real + a * (0.5 * float(np.std(real.numpy())) * u)
    expected = statistics.fmean((row.norm().item() - 1.0) ** 2 for row in x_hat)
    assert reg.dragan_penalty(_half_square_critic, real, _rng(9)).item() == pytest.approx(expected, rel=1e-9)


def test_dragan_draws_are_reproducible_from_the_generator():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    real = _randn(6, 3, seed=1)
    first = reg.dragan_penalty(lambda x: critic(x).flatten(), real, _rng(5)).item()
    again = reg.dragan_penalty(lambda x: critic(x).flatten(), real, _rng(5)).item()
    other = reg.dragan_penalty(lambda x: critic(x).flatten(), real, _rng(6)).item()
    assert first == again and first != other


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(1, 6), k=st.integers(1, 4))
def test_r1_of_a_quadratic_critic_is_the_mean_squared_gradient(seed, n, k):
    a, b, x = _randn(k, k, seed=seed), _randn(k, seed=seed + 1), _randn(n, k, seed=seed + 2)
    d = Quadratic(a, b)
    sym = (a + a.T) / 2
    expected = statistics.fmean(sum(v * v for v in (sym @ row + b).tolist()) for row in x)
    assert reg.zero_centered_penalty(d, x).item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_r1_trains_the_critic():
    """For D(x) = w.x, E|grad|^2 = |w|^2, whose gradient is 2 w."""
    w = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    reg.zero_centered_penalty(_linear_critic(w), _randn(3, 2)).backward()
    torch.testing.assert_close(w.grad, 2 * w.detach())


# --- clipping, lazy regularization ----------------------------------------------------------------


def test_clip_weights_clamps_every_parameter():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(100.0)
    before = [p.detach().clone() for p in module.parameters()]
    reg.clip_weights(module, 0.05)
    for old, p in zip(before, module.parameters(), strict=True):
        assert torch.equal(p.detach(), torch.where(old > 0.05, 0.05, torch.where(old < -0.05, -0.05, old)))


@FAST
@given(w=st.floats(0.0, 100.0), every=st.integers(1, 20), start=st.integers(0, 1000))
def test_lazy_weight_averages_to_the_eager_weight_over_any_window(w, every, start):
    steps = range(start, start + every)
    weights = {s: reg.lazy_weight(w, every, s) for s in steps}
    assert statistics.fmean(weights.values()) == pytest.approx(w, rel=1e-12, abs=1e-12)
    assert all(weights[s] == (w * every if s % every == 0 else 0.0) for s in steps)


def test_lazy_weight_fires_on_multiples_of_the_interval_with_the_weight_times_the_interval():
    assert [reg.lazy_weight(10.0, 4, s) for s in range(9)] == [40.0, 0, 0, 0, 40.0, 0, 0, 0, 40.0]
    assert [reg.lazy_weight(10.0, 1, s) for s in range(3)] == [10.0] * 3


# --- unrolled D ---------------------------------------------------------------------------------------------------


def _adam_copy(d: nn.Module, opt: torch.optim.Adam) -> tuple[nn.Module, torch.optim.Adam]:
    d2 = copy.deepcopy(d)
    group = opt.param_groups[0]
    opt2 = torch.optim.Adam(d2.parameters(), lr=group["lr"], betas=group["betas"], eps=group["eps"])
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    return d2, opt2


def _mlp_critic(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1), nn.Flatten(0)).double()


def _ns_step_loss(batches):
    return lambda critic, i: get_loss("ns").d_loss(critic(batches[i][0]), critic(batches[i][1]))


def _warm_adam(d: nn.Module, steps: int = 2, lr: float = 0.05) -> torch.optim.Adam:
    opt = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.9))
    for i in range(steps):
        opt.zero_grad()
        get_loss("ns").d_loss(d(_randn(5, 2, seed=100 + i)), d(_randn(5, 2, seed=200 + i))).backward()
        opt.step()
    return opt


def test_unrolled_critic_leaves_d_and_its_optimizer_untouched():
    d = _mlp_critic()
    opt = _warm_adam(d)
    opt.zero_grad(set_to_none=True)
    params = {n: p.detach().clone() for n, p in d.named_parameters()}
    state = copy.deepcopy(opt.state_dict())
    batches = [(_randn(5, 2, seed=i), _randn(5, 2, seed=10 + i)) for i in range(3)]
    critic = reg.unrolled_critic(d, opt, 3, _ns_step_loss(batches))
    fake = _randn(5, 2, seed=50).requires_grad_(True)
    get_loss("ns").g_loss(None, critic(fake)).backward()
    assert fake.grad is not None
    for n, p in d.named_parameters():
        assert torch.equal(p.detach(), params[n]) and p.grad is None
    after = opt.state_dict()
    for key, saved in state["state"].items():
        for field in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(after["state"][key][field], saved[field])
    assert after["param_groups"] == state["param_groups"]


def test_unrolled_critic_with_no_steps_is_d():
    d = _mlp_critic()
    x = _randn(7, 2, seed=3)
    critic = reg.unrolled_critic(d, _warm_adam(d), 0, _ns_step_loss([]))
    assert torch.equal(critic(x), d(x))


def test_one_unrolled_step_from_fresh_adam_is_a_sign_step():
    """From fresh moments Adam's first step is p - lr g / (|g| + eps). For the WGAN loss of D(x) = w.x + b,
    g_w = mean(fake) - mean(real) and g_b = 0."""
    d = nn.Linear(3, 1).double()
    with torch.no_grad():
        d.weight.copy_(torch.tensor([[0.2, -0.4, 0.1]], dtype=torch.float64))
        d.bias.fill_(0.3)
    opt = torch.optim.Adam(d.parameters(), lr=0.01, betas=(0.5, 0.999), eps=1e-8)
    real, fake = _randn(8, 3, seed=1), _randn(8, 3, seed=2)
    critic = reg.unrolled_critic(d, opt, 1, lambda c, i: get_loss("wgan").d_loss(c(real), c(fake)))
    g_w = fake.mean(0) - real.mean(0)
    w1 = torch.tensor([0.2, -0.4, 0.1], dtype=torch.float64) - 0.01 * g_w / (g_w.abs() + 1e-8)
    x = _randn(4, 3, seed=3)
    torch.testing.assert_close(critic(x), x @ w1.unsqueeze(1) + 0.3, rtol=1e-12, atol=1e-12)


def test_unrolled_steps_match_torch_adam_from_a_warm_state():
    d = _mlp_critic()
    opt = _warm_adam(d)
    batches = [(_randn(5, 2, seed=i), _randn(5, 2, seed=10 + i)) for i in range(3)]
    critic = reg.unrolled_critic(d, opt, 3, _ns_step_loss(batches), second_order=False)
    d2, opt2 = _adam_copy(d, opt)
    for real, fake in batches:
        opt2.zero_grad()
        get_loss("ns").d_loss(d2(real), d2(fake)).backward()
        opt2.step()
    x = _randn(9, 2, seed=77)
    torch.testing.assert_close(critic(x), d2(x), rtol=1e-10, atol=1e-12)


def _unrolled_g_loss(theta: torch.Tensor, second_order: bool) -> torch.Tensor:
    """1-D toy: G(z) = z + theta, D(x) = w x + b after two unrolled Adam steps on the NS loss."""
    d = nn.Linear(1, 1).double()
    with torch.no_grad():
        d.weight.fill_(0.7)
        d.bias.fill_(-0.2)
    opt = torch.optim.Adam(d.parameters(), lr=0.1, betas=(0.5, 0.9))
    opt.zero_grad()
    get_loss("ns").d_loss(d(torch.ones(3, 1, dtype=torch.float64)), d(-torch.ones(3, 1, dtype=torch.float64))
                          ).backward()
    opt.step()
    z, real = torch.linspace(-1, 1, 4, dtype=torch.float64).unsqueeze(1), torch.full((4, 1), 0.5, dtype=torch.float64)

    def step_loss(critic, i):
        return get_loss("ns").d_loss(critic(real).flatten(), critic(z + theta).flatten())

    critic = reg.unrolled_critic(d, opt, 2, step_loss, second_order=second_order)
    return get_loss("ns").g_loss(None, critic(z + theta).flatten())


def test_second_order_unrolling_matches_finite_differences_and_first_order_does_not():
    theta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    (second,) = torch.autograd.grad(_unrolled_g_loss(theta, True), theta)
    (first,) = torch.autograd.grad(_unrolled_g_loss(theta, False), theta)
    h = 1e-5
    plus = _unrolled_g_loss(torch.tensor(0.3 + h, dtype=torch.float64), True).item()
    minus = _unrolled_g_loss(torch.tensor(0.3 - h, dtype=torch.float64), True).item()
    finite = (plus - minus) / (2 * h)
    assert second.item() == pytest.approx(finite, rel=1e-6)
    assert abs(first.item() - finite) > 1e-2 * abs(finite)


# --- historical averaging, instance noise, feature matching -------------------------------------------------------


def _set(module: nn.Module, values: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, v in zip(module.parameters(), values, strict=True):
            p.copy_(v)


def test_historical_average_is_the_distance_to_the_mean_of_past_parameters():
    torch.manual_seed(0)
    module = nn.Linear(3, 2).double()
    history = reg.HistoricalAverage(module)
    assert history.penalty(module).item() == 0.0
    snapshots = [[torch.randn(p.shape, dtype=torch.float64) for p in module.parameters()] for _ in range(3)]
    for values in snapshots:
        _set(module, values)
        history.update(module)
    current = [torch.randn(p.shape, dtype=torch.float64) for p in module.parameters()]
    _set(module, current)
    expected = 0.0
    for k, value in enumerate(current):
        mean = [sum(s[k].flatten()[e].item() for s in snapshots) / 3 for e in range(value.numel())]
        expected += sum((v - mu) ** 2 for v, mu in zip(value.flatten().tolist(), mean, strict=True))
    penalty = history.penalty(module)
    assert penalty.item() == pytest.approx(expected, rel=1e-10)
    penalty.backward()
    assert module.weight.grad.abs().sum().item() > 0


def test_historical_average_state_dict_round_trip():
    torch.manual_seed(0)
    module = nn.Linear(2, 2).double()
    history = reg.HistoricalAverage(module)
    for scale in (1.0, 2.0):
        _set(module, [p.detach() * scale for p in module.parameters()])
        history.update(module)
    state = history.state_dict()
    restored = reg.HistoricalAverage(module)
    restored.load_state_dict(state)
    assert restored.count == 2 and restored.penalty(module).item() == history.penalty(module).item()
    history.update(module)
    assert state["count"] == 2 and restored.penalty(module).item() != history.penalty(module).item()
    restored.update(module)
    assert restored.penalty(module).item() == pytest.approx(history.penalty(module).item(), rel=1e-12)


@pytest.mark.parametrize(("images", "expected"), [(0, 0.2), (250, 0.15), (500, 0.1), (999, 0.2 * 0.001),
                                                  (1000, 0.0), (5000, 0.0)])
def test_instance_noise_anneals_linearly_to_zero_at_the_budget(images, expected):
    assert reg.instance_noise_sigma(0.2, images, 1000) == pytest.approx(expected, abs=1e-15)


def test_feature_matching_is_squared_distance_of_feature_means_without_gradient_into_reals():
    real = torch.tensor([[1.0, 2.0], [3.0, 0.0]], dtype=torch.float64, requires_grad=True)
    fake = torch.tensor([[0.0, 1.0], [0.0, 3.0], [3.0, -1.0]], dtype=torch.float64, requires_grad=True)
    loss = reg.feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx((2.0 - 1.0) ** 2 + (1.0 - 1.0) ** 2)
    loss.backward()
    assert real.grad is None
    torch.testing.assert_close(fake.grad, torch.tensor([[-2.0 / 3, 0.0]] * 3, dtype=torch.float64))
