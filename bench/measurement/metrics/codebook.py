"""Codebook metrics of a vector-quantized tokenizer (VQ-GAN, ViT-VQGAN), over every code index of a whole split.

- `codebook_usage`: the share of the codebook's codes chosen at least once.
- `codebook_perplexity`: exp of the entropy (nats) of the codes' frequencies, the "effective number of codes" in
  use: the codebook size when every code is used equally, 1 when one code takes every position.
Both are computed from the indices of the whole split at once. A per-batch perplexity, which the reference
implementations log while training, depends on the batch size (a batch of 64 images of 64 tokens can show at
most 4,096 distinct positions' codes), so it is not comparable between runs. Their catalog entries come with the
tokenizer task's evaluate stage, which writes them (issue 20).
"""

from __future__ import annotations

import numpy as np


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
