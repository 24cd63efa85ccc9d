"""DCGAN (Radford, Metz & Chintala, ICLR 2016, arXiv:1511.06434) at any power-of-two resolution from 16 up:
the paper's 64x64 network, and the same rule at 32x32 (the zoo's size) and above.

Generator: z -> 4x4 transposed conv -> log2(R) - 2 stride-2 transposed convs (4x4 kernels) with BatchNorm
and ReLU, tanh output. Discriminator: stride-2 4x4 convs with LeakyReLU(0.2), BatchNorm on every layer but
the first, down to 4x4, then a final 4x4 conv to one logit. Weights ~ N(0, 0.02); Adam lr 2e-4, beta1 0.5.
The published width is 64 channels at the last generator layer, doubling towards 4x4 (ngf = ndf = 64 of
the authors' and pytorch/examples' code: 512-256-128-64 at 64x64); `width` scales it. G's step takes the D
step's fakes, as pytorch/examples' loop (and dcgan.torch's before it) does: one G forward per iteration.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from models.base import FeatureDiscriminator
from models.init import normal_002
from models.registry import Recipe, Variant, register

PUBLISHED_CHANNELS = 64


def channels_at(width: float) -> int:
    """Channels of the last G layer (first D layer) at `width` x the published 64."""
    return max(1, round(PUBLISHED_CHANNELS * width))


def doublings(data_shape: tuple[int, ...]) -> int:
    """Stride-2 layers between 4x4 and the image (3 at 32x32, 4 at 64x64); other sizes are refused."""
    height, width = data_shape[1:]
    if height != width or height < 16 or height & (height - 1):
        raise ValueError(f"this DCGAN is built for square power-of-two images from 16x16 up, got {data_shape}")
    return height.bit_length() - 3


class DCGANGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0) -> None:
        super().__init__()
        channels, k, c = data_shape[0], doublings(data_shape), channels_at(width)
        self.z_dim = z_dim
        layers = [nn.ConvTranspose2d(z_dim, c * 2 ** (k - 1), 4, 1, 0, bias=False),
                  nn.BatchNorm2d(c * 2 ** (k - 1)), nn.ReLU(True)]
        for i in range(k - 1, 0, -1):
            layers += [nn.ConvTranspose2d(c * 2 ** i, c * 2 ** (i - 1), 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c * 2 ** (i - 1)), nn.ReLU(True)]
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh())
        normal_002(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


def discriminator_input(channels: int, c: int) -> nn.Sequential:
    """D's first layer: a stride-2 4x4 conv to c channels (R -> R/2), LeakyReLU(0.2), no BatchNorm."""
    return nn.Sequential(nn.Conv2d(channels, c, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))


def discriminator_body(c_in: int, c: int, layers: int = 2) -> nn.Sequential:
    """D's next `layers` layers: stride-2 4x4 convs to 2c, 4c, ... channels (R/2 -> ... -> 4), BatchNorm,
    LeakyReLU(0.2)."""
    body, previous = [], c_in
    for i in range(1, layers + 1):
        body += [nn.Conv2d(previous, c * 2 ** i, 4, 2, 1, bias=False), nn.BatchNorm2d(c * 2 ** i),
                 nn.LeakyReLU(0.2, True)]
        previous = c * 2 ** i
    return nn.Sequential(*body)


class DCGANDiscriminator(FeatureDiscriminator):
    """The last 4x4 convolution over the 4x4 map is the linear head over the flattened map."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0) -> None:
        super().__init__()
        c, k = channels_at(width), doublings(data_shape)
        self.trunk = nn.Sequential(*discriminator_input(data_shape[0], c), *discriminator_body(c, c, k - 1))
        self.head = nn.Linear(c * 2 ** (k - 1) * 4 * 4, 1, bias=False)
        normal_002(self)


register(
    Variant(
        name="dcgan",
        family="dcgan",
        paper="Radford, Metz & Chintala 2016, Unsupervised Representation Learning with Deep "
        "Convolutional GANs (arXiv:1511.06434)",
        generator=DCGANGenerator,
        discriminator=DCGANDiscriminator,
        recipe=Recipe(loss="ns", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1, batch=64, g_on_d_fakes=True),
        data_kinds=("images",),
        z_dim=100,
    )
)
