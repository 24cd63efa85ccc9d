"""StyleGAN (Karras, Laine & Aila, CVPR 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks", arXiv:1812.04948), as the authors' G_style and D_basic (NVlabs/stylegan).

G: the mapping network (z normalised, 8 dense layers of 512, lr multiplier 0.01) gives w; the synthesis
network starts from a learned 4x4 constant (ones at init) and at every layer applies: per-pixel noise
(one map per sample, a learned strength per channel, zero at init), bias, leaky ReLU, then AdaIN with
a per-layer affine map of w (instance norm, x (1 + y_s) + y_b). A level is nearest-neighbour x2
upsampling, a 3x3 conv, a [1, 2, 1] blur and that epilogue, then a 3x3 conv and the epilogue. toRGB is a
1x1 conv per level; training grows from 4x4 with fade-ins (models/growing.py). Style mixing: with
probability 0.9 a batch switches to a second z's w at a random layer. Truncation in W (psi around the
tracked mean w, beta 0.995) applies to the first 8 layers when asked for; evaluation samples untruncated.
D is ProGAN's D with the [1, 2, 1] blur (D_basic). Every layer has an equalized learning rate (gain
sqrt(2) in the weights). nf is 512 at every level of a 32x32 network (fmap_base 8192); `width` scales nf
and the mapping width.
Recipe: non-saturating logistic loss with R1 (gamma 10 at 1024x1024; scaled by resolution squared, 0.01
at 32x32, the value StyleGAN2-ADA uses for CIFAR-10), every D step; Adam lr 0.001, betas (0, 0.99);
minibatch 64 at 32x32; G averaged with a half-life of 10 kimg (at most 5% of the images shown, as
StyleGAN2-ADA ramps it: see bench/training/ema.py EmaDecay).
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.growing import Growing, grown_image, level_and_alpha
from models.progan import ProGANDiscriminator, feature_maps
from models.registry import Recipe, Variant, register
from models.resample import FIR_121, Blur
from models.style_layers import ACT_GAIN, AdaIN, EqualConv2d, NoiseInjection, StyleSource, lrelu

Z_DIM, W_DIM = 512, 512
R1_GAMMA_32PX = 0.01  # gamma 10 at 1024^2 x (32 / 1024)^2, rounded as StyleGAN2-ADA's CIFAR-10 value


class Epilogue(nn.Module):
    """StyleGAN's per-layer epilogue: noise, bias, leaky ReLU, AdaIN(w)."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.noise = NoiseInjection(channels)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.adain = AdaIN(channels, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.adain(lrelu(self.noise(x) + self.bias.view(1, -1, 1, 1), gain=1.0), w)


class StyleGANGenerator(Growing):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, mixing_prob: float = 0.9) -> None:
        super().__init__()
        channels, resolution, _ = data_shape
        self.init_growing(resolution)
        self.z_dim, self.w_dim = z_dim, max(8, round(W_DIM * width))
        self.num_ws = 2 * self.levels
        self.style = StyleSource(z_dim, self.w_dim, self.num_ws, mixing_prob=mixing_prob, truncation_cutoff=8)
        nf = [feature_maps(4 * 2**j, width) for j in range(self.levels)]
        self.const = nn.Parameter(torch.ones(1, nf[0], 4, 4))
        conv = functools.partial(EqualConv2d, kernel=3, bias=False, gain=ACT_GAIN)  # the epilogue adds the bias
        self.convs = nn.ModuleList([conv(nf[0], nf[0])])
        self.blurs = nn.ModuleList([nn.Identity()])
        for j in range(1, self.levels):
            self.convs.extend([conv(nf[j - 1], nf[j]), conv(nf[j], nf[j])])
            self.blurs.append(Blur(FIR_121))
        self.epilogues = nn.ModuleList(Epilogue(nf[k // 2], self.w_dim) for k in range(self.num_ws))
        self.to_rgb = nn.ModuleList(EqualConv2d(n, channels, 1, gain=1.0) for n in nf)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.style.w_avg

    def active_ws(self) -> int:
        """The layers the current lod runs (style mixing draws its switch among them)."""
        i, alpha = level_and_alpha(self.lod, self.levels)
        return 2 * (i + 1 + (alpha > 0))

    def styles(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        return self.style(z, psi, active=self.active_ws())

    def block(self, j: int, x: torch.Tensor | None, ws: torch.Tensor) -> torch.Tensor:
        if j == 0:
            x = self.epilogues[0](self.const.expand(ws.shape[0], -1, -1, -1), ws[:, 0])
            return self.epilogues[1](self.convs[0](x), ws[:, 1])
        x = self.blurs[j](self.convs[2 * j - 1](F.interpolate(x, scale_factor=2, mode="nearest")))
        x = self.epilogues[2 * j](x, ws[:, 2 * j])
        return self.epilogues[2 * j + 1](self.convs[2 * j](x), ws[:, 2 * j + 1])

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        return grown_image(self.lod, self.levels, lambda j, x: self.block(j, x, ws), lambda j, x: self.to_rgb[j](x))

    def forward(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        return self.synthesis(self.styles(z, psi))


StyleGANDiscriminator = functools.partial(ProGANDiscriminator, downsample="blur")

STYLEGAN_RECIPE = Recipe(loss="ns", r1=R1_GAMMA_32PX, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.99), batch=64,
                         ema_kimg=10.0, ema_rampup=0.05)

register(
    Variant(
        name="stylegan",
        family="stylegan",
        paper="Karras, Laine & Aila 2019, A Style-Based Generator Architecture for Generative Adversarial "
        "Networks (arXiv:1812.04948)",
        generator=StyleGANGenerator,
        discriminator=StyleGANDiscriminator,
        recipe=STYLEGAN_RECIPE,
        data_kinds=("images",),
        z_dim=Z_DIM,
    )
)
