"""Discriminator layers that look across the minibatch, to make mode collapse visible to D.

Shared by the families that build them in (ProGAN, StyleGAN, StyleGAN2: minibatch stddev before D's last
block) and by the `+mbstd` / `+mbd` options, which insert them between any FeatureDiscriminator's
features and its head (bench/training/objective.py).
"""

from __future__ import annotations

import torch
import torch.nn as nn


class MinibatchStdDev(nn.Module):
    """Karras et al. 2018 (ProGAN), Sec. 3: split the batch into groups of `group` samples, take the std of
    every feature (every channel and pixel of a feature map) over the group, average it to one number per
    group and append it to every sample of that group: one more feature of an (N, F) input, one more
    constant channel of an (N, C, H, W) input. Sample i belongs to group i % (N / group), as in the
    reference code. The batch size must be divisible by the group (or smaller than it)."""

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = min(self.group, n)
        if n % g:
            raise ValueError(f"minibatch stddev: batch {n} is not divisible by the group size {g}")
        grouped = x.view(g, n // g, *x.shape[1:])
        spread = torch.sqrt(grouped.var(dim=0, unbiased=False) + 1e-8)
        std = spread.mean(dim=tuple(range(1, spread.dim())))  # (n // g,)
        column = std.repeat(g).view(n, 1, *(1,) * (x.dim() - 2)).expand(n, 1, *x.shape[2:])
        return torch.cat([x, column], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, Sec. 3.2: o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_1), M = f(x) T with
    T of shape A x (B C); the B outputs are appended to the features. Self-pairs are left out, as in the
    authors' code (improved-gan), so a lone sample gets zeros. T starts at N(0, 1) so that distinct
    samples start far apart (o near 0) and only near-duplicates, i.e. collapse, light the features up."""

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        m = (features @ self.T).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)  # (B, n, C)
        l1 = torch.cdist(m, m, p=1)  # (B, n, n), without the (n, n, B, C) differences: 1.5x faster on CPU
        similarity = torch.exp(-l1) * (1.0 - torch.eye(m.shape[1], device=m.device, dtype=m.dtype))
        return torch.cat([features, similarity.sum(dim=2).T], dim=1)
