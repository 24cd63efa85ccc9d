"""Projected GAN (Sauer, Chitta, Müller & Geiger, NeurIPS 2021, "Projected GANs Converge Faster",
arXiv:2111.01007): a discriminator on the features of a frozen ImageNet network, and the FastGAN-lite
generator it is published with; the settings of the authors' code (autonomousvision/projected-gan@e1c246b,
train.py `--cfg=fastgan_lite`).

Discriminator (`ProjectedDiscriminator`), from the image to the logits:
- grayscale images are repeated to 3 channels; images smaller than `feature_resolution` (224, the reference's
  `interp224`) are resized to it, bilinear, align_corners=False; x stays in [-1, 1], which is what the
  network's weights expect (mean = std = 0.5 on [0, 1]);
- the feature network: EfficientNet-lite0 with its ImageNet weights (models/efficientnet_lite.py, timm's
  tf_efficientnet_lite0), cut after stages 1, 2, 4 and 6 (the reference's stem + blocks[0:2], [2:3], [3:5],
  [5:9]): 24, 40, 112, 320 channels at strides 4, 8, 16, 32 (56, 28, 14, 7 at 224). Frozen, always in eval
  mode (BatchNorm uses its ImageNet statistics, whatever `.train()` says);
- CCM (cross-channel mixing): a random 1x1 conv with bias on each of the four maps, to 64, 128, 256, 512
  channels (`cout` 64, `expand`);
- CSM (cross-scale mixing, `proj_type=2`), from the deepest map up: the deeper mixed map is added to this
  level's CCM output (nothing added at the deepest), upsampled x2 (bilinear, align_corners=True) and put
  through a random 1x1 conv with bias that halves the channels (the shallowest keeps its 64). The four maps
  the discriminators see are then 64, 64, 128, 256 channels at strides 2, 4, 8, 16 (112, 56, 28, 14 at 224);
- CCM and CSM are initialised like PyTorch's default nn.Conv2d and never trained: the reference freezes
  the whole `feature_network` (pretrained net + CCM + CSM) in every D step. Here all frozen weights are
  buffers, not parameters, so no optimizer sees them and `requires_grad_(True)` on D (the harness does that
  every step) cannot unfreeze them; gradients still flow through them to the input image, so G learns;
- four patch discriminators (`MultiScaleD`, `num_discs=4`), one per map: DownBlocks (spectrally normalised
  4x4 stride-2 conv with bias, BatchNorm, LeakyReLU(0.2)) with the channel table {4: 512, 8: 512, 16: 256,
  32: 128, 64: 64, 128: 64, 256: 32, 512: 16, 1024: 8} (by feature-map side), down to side 8, then a
  spectrally normalised 4x4 conv (no padding, no bias) to one logit per patch. The reference counts the
  DownBlocks as if the maps came from a 256x256 input (sides 128, 64, 32, 16: 4, 3, 2, 1 DownBlocks), also
  at 224 (maps 112 ... 14: each D ends on 7x7, 4x4 logits, 64 per image). Below 224 (our CPU extension),
  those nominal sides are divided by the power of two nearest to 224 / feature_resolution, so that the last
  map stays at least 4x4: 128 -> 3, 2, 1, 0 DownBlocks (5x5 logits each), 64 -> 2, 1, 0, 0 (5x5, 5x5, 5x5,
  1x1). `width` scales the table's channels (the trainable part); the first layer of each D takes the CSM
  channels, and the pretrained network, CCM and CSM are never scaled;
- class-conditional (`n_classes`, the reference's `cond=1`, SingleDiscCond): the last conv maps to 64
  channels, whose dot product with an embedding of the class (nn.Embedding to 128, then linear to 64 and
  LeakyReLU(0.2)), divided by sqrt(64), is the logit. The reference's embedding always has 1000 rows (its
  default c_dim, which MultiScaleD does not pass on); ours has `n_classes`.
Spectral norm is torch's parametrization (one power iteration per training forward), where the reference
uses the older torch.nn.utils.spectral_norm hook: the same normalisation, a different start of u.

The reference's loss (training/loss.py) is the hinge on every patch logit of every scale, averaged over all
of them; G minimises the mean of -logit. `forward(x)` here returns one score per image, the mean of its patch
logits (`logits(x)` gives all of them, N x patches): G's loss is then exactly the reference's, D's hinge is
taken on the mean instead of averaged over patches (the same when all of an image's logits lie on one side of
the margin; otherwise a weaker D loss). DiffAugment: the reference always applies `color,translation,cutout`
to D's input; here it is the recipe's `diffaug` (the harness's implementation), not part of this module.
Harness D-side options it cannot take: feature matching and the minibatch features (+fm, +mbstd, +mbd: it is
no models/base.py FeatureDiscriminator, its features are four maps, not one vector); the `+sn` option is a
no-op for the unconditional D (its convs already carry spectral norm; the frozen network is not made of
nn.Conv2d) and would add spectral norm to the class embedding and its projection of the conditional one.

Cost (forward, per image, torch.utils.flop_counter's FLOPs = 2 x multiply-adds): the frozen part (EfficientNet-
lite0 trunk at `feature_resolution`, CCM, CSM) 1.03 GFLOP at 224, 0.34 at 128, 0.08 at 64; the patch
discriminators 2.26 / 1.34 / 0.47 GFLOP at width 1 and 0.15 / 0.08 / 0.03 at width 1/8 (the 4x4 convs on the
112x112 and 56x56 maps dominate at 224). Every D pass (reals, fakes, G's step) runs all of it forward, and
backward through the frozen part for fakes, so on a CPU the option `+projected-64` (or a variant of ours with
`arch={"feature_resolution": 64}`) is the affordable one (a whole D forward at width 1/8: 1.18 GFLOP at 224, 0.42
at 128, 0.11 at 64).

Generator (`FastGANLiteGenerator`, the reference's FastganSynthesis with lite=True, ngf 128, z_dim 256): z is
scaled to unit second moment (z / sqrt(mean z^2)); a spectrally normalised 4x4 transposed conv (no bias) to
2 x 16ngf channels at 4x4, BatchNorm, GLU (16ngf channels); then per doubling an UpBlockSmall: nearest x2,
spectrally normalised 3x3 conv (no bias) to twice the stage's channels, BatchNorm, GLU. Stage channels by
side: {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125} x ngf. Skip-layer
excitation (SEBlock: adaptive average pool of a small map to 4x4, spectrally normalised 4x4 conv, swish, 1x1
conv, sigmoid, multiplied channel-wise into the big map) gates side 64 from side 4, 128 from 8, 256 from 16,
512 from 32. The image is a spectrally normalised 3x3 conv with bias from the last stage, no tanh (as the
reference). The reference builds every stage up to 256 whatever the image size and returns the 128 or 256
map (it fails below 128); ours stops at the image size, so a 32x32 G is the init layer, three UpBlocks and
the output conv, without SE blocks. `width` scales ngf. Class-conditional (`n_classes`): the class's
embedding (nn.Embedding to z_dim) sets a gain 1 + linear(e) and a bias linear(e) (spectrally normalised) of
the BatchNorm of every UpBlock (the reference's CCBN: batch statistics, no affine of its own).

Recipe (train.py, `--cfg fastgan_lite`, the README's batch 64): hinge loss, Adam lr 2e-4 for both, betas
(0, 0.99), one D step per G step, EMA of G with half-life batch x 10 / 32 kimg (20 kimg at 64) and ramp-up
0.05 (training_loop.py's default), DiffAugment color,translation,cutout, no R1 or any other penalty.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from models.efficientnet_lite import NAME as EFFICIENTNET_NAME
from models.efficientnet_lite import SPLIT_CHANNELS, SPLITS, efficientnet_lite0, freeze_as_buffers
from models.registry import Option, Recipe, Variant, register, register_option

# --- discriminator -------------------------------------------------------------------------------------------

FEATURE_RESOLUTION = 224  # the reference's interp224
MIN_FEATURE_RESOLUTION = 64  # below, the deepest map is 1x1 and the CSM's 2x2 cannot take a 4x4 conv
CCM_CHANNELS = 64  # `cout`; with `expand` the four CCM outputs are 64, 128, 256, 512
NOMINAL_SIDES = (128, 64, 32, 16)  # the side each D assumes for its map (the reference: a 256x256 input)
END_SIDE = 8  # each D halves its map down to this nominal side, then a 4x4 conv to the logits
D_CHANNELS = {4: 512, 8: 512, 16: 256, 32: 128, 64: 64, 128: 64, 256: 32, 512: 16, 1024: 8}
CMAP_DIM, CLASS_EMBEDDING = 64, 128  # SingleDiscCond


class FixedConv1x1(nn.Module):
    """A random 1x1 conv with bias, initialised as PyTorch's nn.Conv2d, held in buffers: never trained."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        init = nn.Conv2d(c_in, c_out, 1)  # kaiming_uniform(a=sqrt(5)) weight, U(+-1/sqrt(fan_in)) bias
        self.register_buffer("weight", init.weight.detach())
        self.register_buffer("bias", init.bias.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, fixed"


class CrossScaleMix(nn.Module):
    """(deeper + this level) -> bilinear x2 (align_corners=True) -> fixed 1x1 conv."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.project = FixedConv1x1(c_in, c_out)

    def forward(self, x: torch.Tensor, deeper: torch.Tensor | None = None) -> torch.Tensor:
        if deeper is not None:
            x = x + deeper
        return self.project(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))


class FeatureProjector(nn.Module):
    """The frozen part of D: EfficientNet-lite0 cut in four, CCM and CSM. Its outputs are the four maps the
    patch discriminators see, shallowest first."""

    def __init__(self, weights: str | None = None) -> None:
        super().__init__()
        net = efficientnet_lite0(pretrained=True, weights=weights)
        first = nn.Sequential(net.conv_stem, net.bn1, nn.ReLU6())
        self.pieces = nn.ModuleList([nn.Sequential(*((first,) if i == 0 else ()), *net.blocks[a:b])
                                     for i, (a, b) in enumerate(SPLITS)])
        ccm_out = [CCM_CHANNELS * 2**i for i in range(len(SPLITS))]  # expand: 64, 128, 256, 512
        self.ccm = nn.ModuleList([FixedConv1x1(c, o) for c, o in zip(SPLIT_CHANNELS, ccm_out, strict=True)])
        csm_out = [ccm_out[0]] + [c // 2 for c in ccm_out[1:]]  # 64, 64, 128, 256: the shallowest keeps its width
        self.csm = nn.ModuleList([CrossScaleMix(c, o) for c, o in zip(ccm_out, csm_out, strict=True)])
        self.channels = tuple(csm_out)
        freeze_as_buffers(self)
        self.eval()

    def train(self, mode: bool = True) -> FeatureProjector:
        return super().train(False)  # the pretrained BatchNorm statistics are part of the fixed network

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        mixed = []
        for piece, ccm in zip(self.pieces, self.ccm, strict=True):
            x = piece(x)
            mixed.append(ccm(x))
        out: list[torch.Tensor] = [None] * len(mixed)  # type: ignore[list-item]
        deeper = None
        for i in reversed(range(len(mixed))):
            deeper = out[i] = self.csm[i](mixed[i], deeper)
        return out


def feature_sides(side: int) -> list[int]:
    """Sides of the four CSM maps for an input of `side` (TF "SAME": each stride-2 stage rounds up)."""
    sides, s = [], side
    for stride in (4, 2, 2, 2):
        for _ in range(stride.bit_length() - 1):
            s = math.ceil(s / 2)
        sides.append(s)
    return [2 * s for s in sides]


def nominal_sides(side: int) -> list[int]:
    """The side each patch D assumes for its map: the reference's 128, 64, 32, 16 from 224 up; for smaller
    inputs divided by the power of two nearest to 224 / side."""
    if side >= FEATURE_RESOLUTION:
        return list(NOMINAL_SIDES)
    shrink = 2 ** round(math.log2(FEATURE_RESOLUTION / side))
    return [max(1, s // shrink) for s in NOMINAL_SIDES]


def scaled(c: int, width: float) -> int:
    return max(1, round(c * width))


def sn_conv(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True) -> nn.Module:
    return spectral_norm(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias))


class DownBlock(nn.Sequential):
    """Spectrally normalised 4x4 stride-2 conv with bias, BatchNorm, LeakyReLU(0.2): halves the side."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(sn_conv(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))


class PatchDiscriminator(nn.Module):
    """DownBlocks from the nominal side `start` down to END_SIDE, then a 4x4 conv to logits (or, with classes,
    to CMAP_DIM channels projected onto the class's embedding)."""

    def __init__(self, c_in: int, start: int, width: float = 1.0, n_classes: int = 0) -> None:
        super().__init__()
        layers, c, s = [], c_in, start
        while s > END_SIDE:
            c_out = scaled(D_CHANNELS[s // 2], width)
            layers.append(DownBlock(c, c_out))
            c, s = c_out, s // 2
        self.main = nn.Sequential(*layers)
        self.halvings = len(layers)
        self.n_classes = n_classes
        self.out = sn_conv(c, CMAP_DIM if n_classes else 1, 4, bias=False)
        if n_classes:
            self.embed = nn.Embedding(n_classes, CLASS_EMBEDDING)
            self.embed_proj = nn.Sequential(nn.Linear(CLASS_EMBEDDING, CMAP_DIM), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.out(self.main(x))
        if not self.n_classes:
            return out.flatten(1)
        if y is None:
            raise ValueError("this discriminator is class-conditional: pass the labels y")
        cmap = self.embed_proj(self.embed(y))[:, :, None, None]
        return ((out * cmap).sum(dim=1) / math.sqrt(CMAP_DIM)).flatten(1)


class ProjectedDiscriminator(nn.Module):
    """Projected GAN's D for images of `data_shape` (C, H, W), C 1 or 3, x in [-1, 1]. `forward(x[, y])` is one
    score per image (the mean of its patch logits); `logits(x[, y])` all patch logits (N x patches)."""

    pretrained_networks = (EFFICIENTNET_NAME,)  # the train stage records it (metrics on it are marked)
    data_kinds = ("images",)  # what it can read: the harness refuses it under a variant of 2-D points

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 0,
                 feature_resolution: int = FEATURE_RESOLUTION, weights: str | None = None, **_: object) -> None:
        super().__init__()
        channels, height, width_px = data_shape
        if channels not in (1, 3):
            raise ValueError(f"Projected GAN's D reads 1- or 3-channel images, got {data_shape}")
        if height != width_px:
            raise ValueError(f"Projected GAN's D is built for square images, got {data_shape}")
        if int(feature_resolution) < MIN_FEATURE_RESOLUTION:
            raise ValueError(f"feature_resolution must be at least {MIN_FEATURE_RESOLUTION}, got {feature_resolution}")
        self.feature_resolution = int(feature_resolution)
        self.input_side = max(height, self.feature_resolution)  # smaller images are resized up to it
        self.n_classes = n_classes
        self.feature_network = FeatureProjector(weights)
        sides, nominal = feature_sides(self.input_side), nominal_sides(self.input_side)
        self.discs = nn.ModuleList([PatchDiscriminator(c, start, width, n_classes)
                                    for c, start in zip(self.feature_network.channels, nominal, strict=True)])
        for disc, side in zip(self.discs, sides, strict=True):
            if side >> disc.halvings < 4:
                raise ValueError(f"feature_resolution {feature_resolution}: a {side}x{side} map halved "
                                 f"{disc.halvings} times is too small for the 4x4 output conv")

    def train(self, mode: bool = True) -> ProjectedDiscriminator:
        super().train(mode)
        self.feature_network.train(False)
        return self

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four CSM maps of x (after the grayscale repeat and the resize)."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] < self.feature_resolution or x.shape[-2] < self.feature_resolution:
            x = F.interpolate(x, size=self.feature_resolution, mode="bilinear", align_corners=False)
        return self.feature_network(x)

    def logits(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes and y is None:
            raise ValueError("this discriminator is class-conditional: pass the labels y")
        maps = self.features(x)
        return torch.cat([disc(m, y) for disc, m in zip(self.discs, maps, strict=True)], dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.logits(x, y).mean(dim=1)


def projected_discriminator(shape: tuple[int, ...], width: float = 1.0, feature_resolution: int = FEATURE_RESOLUTION,
                            n_classes: int = 0, **_: object) -> ProjectedDiscriminator:
    """Projected GAN's D for images of `shape`, in place of any variant's own (`+projected`); class-conditional
    when the variant is."""
    return ProjectedDiscriminator(shape, width=width, feature_resolution=feature_resolution, n_classes=n_classes)


def projected_discriminator_64(shape: tuple[int, ...], width: float = 1.0, n_classes: int = 0,
                               **_: object) -> ProjectedDiscriminator:
    """`+projected-64`: the same D with the feature network's input at 64x64 (ours, for CPU budgets)."""
    return projected_discriminator(shape, width=width, feature_resolution=MIN_FEATURE_RESOLUTION, n_classes=n_classes)


# The options that put this D under any image variant's G, with the D-side recipe of the reference (hinge loss,
# DiffAugment color,translation,cutout).
_D_RECIPE = {"loss": "hinge", "penalty_weight": 0.0, "clip": 0.0, "diffaug": "color,translation,cutout"}
register_option(Option(
    "projected", "discriminator", "Sauer et al. 2021 (arXiv:2111.01007), Projected GAN's D in place of the "
    "variant's: frozen ImageNet EfficientNet-lite0 features (input resized to 224) through fixed random "
    "cross-channel and cross-scale mixing, four patch discriminators; with its hinge loss and DiffAugment",
    recipe=_D_RECIPE, discriminator=projected_discriminator))
register_option(Option(
    "projected-64", "discriminator", "+projected with the feature network's input at 64x64 instead of 224 (ours, "
    "for CPU budgets: ~13x fewer feature FLOPs, down blocks scaled to the smaller maps)",
    recipe=_D_RECIPE, discriminator=projected_discriminator_64))


# --- generator -----------------------------------------------------------------------------------------------

NGF, Z_DIM = 128, 256
G_CHANNELS = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}  # x ngf
SE_SOURCES = {64: 4, 128: 8, 256: 16, 512: 32}  # skip-layer excitation: big side <- small side


class GLU(nn.Module):
    """First half of the channels times the sigmoid of the second half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without affine, then x (1 + gain(e)) + bias(e) from a class embedding e."""

    def __init__(self, channels: int, embedding: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = spectral_norm(nn.Linear(embedding, channels))
        self.bias = spectral_norm(nn.Linear(embedding, channels))

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * (1 + self.gain(e))[:, :, None, None] + self.bias(e)[:, :, None, None]


class UpBlockSmall(nn.Module):
    """Nearest x2, spectrally normalised 3x3 conv (no bias) to 2 c_out, (conditional) BatchNorm, GLU."""

    def __init__(self, c_in: int, c_out: int, embedding: int = 0) -> None:
        super().__init__()
        self.conv = sn_conv(c_in, 2 * c_out, 3, 1, 1, bias=False)
        self.norm = ConditionalBatchNorm(2 * c_out, embedding) if embedding else nn.BatchNorm2d(2 * c_out)
        self.glu = GLU()

    def forward(self, x: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        x = self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))
        return self.glu(self.norm(x, e) if e is not None else self.norm(x))


class SkipExcitation(nn.Module):
    """FastGAN's SEBlock: a channel gate for a big map from a small one."""

    def __init__(self, c_small: int, c_big: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), sn_conv(c_small, c_big, 4, bias=False), nn.SiLU(),
                                  sn_conv(c_big, c_big, 1, bias=False), nn.Sigmoid())

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.gate(small)


def image_side(data_shape: tuple[int, ...]) -> int:
    _, height, width_px = data_shape
    if height != width_px or height < 8 or height > 1024 or height & (height - 1):
        raise ValueError(f"FastGAN-lite builds square power-of-two images from 8x8 to 1024x1024, got {data_shape}")
    return height


class FastGANLiteGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int = Z_DIM, width: float = 1.0, n_classes: int = 0,
                 **_: object) -> None:
        super().__init__()
        side = image_side(data_shape)
        ngf = scaled(NGF, width)
        c = {s: max(1, int(m * ngf)) for s, m in G_CHANNELS.items()}
        self.z_dim, self.n_classes, self.side = z_dim, n_classes, side
        self.init = nn.Sequential(spectral_norm(nn.ConvTranspose2d(z_dim, 2 * c[4], 4, 1, 0, bias=False)),
                                  nn.BatchNorm2d(2 * c[4]), GLU())
        embedding = z_dim if n_classes else 0
        self.embed = nn.Embedding(n_classes, z_dim) if n_classes else None
        sides = [4 * 2**i for i in range(1, side.bit_length() - 2)]  # 8 ... side
        self.up = nn.ModuleDict({str(s): UpBlockSmall(c[s // 2], c[s], embedding) for s in sides})
        self.se = nn.ModuleDict({str(s): SkipExcitation(c[SE_SOURCES[s]], c[s]) for s in sides if s in SE_SOURCES})
        self.to_image = sn_conv(c[side], data_shape[0], 3, 1, 1, bias=True)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        e = None
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass the labels y")
            e = self.embed(y)
        z = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        maps = {4: self.init(z.view(z.shape[0], -1, 1, 1))}
        x = maps[4]
        for key, block in self.up.items():
            s = int(key)
            x = block(x, e)
            if key in self.se:
                x = self.se[key](maps[SE_SOURCES[s]], x)
            maps[s] = x
        return self.to_image(x)


register(
    Variant(
        name="projected-gan",
        family="projected-gan",
        paper="Sauer et al. 2021 (arXiv:2111.01007), autonomousvision/projected-gan",
        generator=FastGANLiteGenerator,
        discriminator=ProjectedDiscriminator,
        recipe=Recipe(loss="hinge", lr_g=2e-4, lr_d=2e-4, betas=(0.0, 0.99), n_critic=1, batch=64,
                      ema_kimg=64 * 10 / 32, ema_rampup=0.05, diffaug="color,translation,cutout"),
        data_kinds=("images",),
        arch={"feature_resolution": FEATURE_RESOLUTION},
        z_dim=Z_DIM,
    )
)
