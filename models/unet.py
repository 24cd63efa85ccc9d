"""pix2pix's U-Net generator (Isola et al., CVPR 2017, arXiv:1611.07004) at any power-of-two size >= 16.

An encoder of stride-2 4x4 convs down to 1x1 (log2(size) of them: 8 at 256, the reference's unet_256; 5 at 32)
with channels ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...; a mirrored decoder of stride-2 4x4 transposed convs, each
fed the previous decoder output concatenated with the encoder features of the same resolution; tanh output.
LeakyReLU(0.2) before each encoder conv but the first, ReLU before each decoder conv; a norm after every conv
but the first encoder conv, the innermost encoder conv and the last decoder conv. Built as
junyanz/pytorch-CycleGAN-and-pix2pix@78913853, models/networks.py (UnetGenerator, UnetSkipConnectionBlock):
biases only on the outermost transposed conv, or everywhere with instance norm; the skip carries the
encoder features after their LeakyReLU (the reference's in-place LeakyReLU rewrites the tensor it later
concatenates), so loaded reference weights give the reference's outputs.

Dropout 0.5 follows the decoder convs (after their norm) of the three levels just outside the innermost one:
at 256 those are the reference's three 8ngf levels. The reference ties the count to num_downs - 5 (two at
128, none at 32); here it stays three (fewer only where the U-Net has fewer inner levels, e.g. 16x16),
because dropout is pix2pix's only noise: "we provide noise only in the form of dropout, applied on several
layers of our generator at both training and test time" (paper, Objective section).

`dropout_at_test` (default True, the paper's choice) keeps dropout active in eval mode; set it False for a
deterministic G. train()/eval() still switch BatchNorm between batch and running statistics independently.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.init import normal_002
from models.patchgan import norm_layer, uses_bias

PUBLISHED_NGF = 64
DROPOUT_LEVELS = 3
DROPOUT_P = 0.5


def downsamplings(size: int) -> int:
    """Stride-2 levels from `size` to 1x1; power-of-two sizes from 16 up only."""
    if size < 16 or size & (size - 1):
        raise ValueError(f"the U-Net is built for square power-of-two images from 16x16 up, got {size}")
    return size.bit_length() - 1


class UNetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, size: int, width: float = 1.0, norm: str = "batch",
                 dropout: bool = True) -> None:
        super().__init__()
        levels, ngf, bias = downsamplings(size), max(1, round(PUBLISHED_NGF * width)), uses_bias(norm)
        features = [ngf * min(2**i, 8) for i in range(levels)]  # encoder output channels per level
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        for i in range(levels):
            inner = i == levels - 1
            conv = nn.Conv2d(in_channels if i == 0 else features[i - 1], features[i], 4, 2, 1, bias=bias)
            normed = 0 < i < levels - 1
            self.down.append(nn.Sequential(conv, norm_layer(norm, features[i])) if normed else nn.Sequential(conv))
            up_in = features[i] * (1 if inner else 2)
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(up_in, out_channels, 4, 2, 1), nn.Tanh()))
            else:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(up_in, features[i - 1], 4, 2, 1, bias=bias),
                                             norm_layer(norm, features[i - 1])))
        self.dropout_levels = set(range(max(1, levels - 1 - DROPOUT_LEVELS), levels - 1)) if dropout else set()
        self.dropout_at_test = True
        normal_002(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, down in enumerate(self.down):
            if i > 0:
                x = F.leaky_relu(x, 0.2)
                skips.append(x)
            x = down(x)
        for i in reversed(range(len(self.up))):
            x = self.up[i](x)
            if i in self.dropout_levels:
                x = F.dropout(x, DROPOUT_P, training=self.training or self.dropout_at_test)
            if i > 0:
                x = torch.cat([skips[i - 1], x], 1)
        return x
