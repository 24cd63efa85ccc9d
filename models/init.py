"""Weight initialisations published with the architectures."""

from __future__ import annotations

import torch.nn as nn


def normal_002(module: nn.Module) -> None:
    """DCGAN / PacGAN init: conv and linear weights ~ N(0, 0.02), BN scale ~ N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)
