"""Conditional GAN (Mirza & Osindero 2014, arXiv:1411.1784) on the DCGAN backbone, at its resolutions.

Mirza & Osindero condition both players by feeding the label y as an extra input: G sees [z, y] and D
sees x together with y, its hidden layers mixing the two. Their MLPs were for 28x28 MNIST; here the
same conditioning sits on the DCGAN of models/dcgan.py (the convolutional form most cGAN baselines use):
a learned 50-d label embedding (the paper's D gives y 50 units) is concatenated with z in G, and with
D's first feature maps (broadcast over positions) so every later D layer sees both. Recipe: DCGAN's.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from models.base import FeatureDiscriminator
from models.dcgan import DCGANGenerator, channels_at, discriminator_body, discriminator_input, doublings
from models.init import normal_002
from models.registry import Recipe, Variant, register

EMBED_DIM = 50


class CGANGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 10,
                 embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.z_dim, self.n_classes = z_dim, n_classes
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.backbone = DCGANGenerator(data_shape, z_dim + embed_dim, width)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.backbone(torch.cat([z, self.embed(y)], dim=1))


class CGANDiscriminator(FeatureDiscriminator):
    """DCGAN's D with the label embedding joined to its first feature maps. `features(x, y)` are the
    last conv's activations (they depend on y); the head is linear over them."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 10,
                 embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        c, k = channels_at(width), doublings(data_shape)
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.first = discriminator_input(data_shape[0], c)
        self.trunk = discriminator_body(c + embed_dim, c, k - 1)
        self.head = nn.Linear(c * 2 ** (k - 1) * 4 * 4, 1, bias=False)
        normal_002(self)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def features(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        label = self.embed(y)[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        return self.trunk(torch.cat([h, label], dim=1)).flatten(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, y)).flatten()


register(Variant(
    name="cgan", family="cgan",
    paper="Mirza & Osindero 2014, Conditional Generative Adversarial Nets (arXiv:1411.1784); label "
          "embedding joined to z in G and to D's features, on the DCGAN backbone",
    generator=CGANGenerator, discriminator=CGANDiscriminator,
    recipe=Recipe(loss="ns", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1, batch=64),
    data_kinds=("images",), z_dim=100, conditional=True,
))
