"""DCGAN (Radford, Metz & Chintala, ICLR 2016, arXiv:1511.06434) at 32x32.

Generator: z -> 4x4 transposed conv -> three stride-2 transposed convs (4x4 kernels) with BatchNorm and
ReLU, tanh output. Discriminator: stride-2 4x4 convs with LeakyReLU(0.2), BatchNorm on every layer but
the first, a final 4x4 conv to one logit. Weights ~ N(0, 0.02); Adam lr 2e-4, beta1 0.5. The published
width is 64 channels at the last generator layer (64 * 2^k deeper); `width` scales it.
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


class DCGANGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0) -> None:
        super().__init__()
        channels, height, _ = data_shape
        if height != 32:
            raise ValueError(f"this DCGAN is built for 32x32 images, got {data_shape}")
        c = channels_at(width)
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * c, 4, 1, 0, bias=False),
            nn.BatchNorm2d(4 * c),
            nn.ReLU(True),
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * c),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(True),
            nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False),
            nn.Tanh(),
        )
        normal_002(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


def discriminator_input(channels: int, c: int) -> nn.Sequential:
    """D's first layer: a stride-2 4x4 conv to c channels (32 -> 16), LeakyReLU(0.2), no BatchNorm."""
    return nn.Sequential(nn.Conv2d(channels, c, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))


def discriminator_body(c_in: int, c: int) -> nn.Sequential:
    """D's next two layers: stride-2 4x4 convs to 2c and 4c channels (16 -> 8 -> 4), BatchNorm, LeakyReLU(0.2)."""
    return nn.Sequential(
        nn.Conv2d(c_in, 2 * c, 4, 2, 1, bias=False),
        nn.BatchNorm2d(2 * c),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=False),
        nn.BatchNorm2d(4 * c),
        nn.LeakyReLU(0.2, True),
    )


class DCGANDiscriminator(FeatureDiscriminator):
    """The last 4x4 convolution over the 4x4 map is the linear head over the flattened map."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0) -> None:
        super().__init__()
        c = channels_at(width)
        self.trunk = nn.Sequential(*discriminator_input(data_shape[0], c), *discriminator_body(c, c))
        self.head = nn.Linear(4 * c * 4 * 4, 1, bias=False)
        normal_002(self)


register(
    Variant(
        name="dcgan",
        family="dcgan",
        paper="Radford, Metz & Chintala 2016, Unsupervised Representation Learning with Deep "
        "Convolutional GANs (arXiv:1511.06434)",
        generator=DCGANGenerator,
        discriminator=DCGANDiscriminator,
        recipe=Recipe(loss="ns", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1, batch=64),
        data_kinds=("images",),
        z_dim=100,
    )
)
