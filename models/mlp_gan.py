"""The MLP GAN of Goodfellow et al. (NeurIPS 2014, arXiv:1406.2661) for 2-D mixtures.

Sizes follow the 2-D experiments of PacGAN (Lin et al. 2018, arXiv:1712.04086), which VEEGAN's and
PacGAN's published mode-collapse numbers use: a 2-D Gaussian latent; generator with four hidden
layers of 400 ReLU units and BatchNorm; discriminator with three hidden layers of 200 maxout units
(5 pieces, Goodfellow et al.'s maxout D), no BatchNorm; weights ~ N(0, 0.02); Adam lr 1e-4,
beta1 0.8, batch 100. `width` scales the hidden units.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from models.base import FeatureDiscriminator
from models.init import normal_002
from models.registry import Recipe, Variant, register


class Maxout(nn.Module):
    """A linear layer with `pieces` outputs per unit, reduced by max (Goodfellow et al. 2013)."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(-1, self.out_features, self.pieces).amax(dim=2)


class MLPGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0,
                 hidden: int = 400, depth: int = 4) -> None:
        super().__init__()
        units = max(1, round(hidden * width))
        layers: list[nn.Module] = []
        fan_in = z_dim
        for _ in range(depth):
            layers += [nn.Linear(fan_in, units), nn.BatchNorm1d(units), nn.ReLU(True)]
            fan_in = units
        layers.append(nn.Linear(fan_in, data_shape[0]))
        self.net = nn.Sequential(*layers)
        normal_002(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(FeatureDiscriminator):
    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, hidden: int = 200,
                 depth: int = 3, pieces: int = 5) -> None:
        super().__init__()
        units = max(1, round(hidden * width))
        layers: list[nn.Module] = []
        fan_in = data_shape[0]
        for _ in range(depth):
            layers.append(Maxout(fan_in, units, pieces))
            fan_in = units
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(fan_in, 1)
        normal_002(self)


register(
    Variant(
        name="mlp-gan",
        family="mlp",
        paper="Goodfellow et al. 2014, Generative Adversarial Nets (arXiv:1406.2661); 2-D sizes of "
        "PacGAN (arXiv:1712.04086)",
        generator=MLPGenerator,
        discriminator=MLPDiscriminator,
        recipe=Recipe(loss="ns", lr_g=1e-4, lr_d=1e-4, betas=(0.8, 0.999), n_critic=1, batch=100),
        data_kinds=("points",),
        z_dim=2,
    )
)
