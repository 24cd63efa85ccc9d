import copy
import math
from dataclasses import replace

import pytest
import torch
import torch._dynamo  # noqa: F401  (the first torch.optim constructor imports it: pay that at collection)
import torch.nn as nn
import torch.nn.functional as F

from bench.protocol import variants
from bench.training.losses import get_loss
from bench.training.objective import Objective
from models.base import FeatureDiscriminator
from models.mlp_gan import MLPDiscriminator
from models.registry import Recipe, RegistryError

W = [0.6, -1.3, 0.4]


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class LinearD(FeatureDiscriminator):
    """D(x) = w.x + b: identity features and a linear head."""

    def __init__(self, w=W, b: float = 0.25) -> None:
        super().__init__()
        self.trunk = nn.Identity()
        self.head = nn.Linear(len(w), 1).double()
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([w], dtype=torch.float64))
            self.head.bias.fill_(b)


class Quadratic(nn.Module):
    """D(x) = x^T A x / 2 + b.x with A symmetric: grad D(x) = A x + b."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        a = _randn(3, 3, seed=seed)
        self.a, self.b = nn.Parameter((a + a.T) / 2), nn.Parameter(_randn(3, seed=seed + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((x @ self.a) * x).sum(dim=1) + x @ self.b

    def mean_squared_gradient(self, x: torch.Tensor) -> float:
        a, b = self.a.detach().tolist(), self.b.detach().tolist()
        total = 0.0
        for row in x.tolist():
            grad = [sum(a[i][j] * row[j] for j in range(3)) + b[i] for i in range(3)]
            total += sum(g * g for g in grad)
        return total / x.shape[0]


def _objective(d: nn.Module, budget: int = 1000, seed: int = 0, **recipe) -> Objective:
    return Objective(Recipe(**recipe), nn.Linear(2, 3).double(), d, budget, torch.Generator().manual_seed(seed))


def _ns(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    return (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).item()


REAL, FAKE = _randn(6, 3, seed=1), _randn(6, 3, seed=2) + 1


# --- D's loss -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.5, 10.0])
def test_r1_adds_half_gamma_times_the_mean_squared_gradient_on_reals(gamma):
    d = Quadratic()
    total, logs = _objective(d, r1=gamma).d_loss(d, REAL, FAKE, 0)
    with torch.no_grad():
        adversarial = _ns(d(REAL), d(FAKE))
    assert total.item() - adversarial == pytest.approx(gamma / 2 * d.mean_squared_gradient(REAL), rel=1e-9)
    assert logs["r1"] == pytest.approx(d.mean_squared_gradient(REAL), rel=1e-9) and "r2" not in logs


def test_r2_is_the_same_penalty_on_fakes():
    d = Quadratic()
    total, logs = _objective(d, r2=4.0).d_loss(d, REAL, FAKE, 0)
    with torch.no_grad():
        adversarial = _ns(d(REAL), d(FAKE))
    assert total.item() - adversarial == pytest.approx(2.0 * d.mean_squared_gradient(FAKE), rel=1e-9)
    assert "r1" not in logs


def test_eager_r1_and_r2_come_from_the_losss_own_pass_with_the_analytic_gradient():
    """Non-lazy R1/R2 take dD/dx from the D pass of the loss (as brownvc/R3GAN does): D runs once on the reals
    and once on the fakes, and dL/db matches the closed form for D(x) = x^T A x / 2 + b.x."""
    d, calls = Quadratic(), []
    d.register_forward_hook(lambda *_: calls.append(1))
    total, logs = _objective(d, r1=2.0, r2=4.0).d_loss(d, REAL, FAKE, 0)
    assert len(calls) == 2
    total.backward()
    a, b = d.a.detach(), d.b.detach()
    with torch.no_grad():
        def value(x):
            return 0.5 * ((x @ a) * x).sum(dim=1) + x @ b

        adversarial = ((-torch.sigmoid(-value(REAL)))[:, None] * REAL).mean(0) \
            + (torch.sigmoid(value(FAKE))[:, None] * FAKE).mean(0)
        # d/db of mean ||A x + b||^2 is mean 2 (A x + b); each penalty weighs gamma / 2
        penalties = 0.5 * 2.0 * 2 * (REAL @ a + b).mean(0) + 0.5 * 4.0 * 2 * (FAKE @ a + b).mean(0)
    assert d.b.grad.tolist() == pytest.approx((adversarial + penalties).tolist(), rel=1e-9)
    assert logs["r1"] == pytest.approx(d.mean_squared_gradient(REAL), rel=1e-9)
    assert logs["r2"] == pytest.approx(d.mean_squared_gradient(FAKE), rel=1e-9)


def test_lazy_r1_is_its_own_step_every_nth_d_step_with_weight_times_n():
    """NVlabs' Dmain/Dreg phases: the main loss never holds R1; every reg_every-th D step (the first included) is
    followed by an R1 step weighted gamma / 2 x reg_every."""
    d = Quadratic()
    objective = _objective(d, r1=2.0, reg_every=3)
    with torch.no_grad():
        adversarial = _ns(d(REAL), d(FAKE))
    due, reg = [], []
    for _ in range(7):
        total, logs = objective.d_loss(d, REAL, FAKE, 0)
        assert total.item() == pytest.approx(adversarial, rel=1e-12) and "r1" not in logs
        due.append(objective.d_reg_due)
        if due[-1]:
            loss, reg_logs = objective.d_reg_loss(d, REAL, FAKE, 0)
            reg.append(loss.item())
            assert reg_logs["r1"] == pytest.approx(d.mean_squared_gradient(REAL), rel=1e-9)
        objective.after_d_step(d)
    assert due == [True, False, False, True, False, False, True]
    r1 = 0.5 * 2.0 * 3 * d.mean_squared_gradient(REAL)
    assert reg == pytest.approx([r1] * 3, rel=1e-9)
    assert r1 / 3 == pytest.approx(0.5 * 2.0 * d.mean_squared_gradient(REAL), rel=1e-9)  # per step: the eager weight


def test_eager_r1_is_part_of_the_main_loss():
    d = Quadratic()
    objective = _objective(d, r1=2.0)
    with torch.no_grad():
        adversarial = _ns(d(REAL), d(FAKE))
    total, logs = objective.d_loss(d, REAL, FAKE, 0)
    assert total.item() - adversarial == pytest.approx(0.5 * 2.0 * d.mean_squared_gradient(REAL), rel=1e-9)
    assert not objective.d_reg_due and "r1" in logs


def test_wgan_gp_objective_adds_lambda_times_norm_minus_one_squared():
    d = LinearD()
    total, logs = _objective(d, loss="wgan-gp", penalty_weight=10.0).d_loss(d, REAL, FAKE, 0)
    mean_f = sum(sum(a * b for a, b in zip(W, row, strict=True)) for row in FAKE.tolist()) / 6
    mean_r = sum(sum(a * b for a, b in zip(W, row, strict=True)) for row in REAL.tolist()) / 6
    penalty = (math.sqrt(sum(v * v for v in W)) - 1.0) ** 2
    assert total.item() == pytest.approx(mean_f - mean_r + 10.0 * penalty, rel=1e-9)
    assert logs["penalty"] == pytest.approx(penalty, rel=1e-9)


def test_dragan_objective_adds_lambda_times_norm_minus_one_squared():
    d = LinearD()
    total, _ = _objective(d, loss="dragan", penalty_weight=10.0).d_loss(d, REAL, FAKE, 0)
    with torch.no_grad():
        adversarial = _ns(d(REAL), d(FAKE))
    penalty = (math.sqrt(sum(v * v for v in W)) - 1.0) ** 2
    assert total.item() == pytest.approx(adversarial + 10.0 * penalty, rel=1e-9)


def test_label_smoothing_targets_one_minus_the_smoothing_on_reals_only():
    d = LinearD()
    total, _ = _objective(d, label_smoothing=0.1).d_loss(d, REAL, FAKE, 0)
    with torch.no_grad():
        r, f = d(REAL), d(FAKE)
    expected = (F.binary_cross_entropy_with_logits(r, torch.full_like(r, 0.9))
                + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
    assert total.item() == pytest.approx(expected.item(), rel=1e-9)


def test_instance_noise_has_the_annealed_std_and_vanishes_at_the_budget():
    d = LinearD()
    objective = _objective(d, budget=1000, seed=3, instance_noise=0.2)
    replay = torch.Generator().manual_seed(3)
    noise_r = torch.randn(REAL.shape, generator=replay).double()
    noise_f = torch.randn(FAKE.shape, generator=replay).double()
    total, _ = objective.d_loss(d, REAL, FAKE, 500)
    with torch.no_grad():
        expected = _ns(d(REAL + 0.1 * noise_r), d(FAKE + 0.1 * noise_f))
        clean = _ns(d(REAL), d(FAKE))
    assert total.item() == pytest.approx(expected, rel=1e-9) and expected != pytest.approx(clean)
    state = objective.rng.get_state()
    assert objective.d_loss(d, REAL, FAKE, 1000)[0].item() == pytest.approx(clean, rel=1e-12)
    assert torch.equal(objective.rng.get_state(), state)


def test_historical_averaging_penalises_distance_to_past_d_parameters():
    d = LinearD()
    objective = _objective(d, historical_averaging=0.5)
    with torch.no_grad():
        adversarial = _ns(d(REAL), d(FAKE))
    assert objective.d_loss(d, REAL, FAKE, 0)[0].item() == pytest.approx(adversarial, rel=1e-12)
    objective.after_d_step(d)
    with torch.no_grad():
        d.head.weight.add_(torch.tensor([[0.1, 0.2, -0.2]], dtype=torch.float64))
        d.head.bias.add_(0.3)
        adversarial = _ns(d(REAL), d(FAKE))
    total = objective.d_loss(d, REAL, FAKE, 0)[0].item()
    assert total - adversarial == pytest.approx(0.5 * (0.01 + 0.04 + 0.04 + 0.09), rel=1e-9)


def test_wgan_clipping_after_each_d_step():
    torch.manual_seed(0)
    d = MLPDiscriminator((2,), width=0.05)
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(50.0)
    assert max(p.abs().max().item() for p in d.parameters()) > 0.5
    objective = _objective(d, loss="wgan", clip=0.01)
    objective.after_d_step(d)
    assert objective.d_steps == 1
    for p in d.parameters():
        assert p.min().item() >= -0.01 and p.max().item() <= 0.01
    assert max(p.abs().max().item() for p in d.parameters()) == pytest.approx(0.01)


# --- G's loss -----------------------------------------------------------------------------------------------------


def _g(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(2, 3).double()


def test_rpgan_generator_loss_pairs_fresh_reals_with_fakes():
    d, g, z = LinearD(), _g(), _randn(6, 2, seed=4)
    objective = _objective(d, loss="rpgan")
    assert objective.needs_real_for_g
    loss = objective.g_loss(g, d, None, z, lambda: (REAL, None), lambda: (z, None), 0)
    with torch.no_grad():
        gap = d(REAL) - d(g(z))
    assert loss.item() == pytest.approx(sum(math.log1p(math.exp(v)) for v in gap.tolist()) / 6, rel=1e-9)


def test_feature_matching_generator_loss_matches_mean_features():
    torch.manual_seed(1)
    d, g, z = MLPDiscriminator((3,), width=0.05).double(), _g(), _randn(6, 2, seed=4)
    objective = _objective(d, feature_matching=True)
    loss = objective.g_loss(g, d, None, z, lambda: (REAL, None), lambda: (z, None), 0)
    with torch.no_grad():
        gap = d.features(REAL).mean(0) - d.features(g(z)).mean(0)
    assert loss.item() == pytest.approx(sum(v * v for v in gap.tolist()), rel=1e-9)
    loss.backward()
    assert g.weight.grad.abs().sum().item() > 0


def test_unrolled_generator_loss_goes_through_d_after_real_adam_steps_and_leaves_d_alone():
    torch.manual_seed(2)
    d = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1), nn.Flatten(0)).double()
    g, z, z_next = _g(), _randn(6, 2, seed=4), _randn(6, 2, seed=5)
    opt = torch.optim.Adam(d.parameters(), lr=0.05, betas=(0.5, 0.999))
    opt.zero_grad()
    get_loss("ns").d_loss(d(REAL), d(FAKE)).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    params, state = copy.deepcopy(d.state_dict()), copy.deepcopy(opt.state_dict())

    loss = _objective(d, unrolled_steps=2).g_loss(g, d, opt, z, lambda: (REAL, None), lambda: (z_next, None), 0)

    d2 = copy.deepcopy(d)
    opt2 = torch.optim.Adam(d2.parameters(), lr=0.05, betas=(0.5, 0.999))
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(2):
        opt2.zero_grad()
        with torch.no_grad():
            fake = g(z_next)
        get_loss("ns").d_loss(d2(REAL), d2(fake)).backward()
        opt2.step()
    with torch.no_grad():
        expected = F.softplus(-d2(g(z))).mean().item()
        before = F.softplus(-d(g(z))).mean().item()
    assert loss.item() == pytest.approx(expected, rel=1e-9) and expected != pytest.approx(before, rel=1e-6)
    loss.backward()
    assert g.weight.grad.abs().sum().item() > 0
    for key, value in d.state_dict().items():
        assert torch.equal(value, params[key])
    assert all(p.grad is None for p in d.parameters())
    for key, saved in state["state"].items():
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(opt.state_dict()["state"][key][name], saved[name])


# --- build_discriminator ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", [dict(minibatch_stddev=4), dict(minibatch_discrimination=3),
                                    dict(feature_matching=True)])
def test_a_discriminator_without_features_and_head_is_refused_before_it_is_built(recipe):
    class PlainD(nn.Sequential):
        def __init__(self, data_shape, width=1.0):
            super().__init__(nn.Linear(2, 1), nn.Flatten(0))

    variant = replace(variants.compose("mlp-gan"), discriminator=PlainD, recipe=Recipe(**recipe))
    (problem,) = variants.problems(variant)
    assert "models/base.py" in problem and "PlainD does not follow that protocol" in problem


# --- registry options and recipe validation ----------------------------------------------------------------------


def test_loss_option_applies_its_paper_defaults():
    recipe = variants.compose("mlp-gan+wgan-gp").recipe
    assert (recipe.loss, recipe.penalty_weight, recipe.n_critic) == ("wgan-gp", 10.0, 5)
    assert (recipe.lr_d, recipe.lr_g, recipe.betas) == (1e-4, 1e-4, (0.0, 0.9))
    assert variants.compose("mlp-gan+wgan").recipe.clip == 0.01


def test_options_compose_left_to_right():
    hinge_ttur = variants.compose("mlp-gan+hinge+ttur").recipe
    assert (hinge_ttur.loss, hinge_ttur.lr_d, hinge_ttur.lr_g) == ("hinge", 4e-4, 1e-4)
    ttur_hinge = variants.compose("mlp-gan+ttur+hinge").recipe
    assert (ttur_hinge.loss, ttur_hinge.lr_d, ttur_hinge.lr_g) == ("hinge", 2e-4, 2e-4)
    both = variants.compose("mlp-gan+r1+lazy+sn").recipe
    assert (both.r1, both.reg_every, both.spectral_norm) == (10.0, 16, True)
    assert variants.compose("mlp-gan").recipe.r1 == 0.0


def test_unknown_option_lists_the_known_ones():
    with pytest.raises(RegistryError, match=r"unknown option \+nope; known: .*\+hinge.*\+r1.*\+wgan-gp"):
        variants.compose("mlp-gan+nope")


def test_invalid_combination_is_a_registry_error():
    with pytest.raises(RegistryError, match="label.smoothing"):
        variants.compose("mlp-gan+hinge+smooth")
    assert variants.compose("mlp-gan+lsgan+smooth").recipe.label_smoothing == 0.1


@pytest.mark.parametrize(("recipe", "message"), [
    (dict(loss="wgan-gp"), "penalty_weight > 0"),
    (dict(loss="dragan", penalty_weight=0.0), "penalty_weight > 0"),
    (dict(loss="wgan"), "clip > 0"),
    (dict(loss="rpgan", label_smoothing=0.1), "label smoothing"),
    (dict(loss="nope"), "unknown loss 'nope'"),
])
def test_recipes_a_loss_cannot_train_are_refused(recipe, message):
    variant = replace(variants.compose("mlp-gan"), recipe=Recipe(**recipe))
    with pytest.raises(RegistryError, match=message):
        variants.check(variant)


@pytest.mark.parametrize(("recipe", "message"), [(dict(reg_every=0), "reg_every"), (dict(r1=-1.0), "r1")])
def test_recipe_validation(recipe, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**recipe)


def test_valid_penalty_and_clip_recipes_are_accepted():
    for recipe in (Recipe(loss="wgan-gp", penalty_weight=10.0), Recipe(loss="wgan", clip=0.01)):
        assert variants.problems(replace(variants.compose("mlp-gan"), recipe=recipe)) == []


def test_a_later_loss_option_clears_the_earlier_losss_penalty_and_clip_but_not_r1_r2():
    recipe = variants.compose("mlp-gan+wgan+wgan-gp").recipe
    assert recipe.clip == 0.0 and recipe.penalty_weight == 10.0
    assert variants.compose("mlp-gan+wgan-gp+ns").recipe.penalty_weight == 0.0
    kept = variants.compose("mlp-gan+rpgan+ns").recipe
    assert kept.loss == "ns" and kept.r1 == kept.r2 == 0.05
