"""ProGAN (Karras, Aila, Laine & Lehtinen, ICLR 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", arXiv:1710.10196), as in the authors' code (tkarras/progressive_growing_of_gans).

G: z (512-d) normalised to unit second moment, a dense layer to 4x4 x nf (gain sqrt(2)/4), leaky ReLU
and pixelwise normalization, a 3x3 conv; each further level doubles the size by repeating pixels and
applies two 3x3 convs, each followed by leaky ReLU(0.2) and pixelwise normalization; a 1x1 linear
"toRGB" per level. D mirrors it: "fromRGB" 1x1 conv per level, per level two 3x3 convs and 2x2 average
pooling, and at 4x4 minibatch standard deviation (group 4), a 3x3 conv, a dense layer and the linear
output. Every layer has an equalized learning rate (He gain sqrt(2), 1 for toRGB and the output) and
no batch norm. nf = min(8192 / 2^(log2(res) - 1), 512) is 512 at every level of a 32x32 network;
`width` scales it. Training grows from 4x4 with fade-ins (models/growing.py).
Recipe: WGAN-GP (lambda 10) plus the drift term 0.001 E[D(x)^2], one D step per G step, Adam lr 0.001,
betas (0, 0.99), G weights averaged with beta 0.999 for evaluation, minibatch 64 at 32x32, both Adam
states reset whenever a resolution starts or ends fading in. Departures for benchmark budgets: the
growing schedule is scaled to the budget (models/growing.py), the minibatch stays 64 at every
resolution (the authors' is 128 below 32x32), and the EMA's half-life (693 steps at beta 0.999) is at
most 5% of the images shown, as StyleGAN2-ADA ramps it (at 10 kimg, beta 0.999 would keep 85% of the
initial weights).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from models.growing import Growing, grown_image, grown_score
from models.minibatch import MinibatchStdDev
from models.registry import Recipe, Variant, register
from models.resample import FIR_121, FIR_1331, Blur
from models.style_layers import ACT_GAIN, EqualConv2d, EqualLinear, lrelu, pixel_norm

FMAP_BASE, FMAP_MAX = 8192, 512


def feature_maps(resolution: int, width: float, base: int = FMAP_BASE, cap: int = FMAP_MAX) -> int:
    """The published channel count at a resolution, times `width`."""
    return max(8, round(min(base // (resolution // 2), cap) * width))


def _act(x: torch.Tensor) -> torch.Tensor:
    return lrelu(x, gain=1.0)  # ProGAN puts the He gain into the weights' runtime scale


class ProGANGenerator(Growing):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0) -> None:
        super().__init__()
        channels, resolution, _ = data_shape
        self.init_growing(resolution)
        self.z_dim = z_dim
        nf = [feature_maps(4 * 2**j, width) for j in range(self.levels)]
        self.dense = EqualLinear(z_dim, nf[0] * 16, bias=False, gain=ACT_GAIN / 4)
        self.dense_bias = nn.Parameter(torch.zeros(nf[0]))  # one per feature map, as the authors' G_paper
        self.first_conv = EqualConv2d(nf[0], nf[0], 3, gain=ACT_GAIN)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualConv2d(nf[j - 1], nf[j], 3, gain=ACT_GAIN),
                           EqualConv2d(nf[j], nf[j], 3, gain=ACT_GAIN)]) for j in range(1, self.levels))
        self.to_rgb = nn.ModuleList(EqualConv2d(n, channels, 1, gain=1.0) for n in nf)

    def block(self, j: int, x: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        if j == 0:
            x = self.dense(pixel_norm(z)).view(z.shape[0], -1, 4, 4) + self.dense_bias.view(1, -1, 1, 1)
            x = pixel_norm(_act(x))
            return pixel_norm(_act(self.first_conv(x)))
        x = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        for conv in self.blocks[j - 1]:
            x = pixel_norm(_act(conv(x)))
        return x

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return grown_image(self.lod, self.levels, lambda j, x: self.block(j, x, z), lambda j, x: self.to_rgb[j](x))


DOWNSAMPLING = ("avgpool", "blur", "fir")


class ProGANDiscriminator(Growing):
    """ProGAN's growing D, and the growing Ds of the StyleGAN papers built on it: `downsample="blur"` is
    StyleGAN's D_basic (a [1, 2, 1] blur between a level's two convs), `"fir"` StyleGAN2's D_stylegan for
    configs B-D (the second conv strided after a [1, 3, 3, 1] low-pass, and StyleGAN2's layer
    convention: weight gain 1, bias, then leaky ReLU times sqrt(2))."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, mbstd_group: int = 4,
                 downsample: str = "avgpool") -> None:
        super().__init__()
        if downsample not in DOWNSAMPLING:
            raise ValueError(f"downsample must be one of {DOWNSAMPLING}, got {downsample!r}")
        channels, resolution, _ = data_shape
        self.init_growing(resolution)
        self.downsample = downsample
        stylegan2 = downsample == "fir"
        gain = 1.0 if stylegan2 else ACT_GAIN
        self.act_gain = ACT_GAIN if stylegan2 else 1.0
        nf = [feature_maps(4 * 2**j, width) for j in range(self.levels)]
        self.from_rgb = nn.ModuleList(EqualConv2d(channels, n, 1, gain=gain) for n in nf)
        self.blocks = nn.ModuleList()
        for j in range(1, self.levels):
            first = EqualConv2d(nf[j], nf[j], 3, gain=gain)
            if stylegan2:
                second = nn.Sequential(Blur(FIR_1331, pad=(2, 2)),
                                       EqualConv2d(nf[j], nf[j - 1], 3, gain=gain, stride=2, padding=0))
            elif downsample == "blur":
                second = nn.Sequential(Blur(FIR_121), EqualConv2d(nf[j], nf[j - 1], 3, gain=gain))
            else:
                second = EqualConv2d(nf[j], nf[j - 1], 3, gain=gain)
            self.blocks.append(nn.ModuleList([first, second]))
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.final_conv = EqualConv2d(nf[0] + 1, nf[0], 3, gain=gain)
        self.final_dense = EqualLinear(nf[0] * 16, nf[0], gain=gain)
        self.out = EqualLinear(nf[0], 1, gain=1.0)

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return lrelu(x, self.act_gain)

    def block(self, j: int, h: torch.Tensor) -> torch.Tensor:
        first, second = self.blocks[j - 1]
        h = self._act(second(self._act(first(h))))
        return h if self.downsample == "fir" else nn.functional.avg_pool2d(h, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = grown_score(x, self.lod, self.levels, lambda j, image: self._act(self.from_rgb[j](image)), self.block)
        h = self._act(self.final_conv(self.mbstd(h)))
        return self.out(self._act(self.final_dense(h.flatten(1)))).flatten()


register(
    Variant(
        name="progan",
        family="progan",
        paper="Karras, Aila, Laine & Lehtinen 2018, Progressive Growing of GANs for Improved Quality, Stability, "
        "and Variation (arXiv:1710.10196)",
        generator=ProGANGenerator,
        discriminator=ProGANDiscriminator,
        recipe=Recipe(loss="wgan-gp", penalty_weight=10.0, drift=0.001, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.99),
                      n_critic=1, batch=64, ema_beta=0.999, ema_rampup=0.05),
        data_kinds=("images",),
        z_dim=512,
    )
)
