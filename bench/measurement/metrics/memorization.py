"""Memorization: the data-copying test of Meehan, Chaudhuri & Dasgupta (AISTATS 2020, arXiv:2004.05675),
on the domain classifier's features.

Why this one: it asks the question a benchmark needs answered, whether generated samples sit closer to
the training images than fresh images from the same distribution do, and it gives a z-score with a
threshold that needs no tuning per dataset. (Alaa et al.'s authenticity score needs a one-class embedding
trained per dataset.)

The training features are partitioned into k cells by k-means. In each cell, every generated sample's and
every held-out (eval) image's distance to its nearest training image *of that cell* are compared with a
Mann-Whitney U test, z-scored under the null (with the authors' continuity correction). C_T averages the
cells' z-scores weighted by the share of eval images in each cell, over the cells holding at least
`MIN_PER_CELL` generated samples. C_T well below 0 means the samples are closer to the training set than
held-out data is (copying); well above 0, farther (underfitting); near 0, neither. The flag uses C_T < -3.
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.info import MetricInfo

CELLS = 10  # k of the k-means partition
MIN_PER_CELL = 20  # generated samples a cell needs to count (the authors' tau x m)
THRESHOLD = -3.0  # C_T below this flags data-copying
SEED = 0  # k-means initialisation

METRICS = (MetricInfo("data_copying_domain", "data-copying C_T", lower_is_better=None, backbone="domain",
                      description="Meehan et al. 2020: z-score of generated vs held-out nearest-training-image "
                                  f"distances, averaged over {CELLS} k-means cells; < {THRESHOLD:g} flags copying, "
                                  "~0 is healthy, > 0 underfits",
                      undefined=f"no cell of the partition holds {MIN_PER_CELL} generated samples (N too small)"),)


def _nearest_distances(queries: np.ndarray, points: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Each query's Euclidean distance to its nearest point. Squared distances come from one matrix product
    (|q|^2 + |p|^2 - 2 q.p, in BLAS; scipy's cdist loop was 7.3 s of a 26 s evaluate stage here); the nearest
    point's distance is then recomputed directly, so the value returned is exact whenever the product picks the
    nearest point (its float64 rounding can only swap points whose distances agree to ~1e-12 relative)."""
    points_sq = np.einsum("ij,ij->i", points, points)
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        squared = points_sq[None, :] - 2.0 * (q @ points.T)  # |q|^2 is the same along a row: argmin needs none
        nearest = points[squared.argmin(axis=1)]
        out[start:start + len(q)] = np.sqrt(((q - nearest) ** 2).sum(axis=1))
    return out


def _z_u(generated: np.ndarray, held_out: np.ndarray) -> float:
    """Mann-Whitney U of the generated distances against the held-out ones (pairs where the generated one is
    larger, ties half), z-scored under H0 with the continuity correction of the authors' code."""
    from scipy.stats import mannwhitneyu

    m, n = len(generated), len(held_out)
    u = mannwhitneyu(generated, held_out, alternative="less").statistic
    return float((u - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12))


_PARTITIONS: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}


def _partition(train: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means centroids of the training features and each one's cell, computed once per process for each
    training set: an evaluate stage scores its final samples and every curve point against the same one."""
    import hashlib

    from scipy.cluster.vq import kmeans2

    key = (hashlib.sha256(train.tobytes()).hexdigest() + str(train.shape), cells)
    if key not in _PARTITIONS:
        _PARTITIONS[key] = kmeans2(train, cells, seed=SEED, minit="++")
    return _PARTITIONS[key]


def data_copying(train: np.ndarray, held_out: np.ndarray, generated: np.ndarray, cells: int = CELLS,
                 min_per_cell: int = MIN_PER_CELL) -> tuple[float | None, dict]:
    """C_T and how it was computed (the cells used, each cell's z-score)."""
    from scipy.cluster.vq import vq

    train, held_out, generated = (np.asarray(a, dtype=np.float64) for a in (train, held_out, generated))
    weights, scores, used = [], [], []
    if len(generated) >= min_per_cell:  # else no cell can count, and the partition is not needed
        centroids, train_cells = _partition(train, cells)
        held_cells, _ = vq(held_out, centroids)
        gen_cells, _ = vq(generated, centroids)
        for cell in range(len(centroids)):
            in_train, in_held = train[train_cells == cell], held_out[held_cells == cell]
            in_gen = generated[gen_cells == cell]
            if len(in_gen) < min_per_cell or not len(in_held) or not len(in_train):
                continue
            scores.append(_z_u(_nearest_distances(in_gen, in_train), _nearest_distances(in_held, in_train)))
            weights.append(len(in_held) / len(held_out))
            used.append(cell)
    spec = {"test": "Meehan et al. 2020 C_T", "cells": cells, "min_generated_per_cell": min_per_cell,
            "cells_used": used, "cell_z": [round(s, 4) for s in scores], "threshold": THRESHOLD,
            "held_out": "the reference's eval images", "train": "every train image"}
    if not scores:
        return None, spec
    value = float(np.dot(weights, scores) / np.sum(weights))
    spec["copying"] = value < THRESHOLD
    return value, spec


def closest_to_training(generated: np.ndarray, train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `k` generated samples nearest to the training set, nearest first: their indices, the index of each one's
    nearest training image and that distance (the nearest-neighbour grid: a copying generator shows its copies
    there first)."""
    generated, train = (np.asarray(a, dtype=np.float64) for a in (generated, train))
    train_sq = np.einsum("ij,ij->i", train, train)
    nearest = (train_sq[None, :] - 2.0 * (generated @ train.T)).argmin(axis=1)
    distance = np.sqrt(((generated - train[nearest]) ** 2).sum(axis=1))
    order = np.argsort(distance, kind="stable")[:k]
    return order, nearest[order], distance[order]
