"""Kernel Inception Distance (Binkowski et al. 2018) through clean-fid's `kernel_distance`.

clean-fid draws its subsets from numpy's global RNG; we seed it for the call and restore the previous
state afterwards, so KID is reproducible and nothing else in the process is disturbed.
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.info import MetricInfo

METRICS = (MetricInfo("kid", "KID", lower_is_better=True, per_backbone=True, compared_on=("inception",), scale=1e3,
                      unit="×10³", min_generated=2, min_reference=2,
                      description="unbiased MMD^2 with the cubic polynomial kernel, mean over subsets"),)


def kernel_inception_distance(features_gen: np.ndarray, features_ref: np.ndarray, *, seed: int,
                              num_subsets: int = 100, max_subset_size: int = 1000) -> float:
    from cleanfid.fid import kernel_distance

    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        return float(kernel_distance(np.asarray(features_gen, dtype=np.float64),
                                     np.asarray(features_ref, dtype=np.float64),
                                     num_subsets=num_subsets, max_subset_size=max_subset_size))
    finally:
        np.random.set_state(saved)
