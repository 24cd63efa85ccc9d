"""ResNet SNGAN (Miyato et al. 2018, arXiv:1802.05957) and its projection cGAN (Miyato & Koyama 2018,
arXiv:1802.05637) at the resolutions the papers define: 32x32 (CIFAR-10), 48x48 (STL-10), 128x128
(ImageNet), and 64x64 as kwotsin/mimicry builds it (`sngan_64`).

32x32 (Miyato et al., Table 4 / appendix B.4): G maps z (128) with a linear layer to a 4x4x256 map, three
up-sampling residual blocks of 256 channels, BN-ReLU-conv3x3-tanh; D: an "optimized" first residual block, a
down-sampling block and two plain blocks, all 128 channels. The larger images halve G's channels per block
from a wider start and double D's from 64 (`G_LAYOUTS` / `D_LAYOUTS`): 48x48 starts G at 6x6x512 (blocks
256, 128, 64) and ends D with a plain 1024-channel block at 3x3; 64x64 starts G at 4x4x1024 (512 ... 64) and
down-samples in every D block (64 ... 1024); 128x128 adds a 1024-channel block to both ends (G 1024, 1024
... 64; D 64 ... 1024, 1024 plain), the papers' ImageNet networks. D ends in ReLU, a sum over positions and
a linear head; spectral norm on every D layer; a D block's first conv keeps its input's channels (the
authors' chainer blocks and mimicry's; BigGAN's D widens there instead). The projection cGAN uses
class-conditional BN in G's blocks and adds <embed(y), phi(x)> to D's output. Initialisation as the authors'
chainer code: Glorot-uniform, gain sqrt(2) inside the residual branches. `width` scales every channel count.
Recipe: hinge loss, Adam lr 2e-4, betas (0, 0.9), 5 D steps per G step, batch 64.
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

G_CHANNELS, D_CHANNELS, Z_DIM = 256, 128, 128  # the 32x32 networks' (constant) widths
# Published layouts beyond 32x32. G: (side of the input map, its channels, each up-sampling block's output
# channels). D: (output channels, down-samples?) per block; the first block is the "optimized" one.
G_LAYOUTS = {
    48: (6, 512, (256, 128, 64)),
    64: (4, 1024, (512, 256, 128, 64)),
    128: (4, 1024, (1024, 512, 256, 128, 64)),
}
D_LAYOUTS = {
    48: ((64, True), (128, True), (256, True), (512, True), (1024, False)),
    64: ((64, True), (128, True), (256, True), (512, True), (1024, True)),
    128: ((64, True), (128, True), (256, True), (512, True), (1024, True), (1024, False)),
}
SIZES = (32, *G_LAYOUTS)


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


def image_side(data_shape: tuple[int, ...]) -> int:
    """The side of the square images this family is built for, or a ValueError naming the sizes it takes."""
    side = data_shape[1]
    if tuple(data_shape[1:]) != (side, side) or side not in SIZES:
        raise ValueError(f"the SNGAN ResNet is built for square images of side {', '.join(map(str, SIZES))} "
                         f"(the papers' and mimicry's networks), got {'x'.join(map(str, data_shape))}")
    return side


def generator_layout(side: int, channels: int) -> tuple[int, int, tuple[int, ...]]:
    """(input map side, its channels, block output channels) at width 1; `channels` is the constant width
    of the 32x32 network."""
    return (4, channels, (channels,) * 3) if side == 32 else G_LAYOUTS[side]


def discriminator_layout(side: int, channels: int) -> tuple[tuple[int, bool], ...]:
    """(output channels, down-samples?) per D block at width 1; `channels` as in `generator_layout`."""
    return ((channels, True), (channels, True), (channels, False), (channels, False)) if side == 32 \
        else D_LAYOUTS[side]


class ResNetGenerator(nn.Module):
    """z (and y when conditional) -> image through up-sampling residual blocks, with an optional
    self-attention block after the block whose output has `attention_at` pixels per side."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 0,
                 channels: int = G_CHANNELS, attention_at: int | None = None, gated: bool = False) -> None:
        super().__init__()
        side = image_side(data_shape)
        self.bottom, start, outputs = generator_layout(side, channels)
        c = [scaled(n, width) for n in (start, *outputs)]
        self.z_dim, self.n_classes, self.channels = z_dim, n_classes, c[0]
        norm = partial(ConditionalBatchNorm2d, n_classes=n_classes) if n_classes else BatchNorm
        self.linear = nn.Linear(z_dim, self.bottom ** 2 * c[0])
        self.blocks = nn.ModuleList()
        size = self.bottom
        for c_in, c_out in zip(c, c[1:], strict=False):
            size *= 2
            self.blocks.append(GBlock(c_in, c_out, norm, upsample=True, gated=gated))
            if size == attention_at:
                self.blocks.append(SelfAttention(c_out))
        if attention_at is not None and not any(isinstance(b, SelfAttention) for b in self.blocks):
            raise ValueError(f"attention_at={attention_at}: no generator block of a {side}x{side} network "
                             "outputs maps of that side")
        self.out_bn = nn.BatchNorm2d(c[-1])
        self.out_conv = nn.Conv2d(c[-1], data_shape[0], 3, padding=1)
        glorot_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes and y is None:
            raise ValueError("this generator is class-conditional: pass the labels y")
        h = self.linear(z).view(z.shape[0], self.channels, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class ProjectionResNetD(FeatureDiscriminator):
    """What the ResNet discriminators of SNGAN, the projection cGAN and BigGAN share: ReLU of the `trunk`'s
    output summed over positions is phi(x); the linear `head` gives one logit, plus <embed(y), phi(x)> from
    the `projection` when conditional (subclasses build the three)."""

    trunk: nn.Module
    head: nn.Linear
    projection: ProjectionHead | None

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


class ResNetDiscriminator(ProjectionResNetD):
    """The optimized block, then down-sampling and plain blocks (`discriminator_layout`), with an optional
    self-attention block after the block whose output has `attention_at` pixels per side; ReLU and a sum
    over positions give phi(x); the linear head (plus the class projection when conditional) gives one
    logit."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 0,
                 channels: int = D_CHANNELS, attention_at: int | None = None, gated: bool = False) -> None:
        super().__init__()
        side = image_side(data_shape)
        layers: list[nn.Module] = []
        c_in = data_shape[0]
        for i, (c_out, downsample) in enumerate(discriminator_layout(side, channels)):
            c_out = scaled(c_out, width)
            layers.append(DBlock(c_in, c_out, downsample=downsample, optimized=i == 0, wide=False))
            side //= 2 if downsample else 1
            if side == attention_at and not any(isinstance(layer, SelfAttention) for layer in layers):
                layers.append(SelfAttention(c_out))
            c_in = c_out
        if attention_at is not None and not any(isinstance(layer, SelfAttention) for layer in layers):
            raise ValueError(f"attention_at={attention_at}: no discriminator block of a {data_shape[1]}x"
                             f"{data_shape[1]} network outputs maps of that side")
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, 1)
        self.projection = ProjectionHead(c_in, n_classes) if n_classes else None
        glorot_init(self)



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
          "projection D, the SNGAN ResNet (32, 48, 64 and 128 px)",
    generator=ResNetGenerator, discriminator=ResNetDiscriminator, recipe=SNGAN_RECIPE,
    data_kinds=("images",), z_dim=Z_DIM, conditional=True,
))
