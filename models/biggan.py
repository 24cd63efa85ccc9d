"""BigGAN (Brock, Donahue & Simonyan 2019, arXiv:1809.11096) at 32x32, as the authors' BigGAN-PyTorch
builds it for CIFAR (`arch[32]`, ch = 64: 256 channels in every block).

G: a shared class embedding (128-d); the hierarchical latent splits z (128) into one chunk for the
input linear layer and one per residual block; each block's BN is conditioned on [shared(y), z chunk]
through linear maps (scale 1 + W_g c, shift W_b c); spectral norm on every G layer but the shared
embedding. D: the projection discriminator's ResNet with 256 channels and spectral norm. Orthogonal
initialisation. Recipe: hinge loss, Adam lr 2e-4 for both, betas (0, 0.999), 4 D steps per G step,
batch 50, orthogonal regularization beta 1e-4 on G, EMA of G (decay 0.9999, starting after 1000 G steps,
the authors' CIFAR script). Sampling may truncate z (bench/measurement/truncation.py).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.blocks import GBlock, LinearConditionalBatchNorm2d, SelfAttention
from models.registry import Recipe, Variant, register
from models.sngan import ResNetDiscriminator, scaled
from models.spectral import spectral_normalize

G_CHANNELS, D_CHANNELS, Z_DIM, SHARED_DIM = 256, 256, 128, 128
RESOLUTIONS = (8, 16, 32)


def orthogonal_init(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.Linear | nn.Embedding):
            nn.init.orthogonal_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)


class BigGANGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 10,
                 channels: int = G_CHANNELS, shared_dim: int = SHARED_DIM, attention_at: int | None = None,
                 gated: bool = False) -> None:
        super().__init__()
        if tuple(data_shape[1:]) != (32, 32):
            raise ValueError(f"this BigGAN is built for 32x32 images, got {data_shape}")
        slots = len(RESOLUTIONS) + 1
        if z_dim % slots:
            raise ValueError(f"z_dim {z_dim} does not split into {slots} equal chunks")
        c = scaled(channels, width)
        self.z_dim, self.n_classes, self.channels, self.chunk = z_dim, n_classes, c, z_dim // slots
        self.shared = nn.Embedding(n_classes, shared_dim)
        norm = partial(LinearConditionalBatchNorm2d, cond_dim=shared_dim + self.chunk)
        self.linear = nn.Linear(self.chunk, 4 * 4 * c)
        self.blocks = nn.ModuleList(GBlock(c, c, norm, upsample=True, gated=gated) for _ in RESOLUTIONS)
        self.attention = nn.ModuleDict({str(attention_at): SelfAttention(c)} if attention_at else {})
        self.out_bn = nn.BatchNorm2d(c)
        self.out_conv = nn.Conv2d(c, data_shape[0], 3, padding=1)
        orthogonal_init(self)
        spectral_normalize(self, embeddings=False)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        first, *chunks = torch.split(z, self.chunk, dim=1)
        shared = self.shared(y)
        h = self.linear(first).view(z.shape[0], self.channels, 4, 4)
        for block, size, chunk in zip(self.blocks, RESOLUTIONS, chunks, strict=True):
            h = block(h, torch.cat([shared, chunk], dim=1))
            if str(size) in self.attention:
                h = self.attention[str(size)](h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))

    def orthogonal_parameters(self) -> list[nn.Parameter]:
        """The weights orthogonal regularization applies to: every matrix/kernel but the shared
        embedding (as the authors' code leaves it out)."""
        shared = {id(p) for p in self.shared.parameters()}
        return [p for p in self.parameters() if p.dim() >= 2 and id(p) not in shared]


class BigGANDiscriminator(ResNetDiscriminator):
    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 10,
                 channels: int = D_CHANNELS, attention_at: int | None = None, gated: bool = False) -> None:
        super().__init__(data_shape, width, n_classes=n_classes, channels=channels, attention_at=attention_at)
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
