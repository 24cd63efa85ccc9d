"""ResNet SNGAN (Miyato et al. 2018, arXiv:1802.05957) and its projection cGAN (Miyato & Koyama 2018,
arXiv:1802.05637) at 32x32.

The CIFAR-10 architecture of both papers (Miyato et al., Table 4 / appendix B.4): G maps z (128) with a
linear layer to a 4x4x256 map, three up-sampling residual blocks of 256 channels, BN-ReLU-conv3x3-tanh.
D: an "optimized" first residual block, a down-sampling block and two plain blocks, all 128 channels,
ReLU, sum over positions, a linear head; spectral norm on every D layer. The projection cGAN uses
class-conditional BN in G's blocks and adds <embed(y), phi(x)> to D's output. Initialisation as the
authors' chainer code: Glorot-uniform, gain sqrt(2) inside the residual branches. `width` scales the
channel counts. Recipe: hinge loss, Adam lr 2e-4, betas (0, 0.9), 5 D steps per G step, batch 64.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import FeatureDiscriminator
from models.blocks import BatchNorm, ConditionalBatchNorm2d, DBlock, GBlock, ProjectionHead, SelfAttention
from models.registry import Recipe, Variant, register

G_CHANNELS, D_CHANNELS, Z_DIM = 256, 128, 128


def scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def glorot_init(module: nn.Module) -> None:
    """Glorot-uniform everywhere, gain sqrt(2) for the convolutions inside residual branches."""
    for name, layer in module.named_modules():
        if isinstance(layer, nn.Conv2d | nn.Linear):
            inside_branch = name.endswith(("conv1", "conv2"))
            nn.init.xavier_uniform_(layer.weight, math.sqrt(2) if inside_branch else 1.0)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class ResNetGenerator(nn.Module):
    """z (and y when conditional) -> 32x32 image through three up-sampling residual blocks, with an
    optional self-attention block after the block whose output has `attention_at` pixels per side."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 0,
                 channels: int = G_CHANNELS, attention_at: int | None = None, gated: bool = False) -> None:
        super().__init__()
        if tuple(data_shape[1:]) != (32, 32):
            raise ValueError(f"this ResNet generator is built for 32x32 images, got {data_shape}")
        c = scaled(channels, width)
        self.z_dim, self.n_classes, self.channels = z_dim, n_classes, c
        norm = partial(ConditionalBatchNorm2d, n_classes=n_classes) if n_classes else BatchNorm
        self.linear = nn.Linear(z_dim, 4 * 4 * c)
        self.blocks = nn.ModuleList()
        for size in (8, 16, 32):
            self.blocks.append(GBlock(c, c, norm, upsample=True, gated=gated))
            if size == attention_at:
                self.blocks.append(SelfAttention(c))
        self.out_bn = nn.BatchNorm2d(c)
        self.out_conv = nn.Conv2d(c, data_shape[0], 3, padding=1)
        glorot_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes and y is None:
            raise ValueError("this generator is class-conditional: pass the labels y")
        h = self.linear(z).view(z.shape[0], self.channels, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class ResNetDiscriminator(FeatureDiscriminator):
    """Optimized block (down), down block, two plain blocks; ReLU and a sum over positions give phi(x);
    the linear head (plus the class projection when conditional) gives one logit."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 0,
                 channels: int = D_CHANNELS, attention_at: int | None = None, gated: bool = False) -> None:
        super().__init__()
        c = scaled(channels, width)
        layers: list[nn.Module] = [DBlock(data_shape[0], c, downsample=True, optimized=True)]
        if attention_at == 16:
            layers.append(SelfAttention(c))
        layers += [DBlock(c, c, downsample=True), DBlock(c, c, downsample=False), DBlock(c, c, downsample=False)]
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(c, 1)
        self.projection = ProjectionHead(c, n_classes) if n_classes else None
        glorot_init(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.trunk(x)).sum(dim=(2, 3))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        phi = self.features(x)
        out = self.head(phi).flatten()
        if self.projection is not None:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass the labels y")
            out = out + self.projection(phi, y)
        return out


SNGAN_RECIPE = Recipe(loss="hinge", lr_g=2e-4, lr_d=2e-4, betas=(0.0, 0.9), n_critic=5, batch=64,
                      spectral_norm=True)

register(Variant(
    name="sngan", family="sngan",
    paper="Miyato et al. 2018, Spectral Normalization for Generative Adversarial Networks (arXiv:1802.05957); "
          "ResNet G/D of its CIFAR-10 experiments",
    generator=ResNetGenerator, discriminator=ResNetDiscriminator, recipe=SNGAN_RECIPE,
    data_kinds=("images",), z_dim=Z_DIM,
))

register(Variant(
    name="sngan-proj", family="sngan",
    paper="Miyato & Koyama 2018, cGANs with Projection Discriminator (arXiv:1802.05637); conditional BN in G, "
          "projection D, the SNGAN ResNet at 32x32",
    generator=ResNetGenerator, discriminator=ResNetDiscriminator, recipe=SNGAN_RECIPE,
    data_kinds=("images",), z_dim=Z_DIM, conditional=True,
))
