"""VQ-GAN's first stage (Esser, Rombach & Ommer, CVPR 2021, arXiv:2012.09841): the convolutional autoencoder
whose quantized latent grid a transformer later models, as in CompVis/taming-transformers.

The networks follow the reference's taming/modules/diffusionmodules/model.py (Encoder, Decoder) and
taming/models/vqgan.py (VQModel), so that at the reference's settings they have its parameter counts
(tests/models/test_vqgan.py) and, given its weights, compute its outputs:
- every convolution is 3x3 except the 1x1 skip of a residual block that changes width, the attention projections
  and the quant/post-quant convolutions; normalization is GroupNorm(32 groups, eps 1e-6, affine) and the
  nonlinearity swish, x * sigmoid(x);
- a residual block is norm-swish-conv, norm-swish-dropout-conv, plus the input;
- attention is single-head self-attention over all positions of the map (1x1 convolutions make q, k, v and the
  output projection), added to its input; it follows every residual block at a resolution listed in
  `attn_resolutions`, and sits between the two residual blocks of the middle of both networks;
- the encoder has `num_res_blocks` blocks per level, the decoder one more; between levels the encoder halves the
  map with a stride-2 conv after padding one zero row and column at the bottom and right only, and the decoder
  doubles it by nearest-neighbour upsampling then a conv;
- `VQAutoencoder` puts a 1x1 conv from `z_channels` to the codebook's dimension before the quantizer
  (models/vq.py) and one back after it.
Parameter names are ours: the reference's encoder.down.i.block.j / attn.j (q, k, v, proj_out, nin_shortcut),
mid.block_1 / attn_1 / block_2, norm_out, conv_out and quantize.embedding.weight are our encoder.levels.i.blocks.j /
attentions.j (query, key, value, out, skip), middle.first / attention / second, head.norm, head.conv and
quantizer.codebook; its decoder.up.i is our decoder.levels.(len(ch_mult) - 1 - i), as our levels run in order.

Our default (`DEFAULT`) is for 32x32 one-channel Fashion-MNIST: ch_mult (1, 2, 2) downsamples twice, so the
latent grid is 8x8 (64 tokens for a prior; the reference's f16 gives 16x16 = 256 at 256x256), with attention at
8x8 (and in the middle), as the reference attends at its latent resolution, 16. ch 64 (widths 64, 128, 128) rather
than the reference's 128, the images being 64 times smaller and single-channel; widths must be multiples of 32
for the 32-group norm, and ch 32 would leave the 8x8 stage and its attention only 64 channels wide while saving
little time here (below). Two residual blocks per level, as in the reference. z_channels = embed_dim = 64 and 512
codes (the reference: 256 and 1024), a codebook scaled down with the images: settings to tune, not measured
optima. The default autoencoder has 5,623,937 parameters (encoder 2,314,880, decoder 3,267,969, quant convs
8,320, codebook 32,768). One forward + backward of encoder + decoder on a batch of 64 took 16.8 s on a 2-core CPU
with 2 threads while another training job held both cores (ch 32, 1,478,817 parameters: 13.1 s), one measurement
each: an upper bound, not a benchmark.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.patchgan import PatchDiscriminator, n_layers_for
from models.registry import Recipe, Variant, register
from models.vq import Encoded, Reconstruction, VectorQuantizer

GROUPS = 32
NORM_EPS = 1e-6
DEFAULT = dict(ch=64, ch_mult=(1, 2, 2), num_res_blocks=2, attn_resolutions=(8,), resolution=32, in_channels=1,
               z_channels=64, dropout=0.0)
DEFAULT_CODES, DEFAULT_EMBED_DIM = 512, 64


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(GROUPS, channels, eps=NORM_EPS)


def _conv3(c_in: int, c_out: int, stride: int = 1, padding: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=padding)


class Swish(nn.Module):
    """x * sigmoid(x), written as the reference writes it: F.silu rounds differently in the last bit."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class ResBlock(nn.Module):
    """norm-swish-conv, norm-swish-dropout-conv, plus the input (through a 1x1 conv when the width changes)."""

    def __init__(self, c_in: int, c_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), _conv3(c_in, c_out)
        self.norm2, self.dropout, self.conv2 = _norm(c_out), nn.Dropout(dropout), _conv3(c_out, c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.swish = Swish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.swish(self.norm1(x)))
        h = self.conv2(self.dropout(self.swish(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head attention of every position to every position, added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.query, self.key, self.value, self.out = (nn.Conv2d(channels, channels, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        normed = self.norm(x)
        q, k, v = (projection(normed).flatten(2) for projection in (self.query, self.key, self.value))  # B x C x N
        weights = torch.softmax(torch.bmm(q.transpose(1, 2), k) * channels ** -0.5, dim=2)  # B x N(q) x N(k)
        attended = torch.bmm(v, weights.transpose(1, 2))  # B x C x N(q)
        return x + self.out(attended.reshape(batch, channels, height, width))


class Downsample(nn.Module):
    """Halves H and W: a stride-2 3x3 conv after one zero row at the bottom and one zero column at the right."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = _conv3(channels, channels, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Doubles H and W: nearest-neighbour upsampling, then a 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = _conv3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """One resolution of either network: residual blocks (the first one changes the width), each followed by
    self-attention when `attend`, then `resample` (a Downsample, an Upsample, or nothing at the last level)."""

    def __init__(self, c_in: int, c_out: int, n_blocks: int, attend: bool, dropout: float,
                 resample: nn.Module) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(c_in if i == 0 else c_out, c_out, dropout) for i in range(n_blocks))
        self.attentions = nn.ModuleList(SelfAttention(c_out) if attend else nn.Identity() for _ in range(n_blocks))
        self.resample = resample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block, attention in zip(self.blocks, self.attentions, strict=True):
            x = attention(block(x))
        return self.resample(x)


def _middle(channels: int, dropout: float) -> nn.Sequential:
    """The bottleneck of both networks: residual block, self-attention, residual block."""
    return nn.Sequential(OrderedDict(first=ResBlock(channels, channels, dropout), attention=SelfAttention(channels),
                                     second=ResBlock(channels, channels, dropout)))


def _head(c_in: int, c_out: int) -> nn.Sequential:
    """norm-swish-conv out of either network (the decoder's conv is the GAN weight's `last_layer`)."""
    return nn.Sequential(OrderedDict(norm=_norm(c_in), swish=Swish(), conv=_conv3(c_in, c_out)))


def _check(ch: int, ch_mult: tuple[int, ...], resolution: int) -> None:
    if any(ch * m % GROUPS for m in ch_mult):
        raise ValueError(f"every width ch * ch_mult must be a multiple of {GROUPS} (the norm's groups)")
    if resolution % 2 ** (len(ch_mult) - 1):
        raise ValueError(f"resolution {resolution} does not halve {len(ch_mult) - 1} times")


class VQEncoder(nn.Module):
    """Image (B x in_channels x resolution^2) -> B x z_channels x (resolution / 2^(len(ch_mult) - 1))^2."""

    def __init__(self, ch: int = DEFAULT["ch"], ch_mult: tuple[int, ...] = DEFAULT["ch_mult"],
                 num_res_blocks: int = DEFAULT["num_res_blocks"],
                 attn_resolutions: tuple[int, ...] = DEFAULT["attn_resolutions"],
                 resolution: int = DEFAULT["resolution"], in_channels: int = DEFAULT["in_channels"],
                 z_channels: int = DEFAULT["z_channels"], dropout: float = DEFAULT["dropout"]) -> None:
        super().__init__()
        _check(ch, ch_mult, resolution)
        self.conv_in = _conv3(in_channels, ch)
        levels, width, size = [], ch, resolution
        for i, mult in enumerate(ch_mult):
            last = i == len(ch_mult) - 1
            levels.append(Level(width, ch * mult, num_res_blocks, size in attn_resolutions, dropout,
                                nn.Identity() if last else Downsample(ch * mult)))
            width, size = ch * mult, size if last else size // 2
        self.levels = nn.Sequential(*levels)
        self.middle = _middle(width, dropout)
        self.head = _head(width, z_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.middle(self.levels(self.conv_in(x))))


class VQDecoder(nn.Module):
    """B x z_channels latent grid -> image, the encoder's levels in reverse (lowest resolution first), each with
    one more residual block; `in_channels` is the image's channels here too, the decoder's output."""

    def __init__(self, ch: int = DEFAULT["ch"], ch_mult: tuple[int, ...] = DEFAULT["ch_mult"],
                 num_res_blocks: int = DEFAULT["num_res_blocks"],
                 attn_resolutions: tuple[int, ...] = DEFAULT["attn_resolutions"],
                 resolution: int = DEFAULT["resolution"], in_channels: int = DEFAULT["in_channels"],
                 z_channels: int = DEFAULT["z_channels"], dropout: float = DEFAULT["dropout"]) -> None:
        super().__init__()
        _check(ch, ch_mult, resolution)
        width, size = ch * ch_mult[-1], resolution // 2 ** (len(ch_mult) - 1)
        self.conv_in = _conv3(z_channels, width)
        self.middle = _middle(width, dropout)
        levels = []
        for i, mult in enumerate(reversed(ch_mult)):
            last = i == len(ch_mult) - 1
            levels.append(Level(width, ch * mult, num_res_blocks + 1, size in attn_resolutions, dropout,
                                nn.Identity() if last else Upsample(ch * mult)))
            width, size = ch * mult, size if last else size * 2
        self.levels = nn.Sequential(*levels)
        self.head = _head(width, in_channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.levels(self.middle(self.conv_in(z))))


class VQAutoencoder(nn.Module):
    """Encoder, 1x1 conv to the codebook's dimension, vector quantizer, 1x1 conv back, decoder (the reference's
    VQModel without its loss). `network` holds the VQEncoder/VQDecoder settings; `quantizer` extra keyword
    arguments of models/vq.py's VectorQuantizer (e.g. legacy=True for the reference's placement of beta)."""

    def __init__(self, n_codes: int = DEFAULT_CODES, embed_dim: int = DEFAULT_EMBED_DIM,
                 quantizer: dict | None = None, **network) -> None:
        super().__init__()
        settings = {**DEFAULT, **network}
        self.encoder, self.decoder = VQEncoder(**settings), VQDecoder(**settings)
        self.quant_conv = nn.Conv2d(settings["z_channels"], embed_dim, 1)
        self.quantizer = VectorQuantizer(n_codes, embed_dim, **(quantizer or {}))
        self.post_quant_conv = nn.Conv2d(embed_dim, settings["z_channels"], 1)

    def encode(self, x: torch.Tensor) -> Encoded:
        return Encoded(*self.quantizer(self.quant_conv(self.encoder(x))))

    def decode(self, quantized: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(quantized))

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """B x h x w code indices (a prior's samples) -> images."""
        return self.decode(self.quantizer.decode_indices(indices))

    def forward(self, x: torch.Tensor) -> Reconstruction:
        quantized, loss, indices = self.encode(x)
        return Reconstruction(self.decode(quantized), loss, indices)

    @property
    def n_codes(self) -> int:
        return self.quantizer.n_codes

    def grid(self, resolution: int) -> tuple[int, int]:
        """The code grid (h, w) of a `resolution` x `resolution` image: what a prior's sequence covers."""
        side = resolution // 2 ** (len(self.encoder.levels) - 1)
        return side, side

    def last_layer(self) -> torch.Tensor:
        """The decoder's final conv weight: VQ-GAN's adaptive weight balances the GAN loss's gradient against
        the reconstruction loss's at this tensor."""
        return self.decoder.head.conv.weight


# --- the registered variant: the tokenizer task kind (bench/training/tasks/tokenizer.py) trains it

PAPER = "Esser, Rombach & Ommer 2021, Taming Transformers for High-Resolution Image Synthesis (arXiv:2012.09841)"
REFERENCE_CH = 128  # the reference's ch (its ImageNet and FacesHQ configs); `width` scales it


def vqgan_tokenizer(in_channels: int = 1, resolution: int = 32, width: float = 0.5, n_codes: int = DEFAULT_CODES,
                    embed_dim: int = DEFAULT_EMBED_DIM, ema: bool = False, legacy: bool = False) -> VQAutoencoder:
    """The stage-1 autoencoder at a run's width: ch = 128 x width in multiples of the norm's 32 groups (width 0.5:
    our default ch 64; the quick profile's 0.25: ch 32), two downsamplings (a resolution / 4 grid), attention at
    that grid."""
    ch = max(GROUPS, round(REFERENCE_CH * width / GROUPS) * GROUPS)
    grid = resolution // 4
    return VQAutoencoder(n_codes, embed_dim, quantizer={"ema": ema, "legacy": legacy}, ch=ch, ch_mult=(1, 2, 2),
                         attn_resolutions=(grid,), resolution=resolution, in_channels=in_channels,
                         z_channels=embed_dim)


def patch_discriminator(in_channels: int = 1, size: int = 32, width: float = 1.0) -> PatchDiscriminator:
    """taming's NLayerDiscriminator is pix2pix's PatchGAN (ndf 64 x width, batch norm); at 32x32 with the 16-pixel
    field of models/patchgan.py's `n_layers_for`."""
    return PatchDiscriminator(in_channels, width=width, n_layers=n_layers_for(size), norm="batch")


# taming's VQLPIPSWithDiscriminator and its ImageNet config (configs/imagenet_vqgan.yaml): pixel L1 weight 1,
# perceptual weight 1, hinge D, disc_weight 0.8 on the adaptive lambda, codebook weight 1, D's hinge halved; Adam
# with betas (0.5, 0.9) at 4.5e-6 x batch (main.py scales the base rate by the batch): 2.88e-4 at batch 64. D starts
# at half the budget here (the reference: after 250k steps of its run) so that the curves show both sides.
RECIPE = Recipe(loss="hinge", lr_g=2.88e-4, lr_d=2.88e-4, betas=(0.5, 0.9), batch=64, l1_weight=1.0,
                perceptual_weight=1.0, perceptual="efficientnet-lite0", adversarial_weight=0.8, adaptive_weight=True,
                disc_start=0.5, d_loss_scale=0.5, codebook_weight=1.0)

register(Variant(name="vqgan", family="vqgan", paper=f"{PAPER}: conv VQ-GAN, {DEFAULT_CODES} codes",
                 generator=vqgan_tokenizer, discriminator=patch_discriminator, recipe=RECIPE, data_kinds=("images",),
                 z_dim=0, task="tokenizer"))
register(Variant(name="vqgan-ema", family="vqgan", paper=f"{PAPER}: with an EMA codebook (van den Oord et al. 2017)",
                 generator=vqgan_tokenizer, discriminator=patch_discriminator, recipe=RECIPE, data_kinds=("images",),
                 arch={"ema": True}, z_dim=0, task="tokenizer"))
