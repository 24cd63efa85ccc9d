"""Inception Score from class probabilities, and class-histogram mode metrics (Stacked MNIST).

IS (Salimans et al. 2016) = exp(E_x KL(p(y|x) || p(y))), with p(y) the mean of p(y|x) over the split. As in OpenAI's
improved-gan inception_score/model.py and torch-fidelity's metric_isc.py, the N rows are cut into `splits`
contiguous chunks rows[i*N//splits : (i+1)*N//splits] in the given order (torch-fidelity first shuffles with a
fixed seed by default; shuffle before calling to match that), one IS per chunk, and the result is the mean and the
population standard deviation (np.std, ddof=0) over chunks. Terms with p(y|x) = 0 contribute 0 (0 log 0 = 0), where
the reference code would give NaN; probabilities are taken as given, in float64.

`class_histogram_metrics` is the mode metric of VEEGAN/PacGAN on Stacked MNIST: a classifier labels each generated
sample, a class counts as covered when it gets at least one sample, and reverse KL = KL(p_gen || p_ref) of the
generated label histogram against the reference one (uniform over 1000 classes there), in nats.
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.info import MetricInfo

IS_SPLITS = 10  # as the original Inception Score code
METRICS = (MetricInfo("is", "IS", lower_is_better=False, per_backbone=True, min_generated=IS_SPLITS,
                      description="exp E KL(p(y|x) || p(y)) over the backbone's classes, mean over 10 splits"),
           MetricInfo("is_std", "IS std", lower_is_better=None, per_backbone=True, summarized=False,
                      min_generated=IS_SPLITS,
                      description="standard deviation of IS over the 10 splits"))


_SUM_ATOL = 1e-4  # float32 softmax outputs over ~1000 classes sum to 1 within a few 1e-6


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float64 along `axis`."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _check_distribution(name: str, p: np.ndarray) -> None:
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    sums = p.sum(axis=-1)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=_SUM_ATOL):
        worst = float(np.max(np.abs(sums - 1.0)))
        raise ValueError(f"{name} must sum to 1 (within {_SUM_ATOL}); off by up to {worst:.3g}")


def _kl_terms(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Elementwise p log(p / q) with 0 log 0 = 0 and +inf where p > 0 = q."""
    pos = p > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pos, p * (np.log(np.where(pos, p, 1.0)) - np.log(q)), 0.0)


def inception_score(probs: np.ndarray, splits: int = IS_SPLITS) -> tuple[float, float]:
    """(mean, std) of the Inception Score over `splits` contiguous chunks of an (N, C) class-probability array."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"probs must be a 2-D (N, n_classes) array, got shape {p.shape}")
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or not 1 <= splits <= p.shape[0]:
        raise ValueError(f"splits must be an integer in [1, N={p.shape[0]}], got {splits!r}")
    _check_distribution("each row of probs", p)
    n = p.shape[0]
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        scores.append(np.exp(_kl_terms(part, marginal).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def class_histogram_metrics(predicted: np.ndarray, reference_hist: np.ndarray) -> dict:
    """Classes covered and KL(p_gen || p_ref) for integer class predictions against a reference class distribution."""
    ref = np.asarray(reference_hist, dtype=np.float64)
    if ref.ndim != 1 or ref.shape[0] == 0:
        raise ValueError(f"reference_hist must be a non-empty 1-D probability vector, got shape {ref.shape}")
    _check_distribution("reference_hist", ref)
    labels = np.asarray(predicted)
    if labels.ndim != 1 or labels.shape[0] == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"predicted must be a non-empty 1-D integer array, got shape {labels.shape}, "
                         f"dtype {labels.dtype}")
    k = ref.shape[0]
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"predicted classes must lie in [0, {k}), got range [{labels.min()}, {labels.max()}]")
    counts = np.bincount(labels, minlength=k)
    p_gen = counts / counts.sum()
    return {
        "classes_covered": int((counts > 0).sum()),
        "n_classes": int(k),
        "reverse_kl": float(_kl_terms(p_gen, ref).sum()),
    }
