"""Statistics over seeds: mean, spread and a 95% bootstrap confidence interval; tie detection."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
N_RESAMPLES = 9999


def summarize(values, seed: int = 0) -> dict[str, float]:
    """Mean, sample std and a percentile-bootstrap CI of the mean (NaN where undefined)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    n = len(x)
    out = {"n": n, "mean": float(x.mean()) if n else math.nan,
           "std": float(x.std(ddof=1)) if n > 1 else math.nan,
           "ci_low": math.nan, "ci_high": math.nan}
    if n > 1:
        if np.ptp(x) == 0:
            out["ci_low"] = out["ci_high"] = float(x[0])
        else:
            result = stats.bootstrap((x,), np.mean, confidence_level=CONFIDENCE, n_resamples=N_RESAMPLES,
                                     method="percentile", rng=np.random.default_rng(seed))
            out["ci_low"] = float(result.confidence_interval.low)
            out["ci_high"] = float(result.confidence_interval.high)
    return out


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    order = np.argsort(p_values)
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def tied_ranks(groups: dict[str, list[float]], lower_is_better: bool = True, alpha: float = 0.05) -> dict[str, int]:
    """Rank entries by mean; an entry shares the rank of the one above unless a Welch test over seeds,
    Holm-corrected over all adjacent comparisons, separates them."""
    names = sorted(groups, key=lambda k: np.mean(groups[k]) * (1 if lower_is_better else -1))
    if not names:
        return {}
    p_values = []
    for above, below in zip(names, names[1:], strict=False):
        a, b = np.asarray(groups[above]), np.asarray(groups[below])
        if len(a) < 2 or len(b) < 2:
            p_values.append(1.0)
            continue
        if np.ptp(np.concatenate([a, b])) == 0:
            p_values.append(1.0)
            continue
        p_values.append(float(stats.ttest_ind(a, b, equal_var=False).pvalue))
    adjusted = holm(p_values) if p_values else []
    ranks = {names[0]: 1}
    for i, name in enumerate(names[1:], start=1):
        separated = adjusted[i - 1] < alpha
        ranks[name] = i + 1 if separated else ranks[names[i - 1]]
    return ranks


def best_of_k(values, ks, lower_is_better: bool = True, n_resamples: int = 2000, seed: int = 0) -> list[dict]:
    """The best value found with a budget of k tries, for each k in `ks` (Lucic et al. 2018, Fig. 4):
    draw k of the values with replacement, keep the best, repeat; mean and 95% percentile band."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return []
    rng = np.random.default_rng(seed)
    out = []
    for k in ks:
        draws = x[rng.integers(0, x.size, size=(n_resamples, k))]
        best = draws.min(axis=1) if lower_is_better else draws.max(axis=1)
        low, high = np.percentile(best, [100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2])
        out.append({"k": int(k), "mean": float(best.mean()), "low": float(low), "high": float(high)})
    return out
