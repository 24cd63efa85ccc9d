"""Evaluate's `tokenizer` metric group: what a tokenizer run's codes keep, measured on the test split.

The frozen tokenizer encodes and decodes the whole test split once. From that pass: codebook usage and perplexity
over every code of the split (bench/measurement/metrics/codebook.py: not per batch), PSNR and SSIM of each image
against its reconstruction (bench/measurement/metrics/translation.py's definitions), and the reconstruction FID
(rFID) of the first N reconstructions, N the run's n_gen, on every backbone the run is scored on, against the same
reference as its samples. The prior's own samples are the run's ordinary N samples (every generation metric);
their sampling cost is timed where they are drawn (bench/training/tasks/tokenizer.py). reconstructions.png shows
test images above their reconstructions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.measurement.grids import save_grid
from bench.measurement.metrics import translation as pixels
from bench.measurement.metrics.codebook import codebook_metrics
from bench.measurement.scoring import MetricSettings, score_features
from bench.protocol.resolve import ResolvedRun
from bench.training.snapshots import quantize

GRID_IMAGES = 16  # test images shown in reconstructions.png (two rows of 8 over their reconstructions)
BATCH = 256


@torch.no_grad()
def reconstruct(autoencoder: torch.nn.Module, images: np.ndarray, device: torch.device,
                batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 reconstructions, code indices N x h x w) of uint8 images under the tokenizer in eval mode."""
    autoencoder = autoencoder.to(device).eval()
    recon, codes = [], []
    for i in range(0, len(images), batch):
        out = autoencoder(torch.from_numpy(images[i: i + batch]).float().to(device) / 127.5 - 1.0)
        recon.append(quantize(out.images.cpu()))
        codes.append(out.indices.cpu().numpy())
    return np.concatenate(recon), np.concatenate(codes)


def tokenizer_metrics(run: ResolvedRun, autoencoder: torch.nn.Module, test: np.ndarray, backbones: dict,
                      references: dict, n: int, out: Path, device: torch.device) -> tuple[dict, dict]:
    """The group's metrics and spec. `test`: the test split (uint8); `backbones` / `references`: per backbone the
    network and the reference arrays that score the run's samples; `n`: the run's n_gen."""
    recon, codes = reconstruct(autoencoder, test, device)
    metrics = {**codebook_metrics(codes, autoencoder.n_codes),
               "psnr_rec": pixels.psnr(recon, test), "ssim_rec": pixels.ssim(recon, test)}
    shown = min(GRID_IMAGES, len(test)) // 8 * 8 or len(test)
    rows = [block for i in range(0, shown, 8) for block in (test[i: i + 8], recon[i: i + 8])]
    save_grid(out / "reconstructions.png", np.concatenate(rows), nrow=8)
    n = min(n, len(test))
    for name, net in backbones.items():
        values, _ = score_features(name, net(recon[:n]), references[name], MetricSettings(which=("fid",)))
        metrics["rfid" if name == "inception" else f"rfid_{name}"] = values["fid" if name == "inception"
                                                                             else f"fid_{name}"]
    h, w = codes.shape[1:]
    spec = {"n_test": len(test), "n_rfid": n, "n_codes": autoencoder.n_codes, "grid": [int(h), int(w)],
            "codes": describe_codes(autoencoder), "family": run.variant.family,
            "disc_start_kimg": run.variant.recipe.disc_start * run.train["kimg"] if run.variant.recipe.disc_start
            else None,
            "train_kimg": run.train["kimg"], "train_subset": None,  # stage 1 samples the whole train split
            "prior": {key: run.prior[key] for key in sorted(run.prior)},
            "reconstructions": "reconstructions.png: rows of 8 test images, each above its reconstruction",
            "rfid": "the first n_rfid test images' reconstructions against the samples' reference"}
    return metrics, spec


def describe_codes(autoencoder: torch.nn.Module) -> str:
    """The codebook in words: its size, and its lookup (plain, or factorized and l2-normalised)."""
    q = autoencoder.quantizer
    factorized = not isinstance(q.project_in, torch.nn.Identity)
    kind = f"{'factorized' if factorized else 'plain'} {q.codebook.shape[1]}-d"
    if getattr(q, "l2_normalize", False):
        kind += ", l2-normalised"
    if getattr(q, "ema", False):
        kind += ", EMA"
    return f"{q.n_codes} codes, {kind}"
