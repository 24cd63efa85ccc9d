"""k-NN precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020), in bounded memory.

All four metrics compare feature vectors through k-nearest-neighbour balls. With real x_1..x_n, fake y_1..y_m and
squared Euclidean distance d(a, b) = |a - b|^2:

    r_k(x_i) = k-th nearest-neighbour distance of x_i within its own set, self excluded; computed as the (k+1)-th
               smallest entry of the row d(x_i, x_1..x_n), whose self-distance d(x_i, x_i) = 0 is counted. An exact
               duplicate of x_i is a neighbour at distance 0 (it is not the point itself).
    precision = (1/m) #{j : exists i, d(x_i, y_j) <= r_k(x_i)}        k = k_pr (default 3)
    recall    = (1/n) #{i : exists j, d(x_i, y_j) <= r_k(y_j)}        k = k_pr, radii of the fake set
    density   = 1/(k m) sum_j #{i : d(x_i, y_j) <  r_k(x_i)}         k = k_dc (default 5)
    coverage  = (1/n) #{i : min_j d(x_i, y_j) <  r_k(x_i)}           k = k_dc

Conventions and where they come from:
- Precision/recall: squared distances, radius = (k+1)-th smallest including self, `<=`. Kynkaanniemi's original
  code (kynkaat/improved-precision-and-recall-metric, precision_recall.py) uses clamped squared distances,
  `np.partition(...)[:, nhood_sizes]` (0-based index k, self included) and `distance <= radius`; NVlabs'
  stylegan2-ada-pytorch metrics/precision_recall.py uses `kthvalue(nhood_size + 1)` of Euclidean distances and
  `dist <= kth` (same comparisons, distances are monotone in each other).
- Density/coverage: Naeem et al.'s official code (clovaai/generative-evaluation-prdc, prdc/prdc.py, the `prdc`
  package) takes the (k+1)-th smallest Euclidean distance including self (`get_kth_value(..., k=nearest_k + 1)`)
  and compares strictly: `distance < radius` for density, `min distance < radius` for coverage. (That code also
  uses `<` for its own precision/recall; here P/R follow Kynkaanniemi/NVlabs, which differs only on exact ties.)

Computation: float64, d(a, b) = |a|^2 + |b|^2 - 2 a.b clamped at 0, with the self-distances of the k-NN passes set
to exactly 0, so self-inclusion is exact. (Identical real and fake sets then give density 1, the k-th neighbour sitting
exactly on the boundary, as far as the BLAS product rounds alike for alike shapes; the self tiles avoid numpy's
symmetric product for that reason.) Inputs are copied to float64 once if they are not already; beyond that, the
work runs in tiles of at most `max_block_elements` distances (rows x columns; a tile spans whole rows when a row
fits), so the n x m matrix is never formed: one blocked pass per set gives the k-NN radii (both k of the real set
from one partition), and one pass of real-row tiles against fake columns gives recall and coverage per real row and
accumulates precision (OR) and density (count) per fake column. Peak extra memory is about one float64 tile
(8 * max_block_elements bytes, 64 MiB by default) plus a boolean tile of the same shape and O((n + m) k) for the
radii.
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.info import MetricInfo

K_PR, K_DC = 3, 5  # the protocol's neighbourhood sizes: Kynkaanniemi et al. (P/R), Naeem et al. (D/C)
METRICS = (MetricInfo("precision", "precision", lower_is_better=False, per_backbone=True, compared_on=("inception",),
                      min_generated=K_PR + 1, min_reference=max(K_PR, K_DC) + 1,
                      description="share of samples inside the real data's k-NN balls (k = 3)"),
           MetricInfo("recall", "recall", lower_is_better=False, per_backbone=True, compared_on=("inception",),
                      min_generated=K_PR + 1, min_reference=max(K_PR, K_DC) + 1,
                      description="share of real images inside the samples' k-NN balls (k = 3)"),
           MetricInfo("density", "density", lower_is_better=False, per_backbone=True,
                      min_generated=K_PR + 1, min_reference=max(K_PR, K_DC) + 1,
                      description="real k-NN balls containing each sample, / k, averaged (k = 5)"),
           MetricInfo("coverage", "coverage", lower_is_better=False, per_backbone=True,
                      min_generated=K_PR + 1, min_reference=max(K_PR, K_DC) + 1,
                      description="share of real images whose k-NN ball contains a sample (k = 5)"))


def _as_features(name: str, x: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a 2-D (n_samples, n_features) array with n_features >= 1, got shape "
                         f"{np.shape(x)}")
    return arr


def _tile_shape(n_rows: int, n_cols: int, max_elements: int) -> tuple[int, int]:
    cols = min(n_cols, max_elements)
    rows = max(1, min(n_rows, max_elements // cols))
    return rows, cols


def _sq_dists(a: np.ndarray, a_sq: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    out = a @ b.T
    out *= -2.0
    out += a_sq[:, None]
    out += b_sq[None, :]
    np.maximum(out, 0.0, out=out)
    return out


def _knn_sq_radii(x: np.ndarray, x_sq: np.ndarray, ks: list[int], max_elements: int) -> list[np.ndarray]:
    """Squared distance to the k-th neighbour (self excluded) for each k in ks, in one blocked pass."""
    n = x.shape[0]
    keep = max(ks) + 1
    rows, cols = _tile_shape(n, n, max_elements)
    smallest = np.empty((n, keep))
    for r0 in range(0, n, rows):
        r1 = min(r0 + rows, n)
        best = None
        for c0 in range(0, n, cols):
            c1 = min(c0 + cols, n)
            # A copy keeps numpy from switching to a symmetric (syrk) product on the diagonal tiles, so these
            # distances round exactly like the general product used against the other set.
            cols_x = x[c0:c1].copy() if (r0, r1) == (c0, c1) else x[c0:c1]
            tile = _sq_dists(x[r0:r1], x_sq[r0:r1], cols_x, x_sq[c0:c1])
            own = np.arange(max(r0, c0), min(r1, c1))
            tile[own - r0, own - c0] = 0.0
            if best is not None:
                tile = np.concatenate([best, tile], axis=1)
            if tile.shape[1] > keep:
                tile.partition(keep - 1, axis=1)
            best = tile[:, :keep].copy()
            del tile  # free this tile before the next one is allocated
        best.sort(axis=1)
        smallest[r0:r1] = best
    return [smallest[:, k].copy() for k in ks]


def precision_recall_density_coverage(real: np.ndarray, fake: np.ndarray, *, k_pr: int = K_PR, k_dc: int = K_DC,
                                      max_block_elements: int = 2**23) -> dict[str, float]:
    """Precision, recall (k = k_pr), density and coverage (k = k_dc) of fake against real (n, d) / (m, d) features."""
    x = _as_features("real", real)
    y = _as_features("fake", fake)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: real has {x.shape[1]}, fake has {y.shape[1]}")
    for name, k in (("k_pr", k_pr), ("k_dc", k_dc), ("max_block_elements", max_block_elements)):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{name} must be a positive integer, got {k!r}")
    n, m = x.shape[0], y.shape[0]
    if n < max(k_pr, k_dc) + 1:
        raise ValueError(f"need at least max(k_pr, k_dc) + 1 = {max(k_pr, k_dc) + 1} real samples, got {n}")
    if m < k_pr + 1:
        raise ValueError(f"need at least k_pr + 1 = {k_pr + 1} fake samples, got {m}")
    x_sq = np.einsum("ij,ij->i", x, x)
    y_sq = np.einsum("ij,ij->i", y, y)
    if not (np.isfinite(x_sq).all() and np.isfinite(y_sq).all()):
        raise ValueError("features must be finite (and small enough to square in float64)")

    real_pr, real_dc = _knn_sq_radii(x, x_sq, [k_pr, k_dc], max_block_elements)
    (fake_pr,) = _knn_sq_radii(y, y_sq, [k_pr], max_block_elements)

    fake_in_real = np.zeros(m, dtype=bool)
    density_counts = np.zeros(m, dtype=np.int64)
    real_in_fake = np.zeros(n, dtype=bool)
    real_covered = np.zeros(n, dtype=bool)
    rows, cols = _tile_shape(n, m, max_block_elements)
    for r0 in range(0, n, rows):
        r1 = min(r0 + rows, n)
        for c0 in range(0, m, cols):
            c1 = min(c0 + cols, m)
            tile = _sq_dists(x[r0:r1], x_sq[r0:r1], y[c0:c1], y_sq[c0:c1])
            fake_in_real[c0:c1] |= (tile <= real_pr[r0:r1, None]).any(axis=0)
            real_in_fake[r0:r1] |= (tile <= fake_pr[None, c0:c1]).any(axis=1)
            strictly_inside = tile < real_dc[r0:r1, None]
            density_counts[c0:c1] += strictly_inside.sum(axis=0)
            real_covered[r0:r1] |= strictly_inside.any(axis=1)
            del tile, strictly_inside

    return {
        "precision": float(fake_in_real.mean()),
        "recall": float(real_in_fake.mean()),
        "density": float(density_counts.mean() / k_dc),
        "coverage": float(real_covered.mean()),
    }
