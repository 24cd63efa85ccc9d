"""Progressive growing (Karras et al. 2018, Sec. 2), shared by ProGAN, StyleGAN and StyleGAN2 configs A-D.

The level of detail `lod` is 0 at full resolution and k when the networks work at 1/2^k of it. A
fractional lod fades the next resolution in: G's output is lerp(upscaled lower-resolution image,
higher-resolution image, alpha) with alpha = 1 - frac(lod), and D blends its two input paths the same
way. Networks always return / take full-resolution images (lower resolutions upscaled by repeating
pixels, which average pooling undoes exactly), so the rest of the harness never sees the schedule.

The schedule follows ProGAN's: phases of `stable` then `fade` images per resolution, equal lengths, then
the full resolution until the budget ends. The papers use 600-800 kimg per phase over 12-25M images; a
benchmark budget is scaled instead: the 2 k + 1 segments (k fade-ins) split the budget equally, so
every run ends at lod 0 having spent the last segment at full resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


def lod_at(images: int, budget: int, max_lod: int) -> float:
    """The lod after `images` of a `budget`: max_lod at the start, 0 for the final segment."""
    if max_lod <= 0:
        return 0.0
    segment = budget / (2 * max_lod + 1)
    phase = math.floor(images / (2 * segment))
    into_phase = images - phase * 2 * segment
    lod = max_lod - phase - max(into_phase - segment, 0.0) / segment
    return max(lod, 0.0)


def level_and_alpha(lod: float, levels: int) -> tuple[int, float]:
    """(completed level i, fade-in weight alpha of level i + 1); level 0 is 4x4, levels - 1 full size."""
    level = (levels - 1) - lod
    i = min(int(math.floor(level)), levels - 1)
    return i, level - i


def upscale(x: torch.Tensor, factor: int) -> torch.Tensor:
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def downscale(x: torch.Tensor, factor: int) -> torch.Tensor:
    return x if factor == 1 else F.avg_pool2d(x, factor)


def grown_image(lod: float, levels: int, block: Callable[[int, torch.Tensor | None], torch.Tensor],
                to_rgb: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """G's full-resolution output at `lod`: blocks 0..i (and i + 1 while it fades in) are run, the
    images of levels i and i + 1 blended with weight alpha on the newer one."""
    i, alpha = level_and_alpha(lod, levels)
    x = None
    for j in range(i + 1):
        x = block(j, x)
    image = to_rgb(i, x)
    if alpha > 0:
        image = torch.lerp(upscale(image, 2), to_rgb(i + 1, block(i + 1, x)), alpha)
        i += 1
    return upscale(image, 2 ** (levels - 1 - i))


def grown_score(x: torch.Tensor, lod: float, levels: int, from_rgb: Callable[[int, torch.Tensor], torch.Tensor],
                block: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """D's features at 4x4 for a full-resolution input at `lod`: the input is average-pooled to the newest
    level; while it fades in, its path (from_rgb, block) is blended with the older level's from_rgb of
    the input pooled once more. `block(j, h)` maps level j's features to level j - 1's."""
    i, alpha = level_and_alpha(lod, levels)
    top = i + 1 if alpha > 0 else i
    image = downscale(x, 2 ** (levels - 1 - top))
    h = from_rgb(top, image)
    if alpha > 0:
        h = torch.lerp(from_rgb(i, downscale(image, 2)), block(top, h), alpha)
    for j in range(i, 0, -1):
        h = block(j, h)
    return h


def blend_reals(x: torch.Tensor, lod: float, levels: int) -> torch.Tensor:
    """ProGAN's treatment of reals at `lod`: shown at the newest level's resolution, blended with their
    2x-pooled (and re-upscaled) version by 1 - alpha while it fades in, then upscaled to full size."""
    i, alpha = level_and_alpha(lod, levels)
    top = i + 1 if alpha > 0 else i
    image = downscale(x, 2 ** (levels - 1 - top))
    if alpha > 0:
        image = torch.lerp(upscale(downscale(image, 2), 2), image, alpha)
    return upscale(image, 2 ** (levels - 1 - top))


class Growing(nn.Module):
    """A network trained with progressive growing: `lod` (a plain attribute, 0 after training: the trainer
    sets it from the schedule; it is not a buffer, so an EMA copy never averages it), `levels` (4x4 up
    to the data's size) and `max_lod` (the lod training starts at)."""

    lod: float
    levels: int
    max_lod: int

    def init_growing(self, resolution: int, start_resolution: int = 4) -> None:
        self.levels = int(math.log2(resolution)) - 1
        if 2 ** (self.levels + 1) != resolution or resolution < 8:
            raise ValueError(f"progressive growing needs a power-of-two image size >= 8, got {resolution}")
        self.max_lod = self.levels - 1 - (int(math.log2(start_resolution)) - 2)
        self.lod = 0.0

    def lod_after(self, images: int, budget: int) -> float:
        """The schedule's lod once `images` of the `budget` have been shown (the trainer sets it each step)."""
        return lod_at(images, budget, self.max_lod)

    def real_images(self, x: torch.Tensor) -> torch.Tensor:
        """Reals as D sees them at the current lod (ProGAN's `process_reals`: `blend_reals`)."""
        return blend_reals(x, self.lod, self.levels)
