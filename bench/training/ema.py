"""The exponential moving average of G's weights that evaluation reports where the recipe keeps one."""

from __future__ import annotations

import math

import torch
from torch.optim.swa_utils import AveragedModel

from models.registry import Recipe


class EmaDecay:
    """The decay of G's EMA at the current step, as `AveragedModel`'s averaging function: a fixed beta, or
    StyleGAN's half-life of `ema_kimg` thousand images (beta = 0.5^(batch / half-life)). With `ema_rampup`
    the half-life is at most that fraction of the images shown so far (StyleGAN2-ADA), so a short
    benchmark budget does not average over mostly untrained weights."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.value = recipe.ema_beta if recipe.ema_beta is not None else 0.0

    @property
    def enabled(self) -> bool:
        return self.recipe.ema_beta is not None or self.recipe.ema_kimg > 0

    def at(self, images: int) -> float:
        r = self.recipe
        if not r.ema_kimg and not r.ema_rampup:
            return self.value
        half_life = r.ema_kimg * 1000 if r.ema_kimg else r.batch * math.log(0.5) / math.log(r.ema_beta)
        if r.ema_rampup:
            half_life = min(half_life, images * r.ema_rampup)
        self.value = 0.5 ** (r.batch / max(half_life, 1e-8))
        return self.value

    @torch.no_grad()
    def __call__(self, averaged: list[torch.Tensor], current: list[torch.Tensor], _n: torch.Tensor) -> None:
        for avg, now in zip(averaged, current, strict=True):
            if avg.is_floating_point():
                avg.lerp_(now, 1.0 - self.value)
            else:
                avg.copy_(now)


@torch.no_grad()
def update_ema(ema: AveragedModel, g: torch.nn.Module, averaging: bool) -> None:
    """One EMA step after a G step; before the recipe's `ema_start` the EMA copies G (BigGAN's warm-up:
    an average over the first, random-looking weights would lag far behind G)."""
    if averaging:
        ema.update_parameters(g)
        return
    for target, source in zip(ema.module.state_dict().values(), g.state_dict().values(), strict=True):
        target.copy_(source)
