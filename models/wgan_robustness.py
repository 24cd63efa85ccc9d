"""The architectures of WGAN-GP's robustness experiment (Gulrajani et al. 2017, arXiv:1704.00028, Section 5,
Figure 2, 64x64 LSUN bedrooms): one DCGAN baseline and six ways of breaking it, each trained with every loss
(the recipe here is DCGAN's; `+lsgan`, `+wgan`, `+wgan-gp` switch it).

The reference, igul222/improved_wgan_training@fa66c57 gan_64x64.py at 3x64x64 with DIM = 64 and z ~ N(0, I) of
128 dimensions. Convolutions use TF "SAME" padding and 5x5 kernels with biases unless said; a deconv is a 2x
transposed conv; `Normalize` is batch norm over (N, H, W) in G, and in D layer norm over (C, H, W) with a
per-channel scale and offset when MODE == 'wgan-gp' (batch norm under the other losses). Weights are uniform
with std 0.02 in the DCGAN functions (set_weights_stdev), else tflib's default: std sqrt(4 / (fan_in + fan_out))
for convs ("he_init"; sqrt(2 / ...) where he_init=False), Glorot sqrt(2 / (n_in + n_out)) for linears, and
sqrt(2 / n_in) for FCGenerator's ReLU layers, where a stride-2 conv's fan_out and a deconv's fan_in are / 4.
Biases start at 0, norm scales at 1.

- Baseline (G: DCGANGenerator, D: DCGANDiscriminator, both bn=True): G is linear 128 -> 4x4x8DIM, BN, ReLU, then
  deconvs to 4DIM, 2DIM, DIM, each BN + ReLU, then a deconv to 3 and tanh. D is convs (stride 2) 3 -> DIM,
  LeakyReLU(0.2), then DIM -> 2DIM -> 4DIM -> 8DIM, each Normalize + LeakyReLU, then linear 4x4x8DIM -> 1.
- No BN and a constant number of filters in G (WGANPaper_CrippledDCGANGenerator; D: DCGAN): linear 128 ->
  4x4xDIM, ReLU, three deconvs DIM -> DIM with ReLU, a deconv to 3, tanh; tflib's default init.
- 4-layer 512-unit ReLU MLP G (FCGenerator; D: DCGAN): four linear + ReLU layers of 512 from 128, a linear to
  3*64*64, tanh.
- No normalization in either G or D: the baseline's functions with bn=False.
- Gated multiplicative nonlinearities everywhere (MultiplicativeDCGANGenerator / -Discriminator): the baseline's
  layers with every hidden layer's output channels doubled (and normalized, where the baseline normalizes, over
  all of them), then sigmoid(even channels) * tanh(odd channels) (`pixcnn_gated_nonlinearity`); tflib's default
  init, not 0.02.
- tanh nonlinearities everywhere: the baseline's functions with nonlinearity=tanh in G and D, bn=True.
- 101-layer ResNet G and D (ResnetGenerator / ResnetDiscriminator), of bottleneck blocks: ReLU, 1x1 conv
  C_in -> C_in/2, ReLU, 3x3 conv C_in/2 -> C_out/2 (stride 2 going down, a 3x3 deconv going up), ReLU, 1x1 conv
  -> C_out without bias, Normalize; output shortcut + 0.3 x branch, the shortcut the identity or a 1x1 conv
  (he_init=False; stride 2 going down; going up to 4 C_out, then depth-to-space). G: linear 128 -> 4x4x8DIM, six
  blocks at 4x4, then per doubling an up block and six blocks (4DIM at 8x8, 2DIM, DIM, DIM/2 at 64x64, where five),
  a 1x1 conv DIM/2 -> 3 (he_init=False), tanh(x / 5). D mirrors it: a 1x1 conv 3 -> DIM/2, five blocks at 64x64,
  then per halving a down block and six blocks up to 8DIM at 4x4, linear -> 1, output / 5. 33 blocks of 3 convs,
  plus the input and output layers: 101.

What we build: the same layers, init and channel rules at any square power-of-two size R >= 16 with
k = log2(R) - 2 stride-2 stages (the 4x4 map has DIM * 2^(k-1) channels: 8DIM at 64x64 as gan_64x64.py and
4DIM at 32x32 as the same repository's gan_cifar.py). DIM = round(64 x width) and the MLP's 512 units scale with
`width` too; z has 128 dimensions as the reference. ResNet depth: `blocks` per resolution (the reference's 6; the
full-size stage one fewer), layers = 3 ((k + 1) blocks - 1 + k) + 2. The registered `wgan-arch-resnet` takes
blocks = 1 at 32x32: 3 (4 x 1 - 1 + 3) + 2 = 20 layers (a block at 4x4, 8x8 and 16x16, the up/down blocks
between, none more at 32x32), four times DCGAN's five and the deepest that keeps a step within ~5x DCGAN's on two
CPU cores: a step (G + D forward and backward, batch 64, width 0.25, 1x32x32) costs ~0.13 s, ~3.8x
`wgan-arch-dcgan`'s and ~4.9x `dcgan`'s; blocks = 2 (32 layers) ~6x and ~7.5x, the reference's 6 (80 layers at
32x32) ~14x and ~18x.

Where PyTorch differs from the reference with no effect on the layers: symmetric padding (TF's SAME pads a
stride-2 conv one pixel less at the start), PixelShuffle's channel order for depth-to-space, and ResNet D's / 5
taken on its features (before the head's bias, not after it) so that options reading `features` see the same D.
G's samples for evaluation come from eval mode, so its batch norm uses running averages there, where tflib's (as
gan_64x64.py calls it) always takes the batch's statistics.

Layer norm over (C, H, W) with a per-channel affine is nn.GroupNorm(1, C). The option `+ln-d` turns it on in every
D here (d_norm="layer"); D's default is batch norm. Every factory takes both networks' settings, since an
architecture option reaches G and D alike.

The baseline here is `wgan-arch-dcgan`, the reference's DCGAN G and D built by this module, not models/dcgan.py's
`dcgan`: that one is pytorch/examples' network (4x4 kernels, no biases, z of 100 through a transposed conv), its
factories take no `d_norm` so `dcgan+ln-d` cannot compose, and a family here importing models/dcgan.py would make
that file a code dependency of every variant below.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise

import torch
import torch.nn as nn

from models.base import FeatureDiscriminator
from models.registry import Option, Recipe, Variant, register, register_option

REFERENCE = "igul222/improved_wgan_training@fa66c57 gan_64x64.py"
PUBLISHED_DIM = 64
MLP_UNITS = 512
Z_DIM = 128
REFERENCE_BLOCKS = 6
RESNET_BLOCKS = 1  # the registered depth at our scale: see the module docstring
RESIDUAL_SCALE = 0.3  # BottleneckResidualBlock returns shortcut + 0.3 x branch
DCGAN_STD = 0.02
NORMS = ("batch", "layer")


def dim_at(width: float) -> int:
    """The reference's DIM (64 at width 1)."""
    return max(1, round(PUBLISHED_DIM * width))


def doublings(data_shape: tuple[int, ...]) -> int:
    """Stride-2 stages between 4x4 and the image (3 at 32x32, 4 at 64x64); other sizes are refused."""
    height, width = data_shape[1:]
    if height != width or height < 16 or height & (height - 1):
        raise ValueError(f"these networks are built for square power-of-two images from 16x16 up, got {data_shape}")
    return height.bit_length() - 3


def _uniform(layer: nn.Module, std: float) -> nn.Module:
    """tflib's init: weights uniform with standard deviation `std`, biases 0."""
    bound = std * math.sqrt(3)
    nn.init.uniform_(layer.weight, -bound, bound)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def conv(c_in: int, c_out: int, k: int, stride: int = 1, std: float | None = None, he: bool = True,
         bias: bool = True) -> nn.Conv2d:
    """tflib Conv2D: a k x k conv, output R / stride; std None is tflib's default for it."""
    if std is None:
        std = math.sqrt((4 if he else 2) / (c_in * k * k + c_out * k * k / stride**2))
    return _uniform(nn.Conv2d(c_in, c_out, k, stride, (k - 1) // 2, bias=bias), std)


def deconv(c_in: int, c_out: int, k: int, std: float | None = None) -> nn.ConvTranspose2d:
    """tflib Deconv2D: a k x k transposed conv, output 2R."""
    if std is None:
        std = math.sqrt(4 / (c_in * k * k / 4 + c_out * k * k))
    return _uniform(nn.ConvTranspose2d(c_in, c_out, k, 2, (k - 1) // 2, output_padding=1), std)


def linear(n_in: int, n_out: int, std: float | None = None, he: bool = False) -> nn.Linear:
    """tflib Linear: Glorot init, or He (`initialization='he'`) for FCGenerator's ReLU layers."""
    if std is None:
        std = math.sqrt(2 / n_in if he else 2 / (n_in + n_out))
    return _uniform(nn.Linear(n_in, n_out), std)


def d_normalization(d_norm: str, channels: int) -> nn.Module:
    """D's `Normalize`: batch norm, or layer norm over (C, H, W) with a per-channel affine (GroupNorm, 1 group)."""
    if d_norm not in NORMS:
        raise ValueError(f"d_norm must be one of {', '.join(NORMS)}, got {d_norm!r}")
    return nn.BatchNorm2d(channels) if d_norm == "batch" else nn.GroupNorm(1, channels)


class Gate(nn.Module):
    """`pixcnn_gated_nonlinearity(x[:, ::2], x[:, 1::2])` = sigmoid(even channels) * tanh(odd channels)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x[:, 0::2]) * torch.tanh(x[:, 1::2])


ACTIVATIONS = {"relu": nn.ReLU, "leaky-relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh, "gated": Gate}


def activation(nonlinearity: str) -> nn.Module:
    if nonlinearity not in ACTIVATIONS:
        raise ValueError(f"nonlinearity must be one of {', '.join(ACTIVATIONS)}, got {nonlinearity!r}")
    return ACTIVATIONS[nonlinearity]()


def _gating(nonlinearity: str) -> tuple[int, float | None]:
    """Channels before the unit per channel after it, and the init std: the reference's gated networks double
    their layers and keep tflib's default init; its DCGAN functions set 0.02."""
    return (2, None) if nonlinearity == "gated" else (1, DCGAN_STD)


class DCGANGenerator(nn.Module):
    """gan_64x64.py DCGANGenerator(bn, nonlinearity), and MultiplicativeDCGANGenerator as nonlinearity="gated".
    `d_norm` is D's setting (an architecture option reaches both networks): taken and ignored."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, d_norm: str = "batch",
                 bn: bool = True, nonlinearity: str = "relu") -> None:
        super().__init__()
        k, dim = doublings(data_shape), dim_at(width)
        mult, std = _gating(nonlinearity)
        widths = [dim * 2**i for i in reversed(range(k))]  # 8DIM, 4DIM, 2DIM, DIM at 64x64

        def unit(c: int) -> list[nn.Module]:
            return [nn.BatchNorm2d(c * mult), activation(nonlinearity)] if bn else [activation(nonlinearity)]

        layers = [linear(z_dim, 16 * widths[0] * mult, std), nn.Unflatten(1, (widths[0] * mult, 4, 4)),
                  *unit(widths[0])]
        for c_in, c_out in pairwise(widths):
            layers += [deconv(c_in, c_out * mult, 5, std), *unit(c_out)]
        self.net = nn.Sequential(*layers, deconv(dim, data_shape[0], 5, std), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class DCGANDiscriminator(FeatureDiscriminator):
    """gan_64x64.py DCGANDiscriminator(bn, nonlinearity), and MultiplicativeDCGANDiscriminator as
    nonlinearity="gated"; `Normalize` is `d_norm`'s (nothing without bn)."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, d_norm: str = "batch", bn: bool = True,
                 nonlinearity: str = "leaky-relu") -> None:
        super().__init__()
        k, dim = doublings(data_shape), dim_at(width)
        mult, std = _gating(nonlinearity)
        d_normalization(d_norm, 1)  # a wrong value is refused even where nothing normalizes
        widths = [dim * 2**i for i in range(k)]  # DIM, 2DIM, 4DIM, 8DIM at 64x64
        layers = [conv(data_shape[0], dim * mult, 5, 2, std), activation(nonlinearity)]
        for c_in, c_out in pairwise(widths):
            norm = [d_normalization(d_norm, c_out * mult)] if bn else []
            layers += [conv(c_in, c_out * mult, 5, 2, std), *norm, activation(nonlinearity)]
        self.trunk = nn.Sequential(*layers)
        self.head = linear(16 * widths[-1], 1, std)


class CrippledDCGANGenerator(nn.Module):
    """gan_64x64.py WGANPaper_CrippledDCGANGenerator: no normalization, DIM filters in every layer."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, d_norm: str = "batch") -> None:
        super().__init__()
        k, dim = doublings(data_shape), dim_at(width)
        layers = [linear(z_dim, 16 * dim), nn.ReLU(), nn.Unflatten(1, (dim, 4, 4))]
        for _ in range(k - 1):
            layers += [deconv(dim, dim, 5), nn.ReLU()]
        self.net = nn.Sequential(*layers, deconv(dim, data_shape[0], 5), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class FCGenerator(nn.Module):
    """gan_64x64.py FCGenerator: four ReLU layers of 512 units (x width), a linear layer to the image, tanh."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, d_norm: str = "batch") -> None:
        super().__init__()
        units = max(1, round(MLP_UNITS * width))
        layers: list[nn.Module] = []
        for n_in in (z_dim, units, units, units):
            layers += [linear(n_in, units, he=True), nn.ReLU()]
        self.net = nn.Sequential(*layers, linear(units, math.prod(data_shape)), nn.Tanh(),
                                 nn.Unflatten(1, tuple(data_shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Bottleneck(nn.Module):
    """gan_64x64.py BottleneckResidualBlock; resample None, "up" or "down"."""

    def __init__(self, c_in: int, c_out: int, resample: str | None = None,
                 norm: Callable[[int], nn.Module] = nn.BatchNorm2d) -> None:
        super().__init__()
        mid_in, mid_out = max(1, c_in // 2), max(1, c_out // 2)
        if resample == "down":
            middle, self.shortcut = conv(mid_in, mid_out, 3, 2), conv(c_in, c_out, 1, 2, he=False)
        elif resample == "up":  # the shortcut is SubpixelConv2D: a 1x1 conv to 4 c_out, then depth-to-space
            middle = deconv(mid_in, mid_out, 3)
            self.shortcut = nn.Sequential(conv(c_in, 4 * c_out, 1, he=False), nn.PixelShuffle(2))
        else:
            middle = conv(mid_in, mid_out, 3)
            self.shortcut = nn.Identity() if c_in == c_out else conv(c_in, c_out, 1, he=False)
        self.branch = nn.Sequential(nn.ReLU(), conv(c_in, mid_in, 1), nn.ReLU(), middle, nn.ReLU(),
                                    conv(mid_out, c_out, 1, bias=False), norm(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + RESIDUAL_SCALE * self.branch(x)


def resnet_layers(data_shape: tuple[int, ...], blocks: int) -> int:
    """Weight layers on the residual path of ResnetGenerator / ResnetDiscriminator: 101 at 64x64, 6 blocks."""
    k = doublings(data_shape)
    return 3 * ((k + 1) * blocks - 1 + k) + 2


def _check_blocks(blocks: int) -> None:
    if blocks < 1:
        raise ValueError(f"blocks (per resolution) must be >= 1, got {blocks}")


class ResnetGenerator(nn.Module):
    """gan_64x64.py ResnetGenerator with `blocks` bottleneck blocks per resolution (the reference's 6)."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, d_norm: str = "batch",
                 blocks: int = REFERENCE_BLOCKS) -> None:
        super().__init__()
        _check_blocks(blocks)
        k, half = doublings(data_shape), max(1, dim_at(width) // 2)
        widths = [half * 2 ** (k - s) for s in range(k + 1)]  # 4x4 up to R: 8DIM ... DIM/2 at 64x64
        layers = [linear(z_dim, 16 * widths[0]), nn.Unflatten(1, (widths[0], 4, 4))]
        for s, c in enumerate(widths):
            layers += [Bottleneck(widths[s - 1], c, "up")] if s else []
            layers += [Bottleneck(c, c) for _ in range(blocks - (s == k))]
        self.net = nn.Sequential(*layers, conv(half, data_shape[0], 1, he=False))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(z) / 5)


class ResnetDiscriminator(FeatureDiscriminator):
    """gan_64x64.py ResnetDiscriminator with `blocks` bottleneck blocks per resolution (the reference's 6)."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, d_norm: str = "batch",
                 blocks: int = REFERENCE_BLOCKS) -> None:
        super().__init__()
        _check_blocks(blocks)
        k, half = doublings(data_shape), max(1, dim_at(width) // 2)
        widths = [half * 2**s for s in range(k + 1)]  # R down to 4x4: DIM/2 ... 8DIM at 64x64

        def norm(c: int) -> nn.Module:
            return d_normalization(d_norm, c)

        layers: list[nn.Module] = [conv(data_shape[0], half, 1, he=False)]
        for s, c in enumerate(widths):
            layers += [Bottleneck(widths[s - 1], c, "down", norm)] if s else []
            layers += [Bottleneck(c, c, norm=norm) for _ in range(blocks - (s == 0))]
        self.trunk = nn.Sequential(*layers)
        self.head = linear(16 * widths[-1], 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return super().features(x) / 5  # the reference's output / 5, taken before the head


RECIPE = Recipe(loss="ns", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1, batch=64)
PAPER = ("Gulrajani et al. 2017, Improved Training of Wasserstein GANs (arXiv:1704.00028), Figure 2 ("
         f"{REFERENCE}): ")


def _register(name: str, what: str, generator: Callable[..., nn.Module], discriminator: Callable[..., nn.Module],
              **arch: object) -> None:
    register(Variant(name=name, family="wgan-gp-robustness", paper=PAPER + what, generator=generator,
                     discriminator=discriminator, recipe=RECIPE, data_kinds=("images",), arch=arch, z_dim=Z_DIM))


_register("wgan-arch-dcgan", "DCGAN G and D (the baseline)", DCGANGenerator, DCGANDiscriminator)
_register("wgan-arch-nobn-g", "no BN and a constant number of filters in G", CrippledDCGANGenerator,
          DCGANDiscriminator)
_register("wgan-arch-mlp-g", "4-layer 512-unit ReLU MLP G", FCGenerator, DCGANDiscriminator)
_register("wgan-arch-no-norm", "no normalization in either G or D", DCGANGenerator, DCGANDiscriminator, bn=False)
_register("wgan-arch-gated", "gated multiplicative nonlinearities everywhere", DCGANGenerator, DCGANDiscriminator,
          nonlinearity="gated")
_register("wgan-arch-tanh", "tanh nonlinearities everywhere", DCGANGenerator, DCGANDiscriminator,
          nonlinearity="tanh")
_register("wgan-arch-resnet", f"the 101-layer ResNet G and D, {RESNET_BLOCKS} block per resolution instead of 6 "
          "(20 layers at 32x32)", ResnetGenerator, ResnetDiscriminator, blocks=RESNET_BLOCKS)

register_option(Option(
    "ln-d", "architecture", "Gulrajani et al. 2017 (arXiv:1704.00028), layer norm instead of batch norm in D, as "
    "the paper does for its gradient-penalty critic (a batch-normalized critic's per-sample gradient is not "
    f"defined; {REFERENCE} Normalize); the wgan-gp-robustness variants", arch={"d_norm": "layer"}))
