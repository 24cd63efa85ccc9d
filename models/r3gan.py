"""R3GAN (Huang, Gokaslan, Kuleshov & Tompkin, NeurIPS 2024, "The GAN is dead; long live the GAN! A
Modern GAN Baseline", arXiv:2501.05441): the networks of the authors' code (brownvc/R3GAN@19a7ddf,
R3GAN/Networks.py with the `--preset` settings of train.py), from 8x8 to 256x256, 1 or 3 channels.

A network is a list of stages, one per resolution from 4x4 up to the image size, each a number of
residual blocks at one width; no normalization layer anywhere. A block is 1x1 conv (C -> 2C), bias + leaky
ReLU(0.2), grouped 3x3 conv (`cardinality` groups), bias + leaky ReLU, 1x1 conv (2C -> C), added to its
input; no conv has a bias. Initialisation is fix-up style: weights ~ N(0, gain / sqrt(fan_in)), the first
two convs of a block with gain sqrt(2 / (1 + 0.2^2)) * L^(-1/4) (L = blocks in the network), the last conv
of every block zero, so each block starts as the identity. Stages change resolution with the [1, 3, 3, 1]
(outer product, normalised) low-pass filter: G upsamples before a stage, D downsamples after one; where
two neighbouring stages differ in width, a 1x1 conv (gain 1) changes it at the lower resolution (G: before
upsampling, D: after downsampling). G starts from a learned 4x4 constant scaled per channel by a linear map
of [z, embed(y)] (z 64-d, embedding 64-d) and ends in a 1x1 conv to the image (no tanh); D runs the stages
in reverse, starts with a 1x1 conv from the image and ends in a depthwise 4x4 conv and a linear map to a
C-dim vector whose dot product with embed(y) is the logit (unconditional: a linear map to one logit).

Which stages (`Preset`, 4x4 stage first; D uses the same list reversed). train.py's presets are in
`PRESETS`: CIFAR10 (4 stages of 2 blocks at 768 channels, 96 groups), FFHQ-64 (CIFAR10 plus a 64x64
stage at 384, 48 groups), FFHQ-256 (FFHQ-64 plus 192 at 128x128 and 96 at 256x256, 24 and 12 groups),
ImageNet-32 and ImageNet-64 (4 and 5 stages at 1536 channels, 96 groups). CIFAR10, FFHQ-64 and FFHQ-256
are prefixes of one table, so by default a network of side R takes the first log2(R) - 1 stages of
FFHQ-256: exactly CIFAR10 at 32 (our networks at 32x32 are unchanged), FFHQ-64 at 64 and FFHQ-256 at 256,
and the same table cut short at 8, 16 and 128, sizes the authors publish no preset for. At 64 we take
FFHQ-64 rather than ImageNet-64 because it continues the 32x32 and 256x256 networks (same widths, 16
channels per group), so `width` and the family width in params.yaml mean the same network at every size;
ImageNet-64 doubles every width for 1000 classes and 1.28M images (about 4.7x the parameters). Other
sizes (not a power of two, under 8, over 256, not square) are refused: the authors give no widths beyond
256. `preset=` picks another list, by name (e.g. "ImageNet-64") or as a `Preset` (or a mapping of its
fields, as params.yaml can give it); its resolution must be the image size.

`width` scales every stage the same way: the number of groups of a stage is round(cardinality x width)
(at least 1) and the channels per group stay those of the preset (16, or 32 in the ImageNet presets), so
the stage has groups x channels-per-group / 2 channels. Narrow stages round to one group, so at small
widths the late FFHQ-256 stages are wider than the preset's ratios say.

Recipe: relativistic pairing loss with R1 and R2 (gamma 0.05 each, every step), Adam lr 2e-4, betas
(0, 0.9), one D step per G step: the CIFAR10 preset's (the authors' gamma grows with the resolution: 2
for FFHQ-64, 150 for FFHQ-256). The authors anneal lr, gamma, beta2 and the EMA half-life with a
half-cosine over 20M images (2e-4 -> 5e-5, 0.05 -> 0.005, 0.9 -> 0.99, 0 -> 5M images); our budgets are
under 0.1% of that span, where every schedule is at its start value (EMA half-life ~0, i.e. no EMA).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import FeatureDiscriminator
from models.registry import Recipe, Variant, register
from models.resample import Downsample, Upsample

WIDTH, BLOCKS_PER_STAGE, STAGES, GROUP_CHANNELS, EXPANSION = 768, 2, 4, 16, 2  # the CIFAR10 preset (32x32)
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


@dataclass(frozen=True)
class Preset:
    """Per-stage widths, cardinalities (groups of the 3x3 conv) and block counts at `width` 1, 4x4 stage
    first; the stage count sets the resolution, 4 x 2^(stages - 1)."""

    name: str
    widths: tuple[int, ...]
    cardinalities: tuple[int, ...]
    blocks: tuple[int, ...]

    def __post_init__(self) -> None:
        for field in ("widths", "cardinalities", "blocks"):
            object.__setattr__(self, field, tuple(int(v) for v in getattr(self, field)))
        if not self.widths or not len(self.widths) == len(self.cardinalities) == len(self.blocks):
            raise ValueError(f"preset {self.name!r}: widths, cardinalities and blocks need one entry per stage")
        for w, k, b in zip(self.widths, self.cardinalities, self.blocks, strict=True):
            if min(w, k, b) < 1 or (w * EXPANSION) % k or (w * EXPANSION // k) % EXPANSION:
                raise ValueError(f"preset {self.name!r}: a stage of width {w} cannot have {k} groups "
                                 f"(2 x width / groups must be a positive even number) and {b} blocks")

    @property
    def resolution(self) -> int:
        return 4 * 2 ** (len(self.widths) - 1)


def _preset(name: str, widths: list[int], cardinalities: list[int]) -> Preset:
    return Preset(name, tuple(widths), tuple(cardinalities), (BLOCKS_PER_STAGE,) * len(widths))


# brownvc/R3GAN@19a7ddf train.py (BlocksPerStage 2 everywhere, ExpansionFactor 2, NoiseDimension 64).
PRESETS = {
    p.name: p
    for p in (
        _preset("CIFAR10", [768] * 4, [96] * 4),
        _preset("FFHQ-64", [768] * 4 + [384], [96] * 4 + [48]),
        _preset("FFHQ-256", [768] * 4 + [384, 192, 96], [96] * 4 + [48, 24, 12]),
        _preset("ImageNet-32", [1536] * 4, [96] * 4),
        _preset("ImageNet-64", [1536] * 5, [96] * 5),
    )
}
SIZES = tuple(4 * 2**n for n in range(1, len(PRESETS["FFHQ-256"].widths)))  # 8 ... 256


def default_preset(resolution: int) -> Preset:
    """The first log2(resolution) - 1 stages of FFHQ-256, named after the authors' preset of that size."""
    if resolution not in SIZES:
        raise ValueError(f"R3GAN's default presets are for side {', '.join(map(str, SIZES))}, got {resolution}")
    n = SIZES.index(resolution) + 2
    full = PRESETS["FFHQ-256"]
    named = {32: "CIFAR10", 64: "FFHQ-64", 256: "FFHQ-256"}
    name = named.get(resolution, f"FFHQ-256, first {n} stages")
    return Preset(name, full.widths[:n], full.cardinalities[:n], full.blocks[:n])


def resolve_preset(data_shape: tuple[int, ...], preset: str | Preset | Mapping | None) -> Preset:
    """The preset for images of `data_shape` (C, H, W): `preset` if given (checked against H), else the default."""
    _, height, width_px = data_shape
    if height != width_px or (preset is None and height not in SIZES):
        raise ValueError(f"R3GAN builds square images of side {', '.join(map(str, SIZES))} (other powers of two "
                         f"from 4 need preset=), got {data_shape}")
    if preset is None:
        return default_preset(height)
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown R3GAN preset {preset!r} (known: {', '.join(PRESETS)})")
        preset = PRESETS[preset]
    elif isinstance(preset, Mapping):
        preset = Preset(**{"name": "custom", **preset})
    if preset.resolution != height:
        raise ValueError(f"R3GAN preset {preset.name!r} builds {preset.resolution}x{preset.resolution} images, "
                         f"got {data_shape}")
    return preset


def channels_and_groups(width: float, stage_width: int = WIDTH,
                        cardinality: int = WIDTH * EXPANSION // GROUP_CHANNELS) -> tuple[int, int]:
    """Channels and groups of a stage (`stage_width` channels in `cardinality` groups at width 1) at `width`:
    round(cardinality x width) groups, at least one, each as many channels as at width 1."""
    group_channels = stage_width * EXPANSION // cardinality
    groups = max(1, round(cardinality * width))
    return groups * group_channels // EXPANSION, groups


def scaled_stages(preset: Preset, width: float) -> list[tuple[int, int, int]]:
    """(channels, groups, blocks) of every stage at `width`, 4x4 first."""
    return [(*channels_and_groups(width, w, k), b)
            for w, k, b in zip(preset.widths, preset.cardinalities, preset.blocks, strict=True)]


class R3GANGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 0,
                 preset: str | Preset | Mapping | None = None) -> None:
        super().__init__()
        self.preset = resolve_preset(data_shape, preset)
        stages = scaled_stages(self.preset, width)
        n_blocks = sum(b for _, _, b in stages)
        c = stages[0][0]
        self.z_dim, self.n_classes = z_dim, n_classes
        self.embedding = linear(n_classes, G_EMBEDDING) if n_classes else None
        self.basis = nn.Parameter(torch.randn(c, 4, 4))
        self.basis_scale = linear(z_dim + (G_EMBEDDING if n_classes else 0), c)
        modules: list[nn.Module] = []
        for i, (channels, groups, blocks) in enumerate(stages):
            layers: list[nn.Module] = []
            if i > 0:
                if channels != c:
                    layers.append(conv(c, channels, 1, 1.0))
                layers.append(Upsample())
            layers += [ResidualBlock(channels, groups, n_blocks) for _ in range(blocks)]
            modules.append(nn.Sequential(*layers))
            c = channels
        self.stages = nn.Sequential(*modules)
        self.to_image = conv(c, data_shape[0], 1, 1.0)

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

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 0,
                 preset: str | Preset | Mapping | None = None) -> None:
        super().__init__()
        self.preset = resolve_preset(data_shape, preset)
        stages = scaled_stages(self.preset, width)[::-1]
        n_blocks = sum(b for _, _, b in stages)
        c = stages[0][0]
        layers: list[nn.Module] = [conv(data_shape[0], c, 1, 1.0)]
        for i, (channels, groups, blocks) in enumerate(stages):
            if i > 0:
                layers.append(Downsample())
                if channels != c:
                    layers.append(conv(c, channels, 1, 1.0))
            layers += [ResidualBlock(channels, groups, n_blocks) for _ in range(blocks)]
            c = channels
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
