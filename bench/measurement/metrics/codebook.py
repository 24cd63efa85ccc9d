"""Codebook metrics of a vector-quantized tokenizer (VQ-GAN, ViT-VQGAN), over every code index of a whole split.

- `codebook_usage`: the share of the codebook's codes chosen at least once.
- `codebook_perplexity`: exp of the entropy (nats) of the codes' frequencies, the "effective number of codes" in
  use: the codebook size when every code is used equally, 1 when one code takes every position.
Both are computed from the indices of the whole split at once. A per-batch perplexity, which the reference
implementations log while training, depends on the batch size (a batch of 64 images of 64 tokens can show at
most 4,096 distinct positions' codes), so it is not comparable between runs. The tokenizer's other evaluate
numbers (reconstruction FID, PSNR, SSIM, sampling cost) are declared here too: bench/measurement/tokenizer_group.py
computes them all.
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.info import MetricInfo

METRICS = (
    MetricInfo("rfid", "rFID", lower_is_better=True, backbone="inception",
               description="FID of the tokenizer's reconstructions of the first N test images against the reference "
                           "(Inception): what the codes keep, before any prior"),
    MetricInfo("rfid_domain", "rFID", lower_is_better=True, backbone="domain",
               description="the reconstruction FID on the domain classifier's features"),
    MetricInfo("psnr_rec", "PSNR", lower_is_better=False, backbone="pixels", unit="dB",
               description="10 log10(255^2 / MSE) per test image and its reconstruction, capped at 100 dB, averaged "
                           "over the whole test split"),
    MetricInfo("ssim_rec", "SSIM", lower_is_better=False, backbone="pixels",
               description="Wang et al. 2004 (11x11 Gaussian window), per test image and its reconstruction, averaged "
                           "over the whole test split"),
    MetricInfo("codebook_usage", "codebook usage", lower_is_better=False, backbone="codes", scale=100.0, unit="%",
               description="share of the codebook's codes chosen at least once over the whole test split"),
    MetricInfo("codebook_perplexity", "codebook perplexity", lower_is_better=False, backbone="codes",
               description="exp of the entropy of the code frequencies over the whole test split (the effective "
                           "number of codes in use)"),
    MetricInfo("sample_ms_per_image", "sampling cost", lower_is_better=True, backbone="generator", unit="ms",
               summarized=True, description="wall-clock ms per image of the prior's sampling (KV cache) and the "
                                            "tokenizer's decoding, on the evaluating device"),
)


def code_counts(indices: np.ndarray, n_codes: int) -> np.ndarray:
    """How often each code of a codebook of `n_codes` is chosen, over all positions of all images."""
    flat = np.asarray(indices).reshape(-1)
    if flat.size and (flat.min() < 0 or flat.max() >= n_codes):
        raise ValueError(f"code indices must lie in [0, {n_codes}), got [{flat.min()}, {flat.max()}]")
    return np.bincount(flat, minlength=n_codes)


def codebook_metrics(indices: np.ndarray, n_codes: int) -> dict[str, float]:
    counts = code_counts(indices, n_codes)
    p = counts[counts > 0] / counts.sum()
    return {"codebook_usage": float((counts > 0).mean()),
            "codebook_perplexity": float(np.exp(-(p * np.log(p)).sum()))}
