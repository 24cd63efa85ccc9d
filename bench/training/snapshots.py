"""Samples of the generator along training, kept so the evaluate stage can draw quality-vs-kimg curves.

At every curve point the generator (EMA-G where the recipe keeps one) maps the same fixed latents to
samples; images are quantised to uint8 as the evaluate stage does. Training computes no metric: which
backbone scores the curve is the metric spec's business, so changing it re-runs only evaluate.
The snapshots are written atomically next to each checkpoint and cut back to the checkpoint's curve on
resume, so an interrupted run ends with the same file as an uninterrupted one.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from bench.protocol.io import write_bytes
from bench.protocol.seeding import generator

FILE = "curve_samples.npz"
# Generator batches by device. On CPU a batch of 32 generates 1.7-3x faster than 256 (BigGAN, SN-GAN, SAGAN,
# StyleGAN2, StyleGAN3-T, R3GAN at the quick widths: the activations stay in cache) with the same bytes, except
# StyleGAN3-T's matmul resampling (1e-6 apart before quantisation).
GENERATION_BATCH = {"cpu": 32}
DEFAULT_GENERATION_BATCH = 256


@torch.no_grad()
def generate(g: torch.nn.Module, latents: torch.Tensor, device: torch.device, labels: torch.Tensor | None = None,
             batch: int | None = None) -> torch.Tensor:
    """G (in eval mode) on `latents` (and `labels` for a conditional G), in batches; [-1, 1] images on the CPU."""
    batch = batch or GENERATION_BATCH.get(device.type, DEFAULT_GENERATION_BATCH)
    g = g.to(device).eval()
    if labels is None:
        return torch.cat([g(z.to(device)).cpu() for z in latents.split(batch)])
    return torch.cat([g(z.to(device), y.to(device)).cpu()
                      for z, y in zip(latents.split(batch), labels.split(batch), strict=True)])


def quantize(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] float images -> uint8, as NVlabs' metric code does (x * 127.5 + 128, clamp, truncate)."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()


class CurveSnapshots:
    def __init__(self, kind: str, n: int, z_dim: int, n_classes: int = 0, inputs: torch.Tensor | None = None) -> None:
        """`inputs`: G's fixed inputs when they are not latents (a translation G's first `n` test inputs)."""
        self.kind = kind
        self.latents = (inputs[:n] if inputs is not None
                        else torch.randn(n, z_dim, generator=generator(0, "curve-latents")))
        self.labels = torch.arange(n) % n_classes if n_classes else None  # equal per class, as the eval split
        self.kimg: list[float] = []
        self.samples: list[np.ndarray] = []

    @torch.no_grad()
    def record(self, g: torch.nn.Module, device: torch.device, kimg: float) -> None:
        was_training = g.training
        out = generate(g, self.latents, device, self.labels)
        g.train(was_training)
        self.kimg.append(kimg)
        self.samples.append(quantize(out) if self.kind == "images" else out.numpy().astype(np.float32))

    def save(self, folder: Path) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, kimg=np.array(self.kimg, dtype=np.float64), samples=np.stack(self.samples))
        write_bytes(folder / FILE, buffer.getvalue())

    def restore(self, folder: Path, n_points: int) -> None:
        """Keep the first `n_points` snapshots saved in `folder` (those of the checkpoint resumed from)."""
        with np.load(folder / FILE, allow_pickle=False) as npz:
            if len(npz["kimg"]) < n_points:
                raise RuntimeError(f"{folder / FILE} holds {len(npz['kimg'])} curve points, the checkpoint "
                                   f"{n_points}; delete {folder} and train again")
            self.kimg = [float(k) for k in npz["kimg"][:n_points]]
            self.samples = list(npz["samples"][:n_points])


def load_snapshots(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(kimg (P,), samples (P, n, ...)) of a finished run."""
    with np.load(folder / FILE, allow_pickle=False) as npz:
        return npz["kimg"], npz["samples"]
