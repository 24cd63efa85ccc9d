"""A recipe's training objective: the loss plus every regularizer and trick it turns on, for both players.

The task kind (bench/training/tasks/generation.py) owns the optimizers and the order of the steps; this
module owns what each step minimises. Lazy regularization follows NVlabs' StyleGAN2 code: with an interval
N = 1 the penalty is part of the main loss; with N > 1 it is its own optimizer step every N steps, with
its weight x N (`d_reg_loss`, `g_reg_loss`), and Adam's lr and betas are adjusted for the extra step
(bench/training/regularizers.py `lazy_adam`). Discriminators expose `features(x)` (N x F) and a linear
`head`, so minibatch layers, feature matching and spectral norm compose with any architecture that
follows that protocol (models/base.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.training import regularizers as reg
from bench.training.ada_control import AdaController
from bench.training.augment import Augmented, DiffAugment
from bench.training.losses import get_loss
from models.base import FeatureDiscriminator
from models.minibatch import MinibatchDiscrimination, MinibatchStdDev
from models.registry import Recipe
from models.spectral import spectral_normalize

Batch = tuple[torch.Tensor, torch.Tensor | None]  # inputs and their class labels (None: unconditional)


def conditioned(module: nn.Module, y: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The module as a function of its input alone: with the labels bound when the variant is
    class-conditional (the penalties differentiate D with respect to its input only)."""
    return module if y is None else (lambda x: module(x, y))


class WithMinibatchFeatures(nn.Module):
    """D with minibatch stddev and/or minibatch discrimination between its features and its head."""

    def __init__(self, base: nn.Module, stddev_group: int, mbd_kernels: int) -> None:
        super().__init__()
        width = base.head.in_features
        layers: list[nn.Module] = []
        if stddev_group:
            layers.append(MinibatchStdDev(stddev_group))
            width += 1
        if mbd_kernels:
            layers.append(MinibatchDiscrimination(width, mbd_kernels))
            width += mbd_kernels
        old_head = base.head
        self.base = base
        self.base.head = None
        self.minibatch = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1, bias=old_head.bias is not None)
        with torch.no_grad():  # D starts as the architecture's D; it learns to use the minibatch features
            self.head.weight.zero_()
            self.head.weight[:, : old_head.in_features] = old_head.weight
            if old_head.bias is not None:
                self.head.bias.copy_(old_head.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.minibatch(self.features(x))).flatten()


def build_discriminator(d: nn.Module, recipe: Recipe) -> nn.Module:
    """The architecture's D with the recipe's D-side layers (minibatch features, spectral norm, DiffAugment or
    ADA on its input). Which architectures can take which layers is checked before any stage runs
    (bench/protocol/variants.py)."""
    if recipe.minibatch_stddev or recipe.minibatch_discrimination:
        assert isinstance(d, FeatureDiscriminator), type(d).__name__
        d = WithMinibatchFeatures(d, recipe.minibatch_stddev, recipe.minibatch_discrimination)
    if recipe.spectral_norm:
        spectral_normalize(d)
    if recipe.diffaug:
        d = Augmented(d, DiffAugment(recipe.diffaug))
    if recipe.ada_p or recipe.ada_target:
        from bench.training.ada import AdaptiveAugment

        d = Augmented(d, AdaptiveAugment(p=recipe.ada_p))
    return d


def vision_aided_of(d: nn.Module) -> nn.Module | None:
    """The vision-aided D that `+vision-aided`'s factory (models/vision_aided.py) adds to the variant's D as a
    submodule named `vision_aided`, wherever the D-side layers put it; None without one. D's optimizer trains
    it; this objective scores it; D's own forward never calls it."""
    return next((m for name, m in d.named_modules() if name.rpartition(".")[2] == "vision_aided"), None)


VISION_AIDED_TARGET = 0.8  # the reference's `_s` losses: real target 0.8 (one-sided smoothing), for G's loss too
VISION_AIDED_AUGMENT = "color,translation,cutout"  # its pip package's default, drawn apart from D's own


def smoothed_bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy of sigmoid(logits) against a constant target, elementwise."""
    return target * F.softplus(-logits) + (1.0 - target) * F.softplus(logits)


def vision_aided_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The vision-aided D's loss on N x levels logits (its reference's multilevel_sigmoid_s): BCE to 0.8 on reals
    and to 0 on fakes, summed over levels, averaged over images."""
    return (smoothed_bce(real, VISION_AIDED_TARGET) + smoothed_bce(fake, 0.0)).sum(dim=1).mean()


def vision_aided_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """G's loss through the vision-aided D: BCE to the real target 0.8 (the reference's, not log sigmoid: its
    minimum is at logit ln 4), summed over levels, averaged over images."""
    return smoothed_bce(fake, VISION_AIDED_TARGET).sum(dim=1).mean()


def d_health(real_out: torch.Tensor, fake_out: torch.Tensor, boundary: float | None) -> dict[str, float]:
    """D's outputs on a batch as health signals: `d_gap` = E D(x) - E D(G(z)) (for a Wasserstein critic, its
    estimate of W1) and, for a loss with a decision boundary, D's accuracy on reals and on fakes separately
    (`d_acc_real`, `d_acc_fake`: the shares on the right side of it). One host transfer for all three."""
    real_out, fake_out = real_out.detach().float(), fake_out.detach().float()
    values = [real_out.mean() - fake_out.mean()]
    if boundary is not None:
        values += [(real_out > boundary).float().mean(), (fake_out < boundary).float().mean()]
    names = ("d_gap", "d_acc_real", "d_acc_fake")
    return dict(zip(names, torch.stack(values).tolist(), strict=False))


def d_reg_due_at(recipe: Recipe, d_steps: int) -> bool:
    """Whether the D step after `d_steps` D steps is followed by a lazy R1/R2 step."""
    return recipe.reg_every > 1 and bool(recipe.r1 or recipe.r2) and d_steps % recipe.reg_every == 0


def g_reg_due_at(recipe: Recipe, g_steps: int) -> bool:
    """Whether the G step after `g_steps` G steps is followed by a lazy path length step."""
    return recipe.pl_every > 1 and recipe.path_length > 0 and g_steps % recipe.pl_every == 0


class Objective:
    """What D and G minimise at each step under one recipe, and the state that must survive a resume
    (the penalties' random stream and the historical averages)."""

    def __init__(self, recipe: Recipe, g: nn.Module, d: nn.Module, budget_images: int,
                 rng: torch.Generator) -> None:
        self.recipe, self.loss, self.rng = recipe, get_loss(recipe.loss), rng
        self.history = ({"G": reg.HistoricalAverage(g), "D": reg.HistoricalAverage(d)}
                        if recipe.historical_averaging else {})
        self.d_steps, self.g_steps, self.pl_mean = 0, 0, 0.0
        self.ada = AdaController(recipe, d.augment, budget_images) if recipe.ada_p or recipe.ada_target else None
        self.vision = vision_aided_of(d)
        self.vision_augment = DiffAugment(VISION_AIDED_AUGMENT)
        self.budget = budget_images

    @property
    def budget(self) -> int:
        """The image horizon of the schedules (instance noise's annealing, ADA's speed)."""
        return self._budget

    @budget.setter
    def budget(self, images: int) -> None:
        self._budget = images
        if self.ada is not None:
            self.ada.set_budget(images)

    def vision_on(self, images: int, budget: int | None = None) -> bool:
        """Whether the vision-aided D is part of both losses after `images` of a `budget` (default the run's)."""
        horizon = self.budget if budget is None else budget
        return self.vision is not None and images >= self.recipe.vision_aided_start * horizon

    @property
    def needs_real_for_g(self) -> bool:
        return self.loss.needs_real_for_g or self.recipe.feature_matching

    def _noisy(self, x: torch.Tensor, images: int) -> torch.Tensor:
        sigma = reg.instance_noise_sigma(self.recipe.instance_noise, images, self.budget)
        if sigma == 0.0:
            return x
        return x + sigma * torch.randn(x.shape, generator=self.rng).to(device=x.device, dtype=x.dtype)

    def d_loss(self, d: nn.Module, real: torch.Tensor, fake: torch.Tensor, images: int,
               y_real: torch.Tensor | None = None, y_fake: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """D's loss on one batch: adversarial term (+ AC-GAN's class term) + the loss's own penalty +
        R1/R2 (lazily) + history. Labels are given for class-conditional variants; penalties on reals
        and on real/fake interpolates see the real labels, R2 the fake ones."""
        r, loss = self.recipe, self.loss
        real_in, fake_in = self._noisy(real, images), self._noisy(fake.detach(), images)
        same_pass = r.reg_every == 1  # non-lazy R1/R2 come from this pass's outputs: inputs must be leaves
        if same_pass and r.r1:
            real_in = real_in.detach().requires_grad_(True)
        if same_pass and r.r2:
            fake_in = fake_in.detach().requires_grad_(True)
        on_real = conditioned(d, y_real)
        real_out, real_classes = self._scores(d, real_in, y_real)
        fake_out, fake_classes = self._scores(d, fake_in, y_fake)
        adversarial = loss.d_loss(real_out, fake_out, real_label=1.0 - r.label_smoothing)
        total, logs = adversarial, {"loss_d": adversarial.item(), **d_health(real_out, fake_out, loss.boundary)}
        if self.ada is not None and self.ada.adaptive:
            logs["real_sign"] = real_out.detach().sign().mean().item()  # ADA's r_t, gathered by after_d_step
        if r.drift:
            drift = real_out.pow(2).mean()
            total = total + r.drift * drift
            logs["drift"] = drift.item()
        if r.aux_classifier:
            classes = F.cross_entropy(real_classes, y_real) + F.cross_entropy(fake_classes, y_fake)
            total = total + r.aux_classifier * classes
            logs["class_d"] = classes.item()
        if loss.penalty == "wgan-gp":
            penalty = reg.wgan_gp_penalty(on_real, real_in, fake_in, self.rng)
        elif loss.penalty == "dragan":
            penalty = reg.dragan_penalty(on_real, real_in, self.rng)
        else:
            penalty = None
        if penalty is not None:
            total = total + r.penalty_weight * penalty
            logs["penalty"] = penalty.item()
        if same_pass:
            for name, gamma, x, out in (("r1", r.r1, real_in, real_out), ("r2", r.r2, fake_in, fake_out)):
                if gamma:
                    value = reg.zero_centered_penalty_of(out, x)
                    total = total + 0.5 * gamma * value
                    logs[name] = value.item()
        if self.history:
            total = total + r.historical_averaging * self.history["D"].penalty(d)
        if self.vision_on(images):  # its head learns; the frozen backbone runs without autograd
            scores = [self.vision(self.vision_augment(x.detach()), y, backbone_grad=False)
                      for x, y in ((real_in, y_real), (fake_in, y_fake))]
            vision = vision_aided_d_loss(*scores)
            total = total + r.vision_aided * vision
            logs["vision_d"] = vision.item()
        return total, logs

    def _add_zero_centered(self, total, on_real, on_fake, real_in: torch.Tensor, fake_in: torch.Tensor, every: int,
                           logs: dict):
        """total + (gamma / 2) R1 + (gamma / 2) R2, each gamma x `every` (lazy); their values go into `logs`."""
        r = self.recipe
        for name, gamma, x, critic in (("r1", r.r1, real_in, on_real), ("r2", r.r2, fake_in, on_fake)):
            weight = reg.lazy_weight(gamma, every, 0)
            if weight:
                value = reg.zero_centered_penalty(critic, x)
                total = total + 0.5 * weight * value
                logs[name] = value.item()
        return total

    @property
    def d_reg_due(self) -> bool:
        """A lazy R1/R2 step follows this D step (every `reg_every`-th D step, the first included)."""
        return d_reg_due_at(self.recipe, self.d_steps)

    def d_reg_loss(self, d: nn.Module, real: torch.Tensor, fake: torch.Tensor, images: int,
                   y_real: torch.Tensor | None = None, y_fake: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """The lazy R1/R2 step's loss on the D step's batch: the penalties with their weight x `reg_every`
        (NVlabs' `Dreg` phase)."""
        logs: dict = {}
        real_in, fake_in = self._noisy(real, images), self._noisy(fake.detach(), images)
        total = self._add_zero_centered(0.0, conditioned(d, y_real), conditioned(d, y_fake), real_in, fake_in,
                                        self.recipe.reg_every, logs)
        return total, logs

    def _scores(self, d: nn.Module, x: torch.Tensor,
                y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's adversarial output and, for AC-GAN, its class logits from the same pass."""
        if self.recipe.aux_classifier:
            return d.forward_with_classes(x)
        return conditioned(d, y)(x), None

    def after_d_step(self, d: nn.Module, logs: dict[str, float] | None = None) -> None:
        """Count the D step: weight clipping, history, and ADA's p (its `ada_p`/`ada_rt` join `logs`)."""
        self.d_steps += 1
        if self.ada is not None and logs is not None:
            logs.update(self.ada.after_d_step(logs.pop("real_sign", None)))
        if self.loss.clip:
            reg.clip_weights(d, self.recipe.clip)
        if self.history:
            self.history["D"].update(d)

    def g_loss(self, g: nn.Module, d: nn.Module, opt_d: torch.optim.Adam, z: torch.Tensor | None,
               next_real: Callable[[], Batch], next_z: Callable[[], Batch], images: int,
               y: torch.Tensor | None = None, fake: torch.Tensor | None = None) -> torch.Tensor:
        """G's loss on one batch of latents (and requested labels), through D (or D unrolled k steps); on `fake`,
        G's output already drawn with its graph (the D step's, under `g_on_d_fakes`), instead of G(z)."""
        r = self.recipe
        real, y_real = next_real() if self.needs_real_for_g else (None, None)
        real = self._noisy(real, images) if real is not None else None
        fake = self._noisy(conditioned(g, y)(z) if fake is None else fake, images)
        if r.feature_matching:
            total = reg.feature_matching_loss(d.features(real), d.features(fake))
        elif r.unrolled_steps:
            critic = self._unrolled(g, d, opt_d, next_real, next_z, images)
            total = self.loss.g_loss(critic(real) if self.loss.needs_real_for_g else None, critic(fake))
        else:
            real_out = self._scores(d, real, y_real)[0] if self.loss.needs_real_for_g else None
            fake_out, fake_classes = self._scores(d, fake, y)
            total = self.loss.g_loss(real_out, fake_out)
            if r.aux_classifier:
                total = total + r.aux_classifier * F.cross_entropy(fake_classes, y)
        if r.ortho_reg:
            total = total + r.ortho_reg * reg.orthogonal_penalty(g.orthogonal_parameters())
        if r.path_length and r.pl_every == 1:
            total = total + r.path_length * self._path_length(g, next_z()[0])
        if self.history:
            total = total + r.historical_averaging * self.history["G"].penalty(g)
        if self.vision_on(images):  # through the frozen backbone to the image
            total = total + r.vision_aided * vision_aided_g_loss(self.vision(self.vision_augment(fake), y))
        return total

    def _unrolled(self, g: nn.Module, d: nn.Module, opt_d: torch.optim.Adam,
                  next_real: Callable[[], torch.Tensor], next_z: Callable[[], torch.Tensor], images: int):
        """D unrolled on its adversarial loss, as Metz et al. unroll the standard GAN's D; the loss's
        gradient penalty, R1/R2, clipping and historical averaging are not part of the unrolled steps."""
        batches = [(self._noisy(next_real()[0], images), next_z()[0]) for _ in range(self.recipe.unrolled_steps)]
        label = 1.0 - self.recipe.label_smoothing

        def step_loss(critic, i: int) -> torch.Tensor:
            real, z = batches[i]
            return self.loss.d_loss(critic(real), critic(self._noisy(g(z), images)), real_label=label)

        return reg.unrolled_critic(d, opt_d, self.recipe.unrolled_steps, step_loss, second_order=True)

    def _path_length(self, g: nn.Module, z: torch.Tensor) -> torch.Tensor:
        """StyleGAN2's path length penalty on half a batch of fresh latents; updates the target's EMA."""
        ws = g.styles(z[: max(1, z.shape[0] // 2)])
        images = g.synthesis(ws)
        noise = torch.randn(images.shape, generator=self.rng).to(device=images.device, dtype=images.dtype)
        penalty, self.pl_mean = reg.path_length_penalty(images, ws, noise, self.pl_mean)
        return penalty

    @property
    def g_reg_due(self) -> bool:
        """A lazy path length step follows this G step (every `pl_every`-th G step, the first included). With
        pl_every > 1 and no path length weight there is nothing to do (NVlabs' config C: Adam is adjusted
        all the same)."""
        return g_reg_due_at(self.recipe, self.g_steps)

    def g_reg_loss(self, g: nn.Module, next_z: Callable[[], Batch]) -> torch.Tensor:
        """The lazy path length step's loss: the penalty with its weight x `pl_every` (NVlabs' `Greg` phase)."""
        weight = reg.lazy_weight(self.recipe.path_length, self.recipe.pl_every, self.g_steps)
        return weight * self._path_length(g, next_z()[0])

    def after_g_step(self, g: nn.Module) -> None:
        self.g_steps += 1
        if self.history:
            self.history["G"].update(g)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state(), "d_steps": self.d_steps, "g_steps": self.g_steps,
                "pl_mean": self.pl_mean, "history": {k: h.state_dict() for k, h in self.history.items()},
                **({"ada": self.ada.state_dict()} if self.ada is not None else {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.d_steps = int(state["d_steps"])
        self.g_steps, self.pl_mean = int(state["g_steps"]), float(state["pl_mean"])
        for k, h in self.history.items():
            h.load_state_dict(state["history"][k])
        if self.ada is not None:
            self.ada.load_state_dict(state["ada"])
