"""ViT-VQGAN's first stage (Yu et al., ICLR 2022, "Vector-quantized Image Modeling with Improved VQGAN",
arXiv:2110.04627): VQ-GAN's autoencoder with Vision Transformers in place of its convolutional encoder and decoder,
factorized l2-normalised codes, and (optionally) a logit-Laplace decoder output. Same interface as
models/vqgan.py's VQAutoencoder (encode, decode, decode_indices, forward -> Reconstruction, last_layer, n_codes,
grid), so the tokenizer task kind trains either.

The paper, as far as its text could be checked here: its PDF was not readable from this workplace, so these facts
come from two write-ups of it that agree with each other (one translating sec. 3.1-3.3, one summarising it with
Table 1's sizes and sec. 3.3's loss) and from the configs of re-implementations:
- sec. 3.1: the encoder maps non-overlapping p x p patches (p = 8 at 256 x 256: a 32 x 32 = 1024-token grid) to
  tokens, followed by transformer blocks; the decoder does the inverse, each token back to a p x p patch. "At the
  output of transformer blocks" a two-layer feed-forward network with a tanh in the middle; no activation at the
  output of either network. Here both heads are LayerNorm, Linear(width, mlp), tanh, Linear(mlp, out), where out
  is the code embedding's dimension in the encoder and the p * p pixel values of each channel (two per pixel with
  the logit-Laplace output) in the decoder;
- sec. 3.2: 8192 codes; a linear projection of the encoder output (768-d in Base) to a low-dimensional lookup
  space (32-d or 8-d) where codes are matched, the matched code projected back to the embedding space, and both
  the projected encodings and the codes l2-normalised (models/vq.py's `lookup_dim` and `l2_normalize`); with
  lookup_dim=None and l2_normalize=False the codes are plain ones of `embed_dim`, as in the paper's ablations;
- Table 1: Small 8 blocks, 8 heads, width 512, MLP 2048, 32M parameters; Base 12, 12, 768, 3072, 91M; Large 32,
  16, 1280, 5120, 599M (`PAPER_SIZES`; the heads, widths and MLP sizes are those of the re-implementations'
  configs, thuanz123/enhancing-transformers and jiasenlu/vit-vqgan-jax; the write-up gives blocks and parameters).
  Most results use a Small encoder and decoder ("SS"), the best reconstructions a Small encoder with a Large
  decoder ("SL");
- the loss (sec. 3.3) is in bench/training/tokenizer_objective.py.
Not in the text we could read, so our choices (the authors released no code): pre-norm blocks (x + attn(LN(x)),
x + MLP(LN(x))) with a GELU MLP, biased q/k/v/output projections, a final LayerNorm before each head, minGPT's
N(0, 0.02) initialisation of the linear weights (zero biases, as models/vq_prior.py); the patch embedding a stride-p
convolution (as thuanz123's and patil-suraj/vit-vqgan's; jiasenlu's space-to-depth + dense is the same linear map);
learned position embeddings, N(0, 0.02) (patil-suraj's; thuanz123's and jiasenlu's are fixed 2D sin-cos:
`positions="sincos"`); the decoder reads the code embedding directly when `embed_dim` = width and through a linear
map otherwise. patil-suraj's re-implementation, advised by the first author, has the same extra tanh feed-forward
after its blocks (thuanz123's puts tanh inside every block's MLP instead).

Parameter counts at the paper's settings (256 x 256 RGB, p = 8, learned positions, logit-Laplace decoder; checked
against a closed form in tests/models/test_vit_vqgan.py): encoder / decoder Small 27,942,912 / 27,581,824, Base
90,713,088 / 89,384,832, Large 644,352,000 / 639,516,544. So Table 1's numbers are per network, not per encoder +
decoder (that sum is 74% to 114% above them): ours are 0.3% (encoder) and 1.8% (decoder) below Base's 91M, but
12.7% / 13.8% below Small's 32M and 7.6% / 6.8% above Large's 599M. Large comes within 0.6% (encoder 602,384,384,
+0.6%; decoder 597,548,928, -0.2%) if its attention is 16 heads of 64, 1024 wide inside a 1280-wide stream, as
thuanz123's re-implementation builds it (dim_head 64): `head_dim=64`. No reading we tried (biases, positions, heads,
the output heads) gives Small's 32M; the text we could read does not say what was counted.

Logit-Laplace output (DALL-E, Ramesh et al. 2021, appendix A.3): the decoder gives 2 C maps, the location mu (in
logit space) then log b per pixel; `decode` returns DALL-E's reconstruction phi^-1(sigmoid(mu)), the
distribution's median (its mean has no closed form), with phi(x) = (1 - 2 eps) x + eps, eps = 0.1, taken from
[0, 1] to [-1, 1]. The images are not clamped (the median lies in (-1.25, 1.25)), as models/vqgan.py's conv
decoder's are not, so the loss recovers mu from them (up to rounding, for |mu| <= 13.8) and needs only
Reconstruction's images and log_scale (bench/training/tokenizer_objective.py's `location_from_images`).

Our default (`DEFAULT`), for 32 x 32 one-channel Fashion-MNIST: p = 4, an 8 x 8 = 64-token grid like our conv
VQ-GAN's; width 128, depth 4 (encoder and decoder each), 4 heads of 32, MLP 512; 512 codes (our conv VQ-GAN's
number) embedded in the width, 128-d, as the paper's codes live in the model width, looked up in 32-d,
l2-normalised; logit-Laplace output. It has 1,844,160 parameters (encoder 935,424, decoder 884,000, quantizer
24,736 with its projections). One forward + backward of the whole autoencoder on a batch of 64 took 0.50 s on a
2-core CPU with 2 threads (median of 10 after a warm-up, 0.46 s at best; 0.76 s with 1 thread) while the machine
was shared, and the conv VQ-GAN's default 2.6 s in the same minutes; width 128 at depth 6 took 0.59 s, width 256 at
depth 4 1.3 s (best of 5). Settings to tune, not measured optima.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.registry import Option, Recipe, Variant, register, register_option
from models.stylegan2 import StyleGAN2Discriminator
from models.vq import Encoded, Reconstruction, VectorQuantizer

DEFAULT = dict(in_channels=1, resolution=32, patch=4, width=128, depth=4, heads=4, mlp_ratio=4)
DEFAULT_CODES = 512
LOGIT_LAPLACE_EPS = 0.1  # DALL-E's eps: pixels modelled on (eps, 1 - eps)
# Table 1 (see the module docstring): blocks, heads, width, MLP size, and the published parameter count
PAPER_SIZES = {"small": dict(depth=8, heads=8, width=512, mlp=2048, params=32_000_000),
               "base": dict(depth=12, heads=12, width=768, mlp=3072, params=91_000_000),
               "large": dict(depth=32, heads=16, width=1280, mlp=5120, params=599_000_000)}


def unsquash(y: torch.Tensor, eps: float = LOGIT_LAPLACE_EPS) -> torch.Tensor:
    """The inverse of DALL-E's phi(x) = (1 - 2 eps) x + eps, which squashes pixels in [0, 1] to [eps, 1 - eps]."""
    return (y - eps) / (1 - 2 * eps)


def location_to_images(mu: torch.Tensor, eps: float = LOGIT_LAPLACE_EPS) -> torch.Tensor:
    """The logit-Laplace location mu -> DALL-E's reconstruction phi^-1(sigmoid(mu)), mapped to [-1, 1] (its
    inverse, for the loss, is bench/training/tokenizer_objective.py's `location_from_images`)."""
    return 2 * unsquash(torch.sigmoid(mu), eps) - 1


def sincos_positions(width: int, height: int, breadth: int) -> torch.Tensor:
    """Fixed 2D sin-cos position embeddings (height * breadth) x width, as MAE's: the first half of the channels
    encode the row, the second half the column, each as sin then cos at frequencies 10000^(-2i / (width / 2))."""
    if width % 4:
        raise ValueError(f"sin-cos positions need a width divisible by 4, not {width}")
    frequencies = 10000.0 ** -(torch.arange(width // 4, dtype=torch.float64) / (width // 4))
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(breadth, dtype=torch.float64),
                                indexing="ij")
    halves = [torch.cat([(c.reshape(-1, 1) * frequencies).sin(), (c.reshape(-1, 1) * frequencies).cos()], dim=1)
              for c in (rows, cols)]
    return torch.cat(halves, dim=1).float()


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x)) (a GELU MLP). The attention has
    `heads` heads of `head_dim` (default width / heads), so heads * head_dim may differ from the width."""

    def __init__(self, width: int, heads: int, mlp: int, head_dim: int | None = None) -> None:
        super().__init__()
        if head_dim is None and width % heads:
            raise ValueError(f"width {width} does not split into {heads} heads")
        self.heads = heads
        inner = heads * (head_dim or width // heads)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * inner), nn.Linear(inner, width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp), nn.GELU(), nn.Linear(mlp, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(batch, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v)  # B x heads x N x head_dim, every token to every token
        x = x + self.out(attended.transpose(1, 2).reshape(batch, n, -1))
        return x + self.mlp(self.norm2(x))


def _head(width: int, hidden: int, out: int) -> nn.Sequential:
    """The paper's output feed-forward: two layers, tanh in the middle, nothing after (a LayerNorm first: the
    pre-norm stack's output is not normalised)."""
    return nn.Sequential(OrderedDict(norm=nn.LayerNorm(width), fc1=nn.Linear(width, hidden), tanh=nn.Tanh(),
                                     fc2=nn.Linear(hidden, out)))


def _positions(module: nn.Module, kind: str, width: int, side: int) -> None:
    if kind == "learned":
        module.positions = nn.Parameter(torch.empty(1, side * side, width))
        nn.init.normal_(module.positions, std=0.02)
    elif kind == "sincos":
        module.register_buffer("positions", sincos_positions(width, side, side)[None])
    else:
        raise ValueError(f"positions must be 'learned' or 'sincos', not {kind!r}")


def _init(module: nn.Module) -> None:
    """minGPT's initialisation (models/vq_prior.py): N(0, 0.02) linear weights, zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)


def _check(resolution: int, patch: int) -> int:
    if resolution % patch:
        raise ValueError(f"resolution {resolution} is not a whole number of {patch}-pixel patches")
    return resolution // patch


class ViTEncoder(nn.Module):
    """Image B x in_channels x R x R -> B x out_dim x (R / patch) x (R / patch): stride-`patch` conv patch
    embedding, positions, `depth` blocks, the tanh feed-forward head to `out_dim`."""

    def __init__(self, in_channels: int, resolution: int, patch: int, width: int, depth: int, heads: int, mlp: int,
                 out_dim: int, positions: str = "learned", head_dim: int | None = None) -> None:
        super().__init__()
        side = _check(resolution, patch)
        self.patch_embed = nn.Conv2d(in_channels, width, patch, stride=patch)
        self.blocks = nn.Sequential(*(Block(width, heads, mlp, head_dim) for _ in range(depth)))
        self.head = _head(width, mlp, out_dim)
        _init(self)
        _positions(self, positions, width, side)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x)  # B x width x h x w
        batch, _, height, breadth = tokens.shape
        out = self.head(self.blocks(tokens.flatten(2).transpose(1, 2) + self.positions))
        return out.transpose(1, 2).reshape(batch, -1, height, breadth)


class ViTDecoder(nn.Module):
    """B x in_dim x h x w codes -> image B x out_channels x (h * patch) x (w * patch): a linear map to the width
    (none where in_dim = width), positions, `depth` blocks, the tanh feed-forward head to each token's
    out_channels x patch x patch pixel values."""

    def __init__(self, out_channels: int, resolution: int, patch: int, width: int, depth: int, heads: int, mlp: int,
                 in_dim: int, positions: str = "learned", head_dim: int | None = None) -> None:
        super().__init__()
        side = _check(resolution, patch)
        self.out_channels, self.patch = out_channels, patch
        self.proj_in = nn.Linear(in_dim, width) if in_dim != width else nn.Identity()
        self.blocks = nn.Sequential(*(Block(width, heads, mlp, head_dim) for _ in range(depth)))
        self.head = _head(width, mlp, out_channels * patch * patch)
        _init(self)
        _positions(self, positions, width, side)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        batch, _, height, breadth = z.shape
        patches = self.head(self.blocks(self.proj_in(z.flatten(2).transpose(1, 2)) + self.positions))
        p, c = self.patch, self.out_channels  # token (i, j)'s values, channel-major then row then column of its patch
        patches = patches.reshape(batch, height, breadth, c, p, p).permute(0, 3, 1, 4, 2, 5)
        return patches.reshape(batch, c, height * p, breadth * p)


class ViTVQAutoencoder(nn.Module):
    """ViT encoder, vector quantizer (factorized and l2-normalised by default), ViT decoder; with `logit_laplace`
    the decoder's 2 C outputs are the logit-Laplace location and log scale (module docstring). `embed_dim` (default:
    the width) is the codes' embedding dimension, `lookup_dim` where they are matched (None: in `embed_dim`);
    `quantizer` passes further keyword arguments to models/vq.py's VectorQuantizer, `positions` and `head_dim` go
    to both networks. `width` is the token width in channels, not a run's width multiplier: a registered variant's
    factory maps one to the other (as models/vqgan.py's `vqgan_tokenizer` does for ch)."""

    def __init__(self, in_channels: int = DEFAULT["in_channels"], resolution: int = DEFAULT["resolution"],
                 patch: int = DEFAULT["patch"], width: int = DEFAULT["width"], depth: int = DEFAULT["depth"],
                 heads: int = DEFAULT["heads"], mlp_ratio: int = DEFAULT["mlp_ratio"], n_codes: int = DEFAULT_CODES,
                 embed_dim: int | None = None, lookup_dim: int | None = 32, l2_normalize: bool = True,
                 logit_laplace: bool = True, quantizer: dict | None = None, positions: str = "learned",
                 head_dim: int | None = None) -> None:
        super().__init__()
        embed_dim = embed_dim or width
        self.patch, self.logit_laplace = patch, logit_laplace
        network = dict(resolution=resolution, patch=patch, width=width, depth=depth, heads=heads,
                       mlp=mlp_ratio * width, positions=positions, head_dim=head_dim)
        self.encoder = ViTEncoder(in_channels, out_dim=embed_dim, **network)
        self.quantizer = VectorQuantizer(n_codes, embed_dim, lookup_dim=lookup_dim, l2_normalize=l2_normalize,
                                         **(quantizer or {}))
        self.decoder = ViTDecoder(in_channels * (2 if logit_laplace else 1), in_dim=embed_dim, **network)

    def encode(self, x: torch.Tensor) -> Encoded:
        return Encoded(*self.quantizer(self.encoder(x)))

    def decode_distribution(self, quantized: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(images, log b): the images as `decode` gives them; log b B x C x H x W with `logit_laplace`, else None."""
        out = self.decoder(quantized)
        if not self.logit_laplace:
            return out, None
        location, log_scale = out.chunk(2, dim=1)
        return location_to_images(location), log_scale

    def decode(self, quantized: torch.Tensor) -> torch.Tensor:
        return self.decode_distribution(quantized)[0]

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """B x h x w code indices (a prior's samples) -> images."""
        return self.decode(self.quantizer.decode_indices(indices))

    def forward(self, x: torch.Tensor) -> Reconstruction:
        quantized, loss, indices = self.encode(x)
        images, log_scale = self.decode_distribution(quantized)
        return Reconstruction(images, loss, indices, log_scale)

    @property
    def n_codes(self) -> int:
        return self.quantizer.n_codes

    def grid(self, resolution: int) -> tuple[int, int]:
        """The code grid (h, w) of a `resolution` x `resolution` image: one code per patch."""
        side = _check(resolution, self.patch)
        return side, side

    def last_layer(self) -> torch.Tensor:
        """The decoder's final linear weight (its output rows: every pixel value of a patch, mu and log b alike):
        VQ-GAN's adaptive weight balances the GAN loss's gradient against the reconstruction loss's here."""
        return self.decoder.head.fc2.weight


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def paper_network(size: str, part: str = "encoder", head_dim: int | None = None) -> nn.Module:
    """The paper's `size` ("small", "base", "large") encoder or decoder at 256 x 256 RGB, patch 8, on the meta
    device (shapes only: Large's 600M parameters allocate nothing), for comparing parameter counts with Table 1."""
    config = PAPER_SIZES[size]
    network = dict(resolution=256, patch=8, width=config["width"], depth=config["depth"], heads=config["heads"],
                   mlp=config["mlp"], head_dim=head_dim)
    with torch.device("meta"):
        if part == "encoder":
            return ViTEncoder(3, out_dim=config["width"], **network)
        return ViTDecoder(6, in_dim=config["width"], **network)



# --- the registered variant: the tokenizer task kind (bench/training/tasks/tokenizer.py) trains it

PAPER = "Yu et al. 2022, Vector-quantized Image Modeling with Improved VQGAN (arXiv:2110.04627)"
REFERENCE_WIDTH = 512  # ViT-VQGAN Small's width: a run's `width` multiplier scales it (0.25: our default 128)


def vit_vqgan_tokenizer(in_channels: int = 1, resolution: int = 32, width: float = 0.25,
                        n_codes: int = DEFAULT_CODES, lookup_dim: int | None = 32,
                        l2_normalize: bool = True) -> ViTVQAutoencoder:
    """The stage-1 autoencoder at a run's width: model width 512 x width in multiples of the 4 heads' 32, depth 4
    and patch `resolution / 8` (an 8 x 8 grid), codes looked up in `lookup_dim` (None: plain codes)."""
    model_width = max(32, round(REFERENCE_WIDTH * width / 32) * 32)
    return ViTVQAutoencoder(in_channels=in_channels, resolution=resolution, patch=max(1, resolution // 8),
                            width=model_width, n_codes=n_codes, lookup_dim=lookup_dim, l2_normalize=l2_normalize)


D_WIDTH = 0.25  # D's width relative to the run's: 1/16 of StyleGAN2's at the quick profile's 1/4, as its leaderboard


def stylegan_discriminator(in_channels: int = 1, size: int = 32, width: float = 1.0,
                           d_width: float = D_WIDTH) -> nn.Module:
    """The paper's "StyleGAN discriminator": StyleGAN2's residual D (models/stylegan2.py) at `d_width` x the run's
    width (at the run's own width a D step cost 2-3 s of a 3.5 s step on a 2-core CPU)."""
    return StyleGAN2Discriminator((in_channels, size, size), width=width * d_width)


# sec. 3.3's weights: L2 1.0, logit-Laplace 0.1, perceptual 0.1, adversarial 0.1 (fixed, no adaptive lambda), the
# StyleGAN D with its non-saturating logistic loss; Adam (0.9, 0.99) at 1e-4 (the paper's peak; its warm-up and
# cosine decay over 500k steps are not reproduced at our budgets); D from the first step.
RECIPE = Recipe(loss="ns", lr_g=1e-4, lr_d=1e-4, betas=(0.9, 0.99), batch=64, l1_weight=0.0, l2_weight=1.0,
                logit_laplace_weight=0.1, perceptual_weight=0.1, perceptual="efficientnet-lite0",
                adversarial_weight=0.1, d_loss_scale=1.0, codebook_weight=1.0)

register(Variant(name="vit-vqgan", family="vit-vqgan",
                 paper=f"{PAPER}: ViT encoder and decoder, factorized 32-d l2-normalised codes",
                 generator=vit_vqgan_tokenizer, discriminator=stylegan_discriminator, recipe=RECIPE,
                 data_kinds=("images",), z_dim=0, task="tokenizer"))
register_option(Option("plain-codes", "architecture", f"{PAPER}: sec. 3.2's baseline, codes matched in the full "
                       "embedding without projection or l2 normalisation",
                       arch={"lookup_dim": None, "l2_normalize": False}))
register_option(Option("lookup8", "architecture", f"{PAPER}: codes looked up in 8 dimensions instead of 32",
                       arch={"lookup_dim": 8}))
