"""AC-GAN (Odena, Olah & Shlens 2017, arXiv:1610.09585) at 32x32, its CIFAR-10 architecture.

G takes z with the one-hot class (110 inputs: 100 noise + 10 classes), a linear layer to 384 channels
at 1x1, then transposed convolutions 384 -> 192 (4x4) -> 96 (8x8) -> 48 (16x16) -> image (32x32), BN and
ReLU between them, tanh out. D: six 3x3 convolutions 16-32-64-128-256-512 (stride 2 at 16, 64 and 256),
LeakyReLU(0.2), BN on all but the first, dropout 0.5 after each; two heads on the flattened 4x4x512 map:
real/fake (1 logit) and the class (10 logits). Layer sizes as the widely used PyTorch re-implementation
(clvrai/ACGAN-PyTorch, `_netG_CIFAR10` / `_netD_CIFAR10`). D minimises the adversarial loss plus the
class cross-entropy on reals and fakes; G its adversarial loss plus the class cross-entropy of its
fakes (`aux_classifier` weight 1). Recipe: Adam lr 2e-4, betas (0.5, 0.999), batch 100 as the paper.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import FeatureDiscriminator
from models.init import normal_002
from models.registry import Recipe, Variant, register

G_CHANNELS = (384, 192, 96, 48)
D_CHANNELS = (16, 32, 64, 128, 256, 512)
D_STRIDES = (2, 1, 2, 1, 2, 1)


def _scaled(channels: tuple[int, ...], width: float) -> list[int]:
    return [max(1, round(c * width)) for c in channels]


class ACGANGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 10) -> None:
        super().__init__()
        if tuple(data_shape[1:]) != (32, 32):
            raise ValueError(f"this AC-GAN is built for 32x32 images, got {data_shape}")
        c = _scaled(G_CHANNELS, width)
        self.z_dim, self.n_classes = z_dim, n_classes
        self.linear = nn.Linear(z_dim + n_classes, c[0])
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(c, c[1:], strict=False)):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(c[-1], data_shape[0], 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_002(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.linear(torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], dim=1))
        return self.net(h[:, :, None, None])


class ACGANDiscriminator(FeatureDiscriminator):
    """`forward(x)` is the real/fake logit; `forward_with_classes(x)` also returns the class logits from
    the same features (one pass)."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 10) -> None:
        super().__init__()
        c = _scaled(D_CHANNELS, width)
        layers: list[nn.Module] = []
        for i, (c_in, c_out, stride) in enumerate(zip([data_shape[0], *c], c, D_STRIDES, strict=False)):
            layers.append(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers += [nn.LeakyReLU(0.2, True), nn.Dropout(0.5)]
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(c[-1] * 4 * 4, 1)
        self.classes = nn.Linear(c[-1] * 4 * 4, n_classes)
        normal_002(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x)).flatten()

    def forward_with_classes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        phi = self.features(x)
        return self.head(phi).flatten(), self.classes(phi)


register(Variant(
    name="acgan", family="acgan",
    paper="Odena, Olah & Shlens 2017, Conditional Image Synthesis with Auxiliary Classifier GANs "
          "(arXiv:1610.09585)",
    generator=ACGANGenerator, discriminator=ACGANDiscriminator,
    recipe=Recipe(loss="ns", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1, batch=100, aux_classifier=1.0),
    data_kinds=("images",), z_dim=100, conditional=True,
))
