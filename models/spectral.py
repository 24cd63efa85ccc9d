"""Spectral normalization of a whole network (Miyato et al. 2018): used by the families that build it in
(SAGAN's and BigGAN's G) and by the `+sn` option on any D (bench/training/objective.py)."""

from __future__ import annotations

import torch.nn as nn


def spectral_normalize(module: nn.Module, embeddings: bool = True) -> nn.Module:
    """Miyato et al. 2018: every Linear/Conv weight (and class embedding, as the projection
    discriminator's authors do) divided by its largest singular value (one power iteration per
    forward), via torch's parametrization. Layers that already carry it are left as they are."""
    from torch.nn.utils.parametrizations import spectral_norm
    from torch.nn.utils.parametrize import is_parametrized

    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d) + ((nn.Embedding,) if embeddings else ())
    for child in list(module.modules()):
        if isinstance(child, kinds) and not is_parametrized(child, "weight"):
            spectral_norm(child)
    return module
