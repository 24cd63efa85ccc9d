"""The cheap quality signal logged on training curves.

Images: Frechet distance between 8x8 average-pooled pixels (64-d) of generated images and of a fixed
subset of the *train* split (model selection never touches the reported eval split). It is a coarse
but cheap proxy; it is not FID and is never compared with it. 2-D sets: the mode metrics.
The latents are fixed for the whole run, so points along a curve differ only by the generator.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from bench.metrics.fid import frechet_distance_features
from bench.metrics.modes import mode_metrics
from bench.seeding import generator

PIXEL_POOL = 8


def pooled_pixels(images: torch.Tensor) -> np.ndarray:
    """(N, C, 32, 32) in [-1, 1] -> (N, C*8*8) float64."""
    pooled = F.adaptive_avg_pool2d(images.float(), PIXEL_POOL)
    return pooled.flatten(1).double().cpu().numpy()


class QualitySignal:
    def __init__(self, kind: str, train_x: torch.Tensor, n: int, z_dim: int,
                 modes: np.ndarray | None = None, sigma: float | None = None) -> None:
        self.kind, self.n = kind, n
        self.latents = torch.randn(n, z_dim, generator=generator(0, "curve-latents"))
        if kind == "images":
            pick = torch.randperm(train_x.shape[0], generator=generator(0, "curve-reference"))[:n]
            self.reference = pooled_pixels(train_x[pick])
        self.modes, self.sigma = modes, sigma

    def name(self) -> str:
        return "fd_pix8" if self.kind == "images" else "modes"

    @torch.no_grad()
    def __call__(self, g: torch.nn.Module, device: torch.device) -> dict[str, float]:
        was_training = g.training
        g.eval()
        out = torch.cat([g(z.to(device)).cpu() for z in self.latents.split(256)])
        g.train(was_training)
        if self.kind == "images":
            return {"fd_pix8": frechet_distance_features(pooled_pixels(out), self.reference)}
        metrics = mode_metrics(out.numpy(), self.modes, self.sigma)
        return {k: metrics[k] for k in ("modes_covered", "high_quality", "reverse_kl")}
