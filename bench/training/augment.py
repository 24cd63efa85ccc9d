"""DiffAugment (Zhao, Liu, Lin, Zhu & Han, NeurIPS 2020, arXiv:2006.10738): differentiable augmentations
of every image D sees, reals and fakes, in D's step and in G's, so that D cannot memorise a small training
set and G still learns the un-augmented distribution (the gradient flows through the transform).

The ops and draws of the authors' `DiffAugment_pytorch.py` (mit-han-lab/data-efficient-gans), one draw
per sample from the global torch RNG (which a checkpoint restores), in the reference's order:
- `color`: brightness x + U(-0.5, 0.5); saturation (x - mean over channels) U(0, 2) + that mean;
  contrast (x - mean over the image) U(0.5, 1.5) + that mean;
- `translation`: an integer shift of up to 1/8 of the height and of the width (rounded), each uniform in
  [-s, s]; pixels shifted in from outside are 0;
- `cutout`: a square of half the height and width (rounded) set to 0, its centre uniform over the image.
A policy is a comma-separated list of these, applied left to right (the reference's default for CIFAR-10
is `color,translation,cutout`).

In our [-1, 1] images, as in the reference's, 0 is mid-grey: the translation border and the cutout square
are mid-grey, also on Fashion-MNIST, whose background is black (-1). On a 1-channel image the saturation
op is the identity (the mean over one channel is the pixel itself); brightness and contrast act as on RGB.
tests/benchmarks/diffaugment_reference.py runs the authors' function beside this one on the same draws.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

OPS = {"color": ("brightness", "saturation", "contrast"), "translation": ("translation",), "cutout": ("cutout",)}


def _draw(x: torch.Tensor) -> torch.Tensor:
    """One U(0, 1) number per sample, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (_draw(x) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return mean + (x - mean) * (2 * _draw(x))


def contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return mean + (x - mean) * (_draw(x) + 0.5)


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """out[:, :, i, j] = x[:, :, i + dy, j + dx], 0 where that falls outside the image."""
    n, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n,), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n,), device=x.device)
    padded = F.pad(x, (sw, sw, sh, sh))
    rows = (torch.arange(h, device=x.device) + sh)[None, :] + dy[:, None]  # (n, h) rows of `padded`
    cols = (torch.arange(w, device=x.device) + sw)[None, :] + dx[:, None]  # (n, w) columns of `padded`
    picked = padded.gather(2, rows[:, None, :, None].expand(n, c, h, padded.shape[3]))
    return picked.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """x with a (ratio H) x (ratio W) square set to 0, clipped to the image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n,), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n,), device=x.device)
    top, left = (cy - ch // 2)[:, None], (cx - cw // 2)[:, None]
    rows, cols = torch.arange(h, device=x.device)[None, :], torch.arange(w, device=x.device)[None, :]
    inside = ((rows >= top) & (rows < top + ch))[:, :, None] & ((cols >= left) & (cols < left + cw))[:, None, :]
    return x * (~inside)[:, None].to(x.dtype)


FUNCTIONS = {"brightness": brightness, "saturation": saturation, "contrast": contrast, "translation": translation,
             "cutout": cutout}


def policy_problem(policy: str) -> str | None:
    unknown = [p for p in policy.split(",") if p not in OPS]
    return f"unknown DiffAugment op(s) {', '.join(unknown)} (known: {', '.join(OPS)})" if unknown else None


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    for part in policy.split(","):
        for op in OPS[part]:
            x = FUNCTIONS[op](x)
    return x


class DiffAugment(nn.Module):
    """DiffAugment with one policy, as a module (no parameters or buffers: state dicts are unchanged by it)."""

    def __init__(self, policy: str) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy)


class Augmented(nn.Module):
    """D seeing every input through an augmentation (DiffAugment, or ADA's pipeline: bench/training/ada.py),
    whatever calls it: D's loss, G's loss and the penalties (R1/R2 are then taken on the un-augmented input, with
    the gradient through the transform, as both references do)."""

    def __init__(self, base: nn.Module, augment: nn.Module) -> None:
        super().__init__()
        self.base, self.augment = base, augment

    @property
    def head(self) -> nn.Module:
        return self.base.head

    def forward(self, x: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        return self.base(self.augment(x), *labels)

    def features(self, x: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        return self.base.features(self.augment(x), *labels)

    def forward_with_classes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.base.forward_with_classes(self.augment(x))
