"""Example of a new method in one file: DCGAN with resize-convolutions in the generator.

Odena, Dumoulin & Olah 2016, "Deconvolution and Checkerboard Artifacts" (Distill): a stride-2 transposed
convolution overlaps unevenly and paints checkerboards; nearest-neighbour upsampling followed by a
3x3 convolution does not. This file swaps G's three stride-2 transposed convolutions for that and keeps
everything else of DCGAN (its discriminator, initialisation and recipe), so a comparison against `dcgan`
isolates the change.

Use it (README, "Add your method"): copy this file into the repository, list it under `plugins:` in
params.yaml, add `- resize-dcgan` to a dataset of a study, then `gbench pipelines && dvc repro` and
`gbench compare resize-dcgan --against dcgan`.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from models.dcgan import DCGANDiscriminator, channels_at
from models.init import normal_002
from models.registry import Recipe, Variant, register


def resize_conv(c_in: int, c_out: int) -> list[nn.Module]:
    """x2 nearest-neighbour upsampling, then a 3x3 convolution (replaces a 4x4 stride-2 transposed conv)."""
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]


class ResizeConvGenerator(nn.Module):
    """DCGAN's G at 32x32 with the same channel widths; only the upsampling operator differs."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0) -> None:
        super().__init__()
        channels, height, _ = data_shape
        if height != 32:
            raise ValueError(f"resize-dcgan is built for 32x32 images, got {data_shape}")
        c = channels_at(width)
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * c, 4, 1, 0, bias=False),  # 1x1 -> 4x4, as DCGAN
            nn.BatchNorm2d(4 * c),
            nn.ReLU(True),
            *resize_conv(4 * c, 2 * c),  # 8x8
            nn.BatchNorm2d(2 * c),
            nn.ReLU(True),
            *resize_conv(2 * c, c),  # 16x16
            nn.BatchNorm2d(c),
            nn.ReLU(True),
            *resize_conv(c, channels),  # 32x32
            nn.Tanh(),
        )
        normal_002(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


register(
    Variant(
        name="resize-dcgan",
        family="resize-dcgan",
        paper="Odena, Dumoulin & Olah 2016, Deconvolution and Checkerboard Artifacts (Distill, "
        "doi:10.23915/distill.00003); resize-convolutions in DCGAN's generator",
        generator=ResizeConvGenerator,
        discriminator=DCGANDiscriminator,
        recipe=Recipe(loss="ns", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1, batch=64),
        data_kinds=("images",),
        z_dim=100,
    )
)
