"""BigGAN (Brock, Donahue & Simonyan 2019, arXiv:1809.11096) at 32x32, 64x64, 128x128 and 256x256, laid out
as the authors' BigGAN-PyTorch lays it out for each resolution (its G_arch / D_arch tables).

G: a shared class embedding (128-d); the hierarchical latent splits z into one chunk for the input linear
layer (a 4x4 map) and one per residual block; each block up-samples 2x and its BN is conditioned on
[shared(y), z chunk] through linear maps (scale 1 + W_g c, shift W_b c); BN-ReLU-conv3x3-tanh at the end;
spectral norm on every G layer but the shared embedding. D: the projection discriminator's ResNet (first
block "optimized"), ReLU, a sum over positions, a linear head plus the class projection; spectral norm
comes from the recipe. Orthogonal initialisation.

Block widths, in units of the channel multiplier `ch` (G: into the first block, then out of each block; D:
out of each block, "/" marking the blocks that halve the size):

    32x32    G 4 4 4 4                 D 4/ 4/ 4 4
    64x64    G 16 16 8 4 2             D 1/ 2/ 4/ 8/ 16
    128x128  G 16 16 8 4 2 1           D 1/ 2/ 4/ 8/ 16/ 16
    256x256  G 16 16 8 8 4 2 1         D 1/ 2/ 4/ 8/ 8/ 16/ 16

Other sizes are refused. Defaults per resolution (the settings taken as published):
  32   ch 64, no attention: the authors' CIFAR script (scripts/launch_cifar_ema.sh).
  64   ch 64, attention at 64: BigGAN-PyTorch's own defaults (no 64x64 model was published). D has no block
       with a 64x64 output, so only G gets the attention block, as in that code.
  128  ch 96, attention at 64 in G and D: the paper's ImageNet model (scripts/launch_BigGAN_bs256x8.sh;
       it takes z of 120 = 6 x 20).
  256  ch 96, attention at 128 in G (the released model's settings, TFHub/converter.py, z of 140 = 7 x 20)
       and at 64 in D (the code's default; the released 256 model has no D).

Architecture settings (the variant's `arch`): `ch` overrides the multiplier; `attention_at` = N puts one
self-attention block (SAGAN's, as BigGAN's) in G after the block whose output is N x N and in D after the
first block whose output is N x N (none there if D has no such block; BigGAN-PyTorch's 32x32 table labels
all four D blocks 16x16, here the true output sides count); None turns attention off; the default takes each
network's published position above. `width` scales every block's channel count (rounded per block, so width
1 is the table above). Image channels come from the data shape (the authors' code fixes 3).

z is split into (number of G blocks + 1) chunks of z_dim // chunks; when z_dim does not divide, the first
chunk (the linear layer's) takes the remainder so every dimension of z reaches the image (the variant's z of
128: 28 + 4 x 25 at 64x64, 23 + 5 x 21 at 128x128, 20 + 6 x 18 at 256x256). BigGAN-PyTorch instead shortens
z to a multiple of the chunk count, so at such a z_dim our linear layer has more inputs than its.

Recipe (at every resolution, the authors' CIFAR script): hinge loss, Adam lr 2e-4 for both, betas
(0, 0.999), 4 D steps per G step, batch 50, orthogonal regularization beta 1e-4 on G, EMA of G (decay
0.9999, starting after 1000 G steps). Their ImageNet 128x128 script trains differently (G lr 1e-4, D lr
4e-4, 1 D step, batch 256 x 8 accumulations, EMA from 20000 steps). Sampling may truncate z
(bench/measurement/truncation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import pairwise

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.blocks import DBlock, GBlock, LinearConditionalBatchNorm2d, ProjectionHead, SelfAttention
from models.registry import Recipe, Variant, register
from models.sngan import ProjectionResNetD, glorot_init, scaled
from models.spectral import spectral_normalize

Z_DIM, SHARED_DIM = 128, 128
PUBLISHED = "published"  # `attention_at`'s default: each network's published position for the resolution


@dataclass(frozen=True)
class Layout:
    """One resolution's networks: block widths in units of `ch`, and the published settings."""

    side: int
    g_widths: tuple[int, ...]  # into G's first block, then out of each block (every block up-samples 2x)
    d_widths: tuple[int, ...]  # out of each D block
    d_down: tuple[bool, ...]  # which D blocks halve the size
    ch: int
    g_attention: int | None
    d_attention: int | None

    def g_sizes(self) -> tuple[int, ...]:
        """Side of each G block's output."""
        return tuple(8 << i for i in range(len(self.g_widths) - 1))

    def d_sizes(self) -> tuple[int, ...]:
        """Side of each D block's output."""
        sizes, side = [], self.side
        for down in self.d_down:
            side //= 2 if down else 1
            sizes.append(side)
        return tuple(sizes)


LAYOUTS = {layout.side: layout for layout in (
    Layout(32, (4, 4, 4, 4), (4, 4, 4, 4), (True, True, False, False), ch=64, g_attention=None, d_attention=None),
    Layout(64, (16, 16, 8, 4, 2), (1, 2, 4, 8, 16), (True,) * 4 + (False,), ch=64, g_attention=64, d_attention=64),
    Layout(128, (16, 16, 8, 4, 2, 1), (1, 2, 4, 8, 16, 16), (True,) * 5 + (False,), ch=96, g_attention=64,
           d_attention=64),
    Layout(256, (16, 16, 8, 8, 4, 2, 1), (1, 2, 4, 8, 8, 16, 16), (True,) * 6 + (False,), ch=96, g_attention=128,
           d_attention=64),
)}
G_CHANNELS = LAYOUTS[32].g_widths[0] * LAYOUTS[32].ch  # the 32x32 G's block width at width 1 (benchmarks use it)


def layout_of(data_shape: tuple[int, ...]) -> Layout:
    """The layout for (C, H, W) image data; a ValueError for any other size."""
    sides = tuple(data_shape[1:])
    if len(sides) != 2 or sides[0] != sides[1] or sides[0] not in LAYOUTS:
        supported = ", ".join(f"{side}x{side}" for side in LAYOUTS)
        raise ValueError(f"BigGAN is defined for {supported} images (C x H x W), got {tuple(data_shape)}")
    return LAYOUTS[sides[0]]


def attention_side(attention_at: int | str | None, published: int | None, layout: Layout) -> int | None:
    """The side after which a network puts its attention block (None: no block)."""
    if attention_at == PUBLISHED:
        return published
    if attention_at is not None and attention_at not in layout.g_sizes():
        raise ValueError(f"attention_at must be None or one of {layout.g_sizes()} at {layout.side}x{layout.side}, "
                         f"got {attention_at!r}")
    return attention_at


def block_widths(multipliers: tuple[int, ...], ch: int | None, width: float, layout: Layout) -> list[int]:
    return [scaled(m * (layout.ch if ch is None else ch), width) for m in multipliers]


def orthogonal_init(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.Linear | nn.Embedding):
            nn.init.orthogonal_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)


class BigGANGenerator(nn.Module):
    """(z, y) -> an image through the resolution's up-sampling blocks; `z_split` gives the chunk sizes of z
    (the linear layer's first, then one per block)."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 10,
                 ch: int | None = None, shared_dim: int = SHARED_DIM, attention_at: int | str | None = PUBLISHED,
                 gated: bool = False) -> None:
        super().__init__()
        layout = layout_of(data_shape)
        widths = block_widths(layout.g_widths, ch, width, layout)
        self.sizes = layout.g_sizes()
        attention_at = attention_side(attention_at, layout.g_attention, layout)
        slots = len(self.sizes) + 1
        if z_dim < slots:
            raise ValueError(f"z_dim {z_dim} is smaller than the {slots} chunks the latent is split into")
        self.z_dim, self.n_classes, self.channels, self.chunk = z_dim, n_classes, widths[0], z_dim // slots
        self.z_split = [z_dim - (slots - 1) * self.chunk] + [self.chunk] * (slots - 1)
        self.shared = nn.Embedding(n_classes, shared_dim)
        norm = partial(LinearConditionalBatchNorm2d, cond_dim=shared_dim + self.chunk)
        self.linear = nn.Linear(self.z_split[0], 4 * 4 * widths[0])
        self.blocks = nn.ModuleList(GBlock(c_in, c_out, norm, upsample=True, gated=gated)
                                    for c_in, c_out in pairwise(widths))
        self.attention = nn.ModuleDict()
        if attention_at is not None:
            self.attention[str(attention_at)] = SelfAttention(widths[1 + self.sizes.index(attention_at)])
        self.out_bn = nn.BatchNorm2d(widths[-1])
        self.out_conv = nn.Conv2d(widths[-1], data_shape[0], 3, padding=1)
        orthogonal_init(self)
        spectral_normalize(self, embeddings=False)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        first, *chunks = torch.split(z, self.z_split, dim=1)
        shared = self.shared(y)
        h = self.linear(first).view(z.shape[0], self.channels, 4, 4)
        for block, size, chunk in zip(self.blocks, self.sizes, chunks, strict=True):
            h = block(h, torch.cat([shared, chunk], dim=1))
            if str(size) in self.attention:
                h = self.attention[str(size)](h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))

    def orthogonal_parameters(self) -> list[nn.Parameter]:
        """The weights orthogonal regularization applies to: every matrix/kernel but the shared
        embedding (as the authors' code leaves it out)."""
        shared = {id(p) for p in self.shared.parameters()}
        return [p for p in self.parameters() if p.dim() >= 2 and id(p) not in shared]


class BigGANDiscriminator(ProjectionResNetD):
    """The blocks of the resolution's layout (at most one attention block) as `trunk`; ReLU and a sum over
    positions give phi(x); the linear head plus the class projection give one logit."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 10,
                 ch: int | None = None, attention_at: int | str | None = PUBLISHED, gated: bool = False) -> None:
        super().__init__()
        layout = layout_of(data_shape)
        widths = block_widths(layout.d_widths, ch, width, layout)
        sizes = layout.d_sizes()
        attention_at = attention_side(attention_at, layout.d_attention, layout)
        attend_after = sizes.index(attention_at) if attention_at in sizes else None
        layers: list[nn.Module] = []
        for i, (c_in, c_out, down) in enumerate(zip([data_shape[0], *widths[:-1]], widths, layout.d_down, strict=True)):
            layers.append(DBlock(c_in, c_out, downsample=down, optimized=i == 0))
            if i == attend_after:
                layers.append(SelfAttention(c_out))
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], 1)
        self.projection = ProjectionHead(widths[-1], n_classes) if n_classes else None
        # The orthogonal init overwrites every weight the Glorot init sets; the Glorot draws stay so that a seed
        # gives the same 32x32 weights as when this D was SNGAN's ResNet D re-initialised.
        glorot_init(self)
        orthogonal_init(self)



register(Variant(
    name="biggan", family="biggan",
    paper="Brock, Donahue & Simonyan 2019, Large Scale GAN Training for High Fidelity Natural Image "
          "Synthesis (arXiv:1809.11096); 32x32 architecture of the authors' BigGAN-PyTorch (CIFAR)",
    generator=BigGANGenerator, discriminator=BigGANDiscriminator,
    recipe=Recipe(loss="hinge", lr_g=2e-4, lr_d=2e-4, betas=(0.0, 0.999), n_critic=4, batch=50,
                  spectral_norm=True, ortho_reg=1e-4, ema_beta=0.9999, ema_start=1000),
    data_kinds=("images",), z_dim=Z_DIM, conditional=True, truncation=True,
))
