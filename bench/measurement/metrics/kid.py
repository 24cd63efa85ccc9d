"""Kernel Inception Distance (Binkowski et al. 2018), on the subsets clean-fid's `kernel_distance` draws.

KID is the unbiased MMD^2 with the kernel k(a, b) = (a.b / d + 1)^3, averaged over `num_subsets` pairs of
subsets of size m = min(n_gen, n_ref, max_subset_size). clean-fid draws each pair from numpy's legacy global
RNG (reference subset first, then generated) and builds three m x m kernel matrices per pair. We draw the same
subsets from a `RandomState(seed)` (the global RNG is never touched) and, where it is cheaper, compute the
kernel over whole sets once: a subset's kernel sum is then w^T K w for its 0/1 indicator vector w, one matrix
product for all subsets. At N = 1,000 generated against 2,000 reference features that is ~40x fewer kernel
entries than clean-fid's loop. Where whole-set kernels would cost more (large sets, few subsets) or take too
much memory, clean-fid's own function runs, seeded the same way. Both paths equal clean-fid's to float64
rounding (tests/bench/measurement/metrics/test_kid.py).
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.info import MetricInfo

METRICS = (MetricInfo("kid", "KID", lower_is_better=True, per_backbone=True, compared_on=("inception",), scale=1e3,
                      unit="×10³", min_generated=2, min_reference=2,
                      description="unbiased MMD^2 with the cubic polynomial kernel, mean over subsets"),)

MAX_KERNEL_ENTRIES = 5000 * 5000  # largest whole-set kernel matrix built (200 MB of float64)


def kernel_inception_distance(features_gen: np.ndarray, features_ref: np.ndarray, *, seed: int,
                              num_subsets: int = 100, max_subset_size: int = 1000,
                              whole_sets: bool | None = None) -> float:
    """KID of the generated features against the reference ones. `whole_sets`: force (True) or forbid (False)
    the whole-set kernels; None picks the cheaper path."""
    gen = np.asarray(features_gen, dtype=np.float64)
    ref = np.asarray(features_ref, dtype=np.float64)
    n_gen, n_ref = len(gen), len(ref)
    m = min(n_gen, n_ref, max_subset_size)
    if whole_sets is None:
        whole_sets = (max(n_gen, n_ref) ** 2 <= MAX_KERNEL_ENTRIES
                      and n_gen ** 2 + n_ref ** 2 + n_gen * n_ref < 3 * num_subsets * m ** 2)
    if not whole_sets:
        return _clean_fid_loop(gen, ref, seed, num_subsets, max_subset_size)
    draw = np.random.RandomState(seed)
    w_ref, w_gen = np.zeros((num_subsets, n_ref)), np.zeros((num_subsets, n_gen))
    for i in range(num_subsets):  # clean-fid's order: the reference subset, then the generated one
        w_ref[i, draw.choice(n_ref, m, replace=False)] = 1.0
        w_gen[i, draw.choice(n_gen, m, replace=False)] = 1.0
    d = gen.shape[1]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T / d + 1.0) ** 3

    def quadratic(w: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:  # w_i^T K v_i for every subset i
        return ((w @ k) * v).sum(axis=1)

    k_ref, k_gen = kernel(ref, ref), kernel(gen, gen)
    within = quadratic(w_ref, k_ref, w_ref) + quadratic(w_gen, k_gen, w_gen)
    diagonal = w_ref @ np.diag(k_ref) + w_gen @ np.diag(k_gen)
    cross = quadratic(w_ref, kernel(ref, gen), w_gen)
    total = ((within - diagonal) / (m - 1) - cross * 2 / m).sum()
    return float(total / num_subsets / m)


def _clean_fid_loop(gen: np.ndarray, ref: np.ndarray, seed: int, num_subsets: int, max_subset_size: int) -> float:
    """clean-fid's `kernel_distance` itself, with numpy's global RNG seeded for the call and restored after."""
    from cleanfid.fid import kernel_distance

    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        return float(kernel_distance(gen, ref, num_subsets=num_subsets, max_subset_size=max_subset_size))
    finally:
        np.random.set_state(saved)
