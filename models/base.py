"""The discriminator protocol every family follows: a feature trunk and a linear head.

`features(x)` returns D's penultimate activations (N x F) and `head` maps them to one output per
sample. Recipe options that work on D's features (feature matching, minibatch stddev, minibatch
discrimination: bench/training/objective.py) then apply to every architecture without touching it.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class FeatureDiscriminator(nn.Module):
    """Subclasses set `self.trunk` (input -> features of any shape) and `self.head` (nn.Linear to 1)."""

    trunk: nn.Module
    head: nn.Linear

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten()
