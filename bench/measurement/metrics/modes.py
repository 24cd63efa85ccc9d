"""Mode-collapse metrics for 2-D Gaussian mixtures, as defined by VEEGAN and PacGAN.

A sample is high quality when it lies within 3 standard deviations of its nearest mode (strictly
closer than 3 sigma, as PacGAN's evaluation code tests). A mode is covered when it has at least one
high-quality sample. Reverse KL is KL(p || uniform) of the histogram p of high-quality samples over
modes (log K - H(p)); it is undefined (NaN) when no sample is high quality.
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.info import MetricInfo

METRICS = (MetricInfo("modes_covered", "modes covered", lower_is_better=False, backbone="modes",
                      compared_on=("modes",), description="modes (2-D mixtures) or classes (labeled sets, by the "
                      "domain classifier) with at least one (high-quality) sample"),
           MetricInfo("high_quality", "high quality", lower_is_better=False, backbone="modes", scale=100.0, unit="%",
                      compared_on=("modes",), description="share of 2-D samples within 3 sigma of a mode"),
           MetricInfo("reverse_kl", "reverse KL", lower_is_better=True, backbone="modes", compared_on=("modes",),
                      description="KL(generated mode histogram || the data's), nats",
                      undefined="no histogram when no sample is high quality (2-D sets); infinite when samples fall in "
                                "a class the real data's classifier never predicts"),
           MetricInfo("n_modes", "modes in the data", lower_is_better=None, backbone="modes", summarized=False))


def mode_metrics(samples: np.ndarray, modes: np.ndarray, sigma: float, threshold: float = 3.0) -> dict:
    points = np.asarray(samples, dtype=np.float64)
    centers = np.asarray(modes, dtype=np.float64)
    dist = np.sqrt(((points[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)) / sigma
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(len(points)), nearest] < threshold
    counts = np.bincount(nearest[good], minlength=len(centers))
    k = len(centers)
    if counts.sum() == 0:
        reverse_kl = float("nan")
    else:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float(np.sum(p[nz] * np.log(p[nz] * k)))
    return {
        "modes_covered": int((counts > 0).sum()),
        "high_quality": float(good.mean()),
        "reverse_kl": reverse_kl,
        "n_modes": k,
    }
