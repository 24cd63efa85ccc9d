"""R3GAN (Huang, Gokaslan, Kuleshov & Tompkin, NeurIPS 2024, "The GAN is dead; long live the GAN! A
Modern GAN Baseline", arXiv:2501.05441) at 32x32: the CIFAR-10 networks of the authors' code
(brownvc/R3GAN, `--preset=CIFAR10 --cond=1`).

Both networks are four stages of two residual blocks at 768 channels (`width` scales them), with no
normalization layer anywhere. A block is 1x1 conv (C -> 2C), bias + leaky ReLU(0.2), grouped 3x3 conv
(16 channels per group), bias + leaky ReLU, 1x1 conv (2C -> C), added to its input; no conv has a bias.
Initialisation is fix-up style: weights ~ N(0, gain / sqrt(fan_in)), the first two convs of a block with
gain sqrt(2 / (1 + 0.2^2)) * L^(-1/4) (L = 8 blocks per network), the last conv of every block zero, so
each block starts as the identity. Stages change resolution with the [1, 3, 3, 1] (outer product,
normalised) low-pass filter: G upsamples before a stage, D downsamples after one. G starts from a
learned 4x4 constant scaled per channel by a linear map of [z, embed(y)] (z 64-d, embedding 64-d) and
ends in a 1x1 conv to the image (no tanh); D starts with a 1x1 conv from the image and ends in a
depthwise 4x4 conv and a linear map to a C-dim vector whose dot product with embed(y) is the logit
(unconditional: a linear map to one logit).
Recipe: relativistic pairing loss with R1 and R2 (gamma 0.05 each, every step), Adam lr 2e-4, betas
(0, 0.9), one D step per G step. The authors anneal lr, gamma, beta2 and the EMA half-life with a
half-cosine over 20M images (2e-4 -> 5e-5, 0.05 -> 0.005, 0.9 -> 0.99, 0 -> 5M images); our budgets are
under 0.1% of that span, where every schedule is at its start value (EMA half-life ~0, i.e. no EMA).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import FeatureDiscriminator
from models.registry import Recipe, Variant, register
from models.resample import Downsample, Upsample

WIDTH, BLOCKS_PER_STAGE, STAGES, GROUP_CHANNELS, EXPANSION = 768, 2, 4, 16, 2
NOISE_DIM, G_EMBEDDING = 64, 64
LEAK = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + LEAK**2))


def msr_init_(weight: torch.Tensor, gain: float) -> torch.Tensor:
    """N(0, gain / sqrt(fan_in)) with fan_in = input channels per group x kernel area; gain 0 gives zeros."""
    fan_in = weight.shape[1] * weight[0][0].numel()
    with torch.no_grad():
        return weight.zero_() if gain == 0 else weight.normal_(0.0, gain / math.sqrt(fan_in))


def conv(c_in: int, c_out: int, kernel: int, gain: float, groups: int = 1) -> nn.Conv2d:
    layer = nn.Conv2d(c_in, c_out, kernel, padding=(kernel - 1) // 2, groups=groups, bias=False)
    msr_init_(layer.weight, gain)
    return layer


def linear(c_in: int, c_out: int, gain: float = 1.0) -> nn.Linear:
    layer = nn.Linear(c_in, c_out, bias=False)
    msr_init_(layer.weight, gain)
    return layer


class BiasedLeakyReLU(nn.Module):
    """A per-channel bias (zero at init), then leaky ReLU(0.2); the forward gain is 1."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), LEAK)


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))), the last conv zero at init."""

    def __init__(self, channels: int, groups: int, blocks_in_network: int) -> None:
        super().__init__()
        expanded = channels * EXPANSION
        gain = ACTIVATION_GAIN * blocks_in_network ** (-1 / (2 * 3 - 2))  # 3 linear layers per block
        self.expand = conv(channels, expanded, 1, gain)
        self.act1 = BiasedLeakyReLU(expanded)
        self.grouped = conv(expanded, expanded, 3, gain, groups=groups)
        self.act2 = BiasedLeakyReLU(expanded)
        self.project = conv(expanded, channels, 1, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.grouped(self.act1(self.expand(x)))))


def channels_and_groups(width: float) -> tuple[int, int]:
    """Stage width and cardinality at `width`: 16 channels per group of the expanded 3x3 conv, as at 768."""
    groups = max(1, round(WIDTH * EXPANSION / GROUP_CHANNELS * width))
    return groups * GROUP_CHANNELS // EXPANSION, groups


class R3GANGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 0) -> None:
        super().__init__()
        channels_out, height, _ = data_shape
        if height != 32:
            raise ValueError(f"this R3GAN is built for 32x32 images, got {data_shape}")
        c, groups = channels_and_groups(width)
        self.z_dim, self.n_classes = z_dim, n_classes
        self.embedding = linear(n_classes, G_EMBEDDING) if n_classes else None
        self.basis = nn.Parameter(torch.randn(c, 4, 4))
        self.basis_scale = linear(z_dim + (G_EMBEDDING if n_classes else 0), c)
        n_blocks = STAGES * BLOCKS_PER_STAGE
        stages: list[nn.Module] = []
        for stage in range(STAGES):
            layers = [] if stage == 0 else [Upsample()]
            layers += [ResidualBlock(c, groups, n_blocks) for _ in range(BLOCKS_PER_STAGE)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.to_image = conv(c, channels_out, 1, 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embedding is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass the labels y")
            z = torch.cat([z, self.embedding(F.one_hot(y, self.n_classes).to(z.dtype))], dim=1)
        x = self.basis.unsqueeze(0) * self.basis_scale(z).view(z.shape[0], -1, 1, 1)
        return self.to_image(self.stages(x))


class R3GANDiscriminator(FeatureDiscriminator):
    """`features(x)` is the C-dim output of the depthwise 4x4 basis; `head` maps it to one logit, or, when
    conditional, to a C-dim vector projected onto the class embedding."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 0) -> None:
        super().__init__()
        c, groups = channels_and_groups(width)
        n_blocks = STAGES * BLOCKS_PER_STAGE
        layers: list[nn.Module] = [conv(data_shape[0], c, 1, 1.0)]
        for stage in range(STAGES):
            layers += [ResidualBlock(c, groups, n_blocks) for _ in range(BLOCKS_PER_STAGE)]
            if stage < STAGES - 1:
                layers.append(Downsample())
        basis = nn.Conv2d(c, c, 4, groups=c, bias=False)  # depthwise 4x4: the 4x4 map to one C-dim vector
        msr_init_(basis.weight, 1.0)
        self.trunk = nn.Sequential(*layers, basis)
        self.n_classes = n_classes
        self.head = linear(c, c if n_classes else 1)
        self.embedding = linear(n_classes, c, gain=1 / math.sqrt(c)) if n_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.head(self.features(x))
        if self.embedding is None:
            return out.flatten()
        if y is None:
            raise ValueError("this discriminator is class-conditional: pass the labels y")
        return (out * self.embedding(F.one_hot(y, self.n_classes).to(out.dtype))).sum(dim=1)


register(
    Variant(
        name="r3gan",
        family="r3gan",
        paper="Huang, Gokaslan, Kuleshov & Tompkin 2024, The GAN is dead; long live the GAN! A Modern GAN "
        "Baseline (arXiv:2501.05441); CIFAR-10 networks of the authors' code (class-conditional)",
        generator=R3GANGenerator,
        discriminator=R3GANDiscriminator,
        recipe=Recipe(loss="rpgan", lr_g=2e-4, lr_d=2e-4, betas=(0.0, 0.9), n_critic=1, batch=64, r1=0.05, r2=0.05),
        data_kinds=("images",),
        z_dim=NOISE_DIM,
        conditional=True,
    )
)
