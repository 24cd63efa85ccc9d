"""The truncation trick (Brock et al. 2019, Sec. 3.1): latents drawn from N(0, I) with every entry whose
magnitude exceeds tau resampled until none does, i.e. the standard normal truncated to [-tau, tau] per
coordinate. Smaller tau trades variety for fidelity; the evaluate stage scores that curve.
"""

from __future__ import annotations

import torch

TAUS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # the curve's points; untruncated sampling is its last point


def truncated_normal(n: int, dim: int, tau: float | None, generator: torch.Generator) -> torch.Tensor:
    """(n, dim) latents with |z_i| <= tau (tau None: untruncated)."""
    z = torch.randn(n, dim, generator=generator)
    if tau is None:
        return z
    if tau <= 0:
        raise ValueError(f"the truncation threshold must be > 0, got {tau}")
    outside = z.abs() > tau
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > tau
    return z
