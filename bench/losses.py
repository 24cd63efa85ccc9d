"""Adversarial losses, by name. Each takes discriminator logits and returns a scalar to minimise.

`ns`: the non-saturating loss of Goodfellow et al. 2014 (Sec. 3): D minimises
-log sigmoid(D(x)) - log(1 - sigmoid(D(G(z)))); G minimises -log sigmoid(D(G(z))) instead of the
saturating log(1 - sigmoid(D(G(z)))). Written with softplus for stability:
-log sigmoid(t) = softplus(-t) and -log(1 - sigmoid(t)) = softplus(t).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Loss:
    name: str
    paper: str
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (real_logits, fake_logits)
    g_loss: Callable[[torch.Tensor], torch.Tensor]  # (fake_logits)


def _ns_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _ns_g(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()


LOSSES: dict[str, Loss] = {
    "ns": Loss("ns", "Goodfellow et al. 2014 (arXiv:1406.2661), non-saturating generator loss",
               _ns_d, _ns_g),
}


def get_loss(name: str) -> Loss:
    if name not in LOSSES:
        raise KeyError(f"unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]
