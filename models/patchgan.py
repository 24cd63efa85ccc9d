"""PatchGAN discriminator of pix2pix (Isola et al., CVPR 2017, arXiv:1611.07004), also CycleGAN's D.

A fully convolutional D that classifies each overlapping patch of its input as real or fake: the output is an
N x 1 x h x w map of logits, one per patch, which the loss averages. The paper's 70x70 PatchGAN is
`n_layers=3`: 4x4 convs, the first `n_layers` with stride 2, then two with stride 1, channels ndf * min(2^n, 8),
LeakyReLU(0.2), norm on every conv but the first and the last, a 1-channel last conv. Built as the authors'
code builds it: junyanz/pytorch-CycleGAN-and-pix2pix@78913853, models/networks.py (NLayerDiscriminator,
get_norm_layer). `norm_layer` and `uses_bias` live here because every translation G is paired with this D.

Patch size at 32x32: `n_layers_for(32) == 1`, a 16x16 field (the paper's "16x16 PatchGAN"). The reference's
70-pixel field is 70/256 ~ 27% of the image side; at 32x32 the reference's layer rule offers 16 px (50%,
n_layers 1) or 34 px (106%, n_layers 2: every logit sees the whole image, as the paper's 286x286 "ImageGAN",
which scored worse than the 70x70 PatchGAN).
16 px is the nearer share (a factor 1.8 off, against 3.9) and keeps D a local texture discriminator.
Fewer layers are no option: the first conv always has stride 2, so n_layers 0 also gives 16 px.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from models.init import normal_002

KERNEL = 4
PUBLISHED_NDF = 64
NORMS = ("batch", "instance", "none")


def norm_layer(norm: str, channels: int) -> nn.Module:
    """The reference's norms: BatchNorm with affine, InstanceNorm without affine and without running
    statistics (per-image statistics in eval mode too, as the reference's current get_norm_layer)."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def uses_bias(norm: str) -> bool:
    """Convs followed by a norm carry a bias only where the norm has no shift of its own: the reference's
    `use_bias = norm is instance`; without a norm the bias is kept (the reference has no such network)."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return norm != "batch"


def strides(n_layers: int) -> list[int]:
    """Strides of D's 4x4 convs, input to output: `n_layers` of 2, then 1 and 1."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    return [2] * n_layers + [1, 1]


def receptive_field(n_layers: int) -> int:
    """Input pixels (per side) seen by one output logit: 16, 34, 70 for n_layers 1, 2, 3."""
    field = 1
    for stride in reversed(strides(n_layers)):
        field = (field - 1) * stride + KERNEL
    return field


def n_layers_for(size: int) -> int:
    """The n_layers whose field is the nearest share (on a log scale) of a `size`-pixel side to the
    reference's 70/256: 3 at 256, 2 at 128, 1 at 64 and 32."""
    target = math.log(receptive_field(3) / 256)
    return min(range(1, 8), key=lambda n: abs(math.log(receptive_field(n) / size) - target))


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, width: float = 1.0, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        ndf, bias = max(1, round(PUBLISHED_NDF * width)), uses_bias(norm)
        channels = [in_channels] + [ndf * min(2**n, 8) for n in range(n_layers + 1)]
        layers: list[nn.Module] = []
        for i, stride in enumerate(strides(n_layers)[:-1]):
            layers.append(nn.Conv2d(channels[i], channels[i + 1], KERNEL, stride, 1, bias=bias or i == 0))
            if i > 0:
                layers.append(norm_layer(norm, channels[i + 1]))
            layers.append(nn.LeakyReLU(0.2, True))
        layers.append(nn.Conv2d(channels[-1], 1, KERNEL, 1, 1))
        self.net = nn.Sequential(*layers)
        normal_002(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
