"""StyleGAN2 (Karras, Laine, Aittala, Hellsten, Lehtinen & Aila, CVPR 2020, "Analyzing and Improving the
Image Quality of StyleGAN", arXiv:1912.04958) and its Table 1 ablation, configs A-F, as the authors'
run_training.py builds them (NVlabs/stylegan2).

Networks. Every layer has an equalized learning rate with weight gain 1 and leaky ReLU(0.2) x sqrt(2)
after the bias. A synthesis layer is a modulated 3x3 conv (models/style_layers.ModulatedConv2d, weight
demodulation on), per-pixel noise times a learned scalar (zero at init), bias, activation; x2 layers
first upsample with the [1, 3, 3, 1] filter. The synthesis starts from a learned 4x4 constant (N(0, 1) at
init); toRGB is a modulated 1x1 conv without demodulation. The mapping network is StyleGAN's (8 dense
layers, lr multiplier 0.01, w_avg beta 0.995), with style mixing (probability 0.9) and truncation in W
on every layer.
- `"skip"` G (configs E, F): the toRGB outputs of all levels are upsampled with the filter and summed;
  no progressive growing.
- `"orig"` G (G_synthesis_stylegan_revised, configs B-D): one toRGB per level and progressive growing
  from 8x8, levels faded in as ProGAN does (models/growing.py).
- The residual D (configs E, F): fromRGB at full size, per level conv 3x3, strided conv 3x3 after the
  low-pass filter, and a 1x1 low-pass-strided skip, summed and scaled by 1/sqrt(2); at 4x4 minibatch
  stddev (group 4), conv, dense, dense. Configs B-D use the growing D_stylegan (models/progan.py).
nf is min(fmap_base / (res / 2), 512): fmap_base 8192 (A-E) gives 512 at every level up to 32x32, and
config F's 16384 doubles nf only above 32x32 (StyleGAN2-ADA's and StyleGAN3's channel_base 32768, the
`stylegan2` variant and StyleGAN3's D). At 32x32 and below config F doubles the cap instead (nf 1024), so
that F still means "larger networks" at this resolution (a departure: the paper's F is unchanged below
64x64); from 64x64 on stylegan2-f is the paper's F.

Recipe. Non-saturating logistic loss, R1 on reals (gamma 10 at 1024x1024, 100 for config E; scaled by
resolution squared to 0.01 and 0.1 at 32x32), path length regularization (weight 2, decay 0.01, half
batch), lazy regularization (R1 every 16 D steps, path length every 4 G steps, with Adam's lr x c and
betas ^ c, c = N / (N + 1)), Adam betas (0, 0.99); lr 0.002 and minibatch 32 (configs E, F) or lr 0.001
and minibatch 64 (growing configs, the authors' 32x32 minibatch); G averaged with a 10 kimg half-life
(at most 5% of the images shown: bench/training/ema.py EmaDecay).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn as nn

from models.growing import Growing, grown_image, level_and_alpha
from models.minibatch import MinibatchStdDev
from models.progan import FMAP_BASE, FMAP_MAX, ProGANDiscriminator, feature_maps
from models.registry import Recipe, Variant, register
from models.resample import FIR_1331, Blur, Downsample, Upsample
from models.style_layers import (
    EqualConv2d,
    EqualLinear,
    ModulatedConv2d,
    NoiseInjection,
    StyleSource,
    lrelu,
)
from models.stylegan import R1_GAMMA_32PX, StyleGANDiscriminator, StyleGANGenerator

Z_DIM, W_DIM = 512, 512
ARCHITECTURES = ("skip", "orig")


class SynthesisLayer(nn.Module):
    """Modulated conv (after x2 upsampling when `up`), noise, bias, leaky ReLU x sqrt(2)."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, up: bool = False, demodulate: bool = True) -> None:
        super().__init__()
        self.up = Upsample(FIR_1331) if up else nn.Identity()
        self.conv = ModulatedConv2d(c_in, c_out, 3, w_dim, demodulate=demodulate)
        self.noise = NoiseInjection(1)
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return lrelu(self.noise(self.conv(self.up(x), w)) + self.bias.view(1, -1, 1, 1))


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation, plus bias: the image of one level."""

    def __init__(self, c_in: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(c_in, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)


CONFIG_F_BASE = 2 * FMAP_BASE  # config F's fmap_base (channel_base 32768 in StyleGAN2-ADA and StyleGAN3)


def stylegan2_channels(width: float, levels: int, fmap_cap: int = FMAP_MAX, fmap_base: int = FMAP_BASE) -> list[int]:
    """nf per level, 4x4 first: min(fmap_base / (res / 2), cap) x width. A `fmap_cap` above 512 (stylegan2-f)
    multiplies fmap_base by fmap_cap / 512 and, in networks of 32x32 and below only, raises the cap to fmap_cap;
    from 64x64 on the cap stays 512 (the paper's config F)."""
    if fmap_cap > FMAP_MAX:
        fmap_base = fmap_base * fmap_cap // FMAP_MAX
        fmap_cap = fmap_cap if levels <= 4 else FMAP_MAX
    return [feature_maps(4 * 2**j, width, base=fmap_base, cap=fmap_cap) for j in range(levels)]


class StyleGAN2Generator(Growing):
    """`architecture="skip"` (StyleGAN2) or `"orig"` (the growing configs B-D); `demodulate=False` gives
    StyleGAN's normalisation-free modulated layers; `fmap_cap` 1024 is config F's larger network (stylegan2-f),
    `fmap_base` 16384 config F's published channels (see stylegan2_channels)."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, architecture: str = "skip",
                 demodulate: bool = True, fmap_cap: int = FMAP_MAX, mixing_prob: float = 0.9,
                 fmap_base: int = FMAP_BASE) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        channels, resolution, _ = data_shape
        self.init_growing(resolution, start_resolution=8 if architecture == "orig" else resolution)
        self.architecture = architecture
        self.z_dim, self.w_dim = z_dim, max(8, round(W_DIM * width))
        self.num_ws = 2 * self.levels
        self.style = StyleSource(z_dim, self.w_dim, self.num_ws, mixing_prob=mixing_prob)
        nf = stylegan2_channels(width, self.levels, fmap_cap, fmap_base)
        self.const = nn.Parameter(torch.randn(1, nf[0], 4, 4))
        layers = [SynthesisLayer(nf[0], nf[0], self.w_dim, demodulate=demodulate)]
        for j in range(1, self.levels):
            layers += [SynthesisLayer(nf[j - 1], nf[j], self.w_dim, up=True, demodulate=demodulate),
                       SynthesisLayer(nf[j], nf[j], self.w_dim, demodulate=demodulate)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.ModuleList(ToRGB(n, channels, self.w_dim) for n in nf)
        self.upsample = Upsample(FIR_1331)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.style.w_avg

    def styles(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        i, alpha = level_and_alpha(self.lod, self.levels)
        return self.style(z, psi, active=2 * (i + 1 + (alpha > 0)))

    def shifted_const(self, n: int, translate: torch.Tensor | None) -> torch.Tensor:
        """The learned 4x4 input, or with `translate` (N, 2) output pixels (x right, y down) each sample's
        input moved by translate x 4 / resolution pixels as a periodic band-limited signal (phase shift of its
        2-D DFT): StyleGAN2's counterpart of StyleGAN3's translated Fourier features, for EQ-T."""
        const = self.const.expand(n, -1, -1, -1)
        if translate is None:
            return const
        size = const.shape[-1]
        freq = torch.fft.fftfreq(size, device=const.device, dtype=const.dtype)
        shift = translate.to(const.dtype) * size / (2 ** (self.levels + 1))
        phase = torch.exp(-2j * math.pi * (freq.view(1, 1, size) * shift[:, 0].view(-1, 1, 1)
                                           + freq.view(1, size, 1) * shift[:, 1].view(-1, 1, 1)))
        return torch.fft.ifft2(torch.fft.fft2(const) * phase.unsqueeze(1)).real

    def block(self, j: int, x: torch.Tensor | None, ws: torch.Tensor,
              translate: torch.Tensor | None = None) -> torch.Tensor:
        """Level j's layers; ws index 2j - 1 and 2j (the 4x4 level: its one conv, index 0)."""
        if j == 0:
            return self.layers[0](self.shifted_const(ws.shape[0], translate), ws[:, 0])
        x = self.layers[2 * j - 1](x, ws[:, 2 * j - 1])
        return self.layers[2 * j](x, ws[:, 2 * j])

    def synthesis(self, ws: torch.Tensor, translate: torch.Tensor | None = None) -> torch.Tensor:
        if self.architecture == "orig":
            return grown_image(self.lod, self.levels, lambda j, x: self.block(j, x, ws, translate),
                               lambda j, x: self.to_rgb[j](x, ws[:, 2 * j + 1]))
        x, image = None, None
        for j in range(self.levels):
            x = self.block(j, x, ws, translate)
            rgb = self.to_rgb[j](x, ws[:, 2 * j + 1])
            image = rgb if image is None else self.upsample(image) + rgb
        return image

    def forward(self, z: torch.Tensor, psi: float = 1.0, translate: torch.Tensor | None = None) -> torch.Tensor:
        return self.synthesis(self.styles(z, psi), translate)


def _act(x: torch.Tensor) -> torch.Tensor:
    return lrelu(x)


class ResidualBlock(nn.Module):
    """D's residual level: (conv 3x3, act, low-pass + strided conv 3x3, act) + low-pass-strided 1x1, / sqrt(2)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(c_in, c_in, 3)
        self.blur = Blur(FIR_1331, pad=(2, 2))
        self.conv1 = EqualConv2d(c_in, c_out, 3, stride=2, padding=0)
        self.skip_down = Downsample(FIR_1331)
        self.skip = EqualConv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _act(self.conv1(self.blur(_act(self.conv0(x)))))
        return (h + self.skip(self.skip_down(x))) / math.sqrt(2.0)


class StyleGAN2Discriminator(nn.Module):
    """StyleGAN2's residual D ("resnet"), used by configs E and F and by StyleGAN3."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, fmap_cap: int = FMAP_MAX,
                 mbstd_group: int = 4, fmap_base: int = FMAP_BASE, **_: object) -> None:
        super().__init__()
        channels, resolution, _ = data_shape
        levels = int(math.log2(resolution)) - 1
        nf = stylegan2_channels(width, levels, fmap_cap, fmap_base)
        self.from_rgb = EqualConv2d(channels, nf[-1], 1)
        self.blocks = nn.Sequential(*(ResidualBlock(nf[j], nf[j - 1]) for j in range(levels - 1, 0, -1)))
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.final_conv = EqualConv2d(nf[0] + 1, nf[0], 3)
        self.final_dense = EqualLinear(nf[0] * 16, nf[0])
        self.out = EqualLinear(nf[0], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(_act(self.from_rgb(x)))
        h = _act(self.final_conv(self.mbstd(h)))
        return self.out(_act(self.final_dense(h.flatten(1)))).flatten()


def config_f_generator(data_shape: tuple[int, ...], z_dim: int, width: float = 1.0,
                       **kwargs: object) -> StyleGAN2Generator:
    """StyleGAN2's G with config F's published channels (the same network as config E's up to 32x32)."""
    return StyleGAN2Generator(data_shape, z_dim, width, **{"fmap_base": CONFIG_F_BASE, **kwargs})


def config_f_discriminator(data_shape: tuple[int, ...], width: float = 1.0, **kwargs: object) -> StyleGAN2Discriminator:
    """StyleGAN2's residual D with config F's published channels (as StyleGAN2-ADA's and StyleGAN3's train.py
    build it, channel_base 32768; the same network as config E's up to 32x32)."""
    return StyleGAN2Discriminator(data_shape, width, **{"fmap_base": CONFIG_F_BASE, **kwargs})


def growing_discriminator(data_shape: tuple[int, ...], width: float = 1.0, **_: object) -> ProGANDiscriminator:
    """D_stylegan of configs B-D: the growing D with StyleGAN2's layers."""
    return ProGANDiscriminator(data_shape, width, downsample="fir")


PAPER = ("Karras, Laine, Aittala, Hellsten, Lehtinen & Aila 2020, Analyzing and Improving the Image Quality of "
         "StyleGAN (arXiv:1912.04958)")
GROWING = {"lr_g": 1e-3, "lr_d": 1e-3, "batch": 64}
FULL = {"lr_g": 2e-3, "lr_d": 2e-3, "batch": 32}
BASE = Recipe(loss="ns", r1=R1_GAMMA_32PX, betas=(0.0, 0.99), ema_kimg=10.0, ema_rampup=0.05, **FULL)
LAZY = {"reg_every": 16, "pl_every": 4}
PATH_LENGTH = {"path_length": 2.0}

# Table 1 of the paper: each configuration adds one change to the one above it.
ABLATION = [
    ("a", "baseline StyleGAN (AdaIN, progressive growing, R1 every step)",
     StyleGANGenerator, StyleGANDiscriminator, {}, {**GROWING}),
    ("b", "+ weight demodulation (modulated convs replace AdaIN)",
     StyleGAN2Generator, growing_discriminator, {"architecture": "orig"}, {**GROWING}),
    ("c", "+ lazy regularization (R1 every 16 D steps)",
     StyleGAN2Generator, growing_discriminator, {"architecture": "orig"}, {**GROWING, **LAZY}),
    ("d", "+ path length regularization",
     StyleGAN2Generator, growing_discriminator, {"architecture": "orig"}, {**GROWING, **LAZY, **PATH_LENGTH}),
    ("e", "+ no growing, new G (skips) and D (residual)",
     StyleGAN2Generator, StyleGAN2Discriminator, {}, {**LAZY, **PATH_LENGTH, "r1": 10 * R1_GAMMA_32PX}),
    ("f", "+ large networks",
     StyleGAN2Generator, StyleGAN2Discriminator, {"fmap_cap": 2 * FMAP_MAX}, {**LAZY, **PATH_LENGTH}),
]

for letter, change, g_factory, d_factory, arch, recipe in ABLATION:
    register(Variant(
        name=f"stylegan2-{letter}", family="stylegan2", paper=f"{PAPER}, Table 1 config {letter.upper()}: {change}",
        generator=g_factory, discriminator=d_factory, recipe=replace(BASE, **recipe),
        data_kinds=("images",), arch=arch, z_dim=Z_DIM))

register(Variant(
    name="stylegan2", family="stylegan2",
    paper=f"{PAPER}; config F as published (at 32x32 its networks are config E's size)",
    generator=config_f_generator, discriminator=config_f_discriminator,
    recipe=replace(BASE, **LAZY, **PATH_LENGTH), data_kinds=("images",), z_dim=Z_DIM))

STYLEGAN2_ABLATION = [f"stylegan2-{letter}" for letter, *_ in ABLATION]
