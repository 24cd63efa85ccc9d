"""Translation metrics: how well an output matches its ground truth, keeps its input's content and varies.

- `l1`: mean absolute difference on [0, 1] intensities; `psnr`: 10 log10(255^2 / MSE) per image, averaged (an
  identical image scores +inf; it is capped at 100 dB so the mean stays finite, and the spec says so); `ssim`:
  Wang et al. 2004's structural similarity with an 11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03, L 255,
  over the valid (unpadded) positions, per image then averaged (as scikit-image's `structural_similarity` with
  `gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255`, its documented way to match
  Wang et al.; tests/bench/measurement/metrics/test_translation_metrics.py checks ours against it).
- `content_accuracy`: the share of translations the domain classifier assigns to their input's class (pix2pix's
  "FCN-score" analogue: does the output still show the item it was asked to); `target_success`: the share assigned
  to the target class (class-pair tasks: is the sneaker now a boot).
- `cycle_l1`: CycleGAN's |G_BA(G_AB(a)) - a| on test inputs ([0, 1] scale).
- `diversity_l1`: the mean L1 between several translations of the same input (pix2pix's only noise is its
  dropout): near 0 means one answer per input, whatever the task allows.
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.info import MetricInfo

PSNR_CAP = 100.0
SSIM_WINDOW, SSIM_SIGMA, K1, K2, PEAK = 11, 1.5, 0.01, 0.03, 255.0

METRICS = (
    MetricInfo("l1_truth", "L1 to ground truth", lower_is_better=True, backbone="pixels",
               description="mean |output - ground truth| on [0, 1] intensities (paired and hidden-truth tasks)"),
    MetricInfo("psnr_truth", "PSNR to ground truth", lower_is_better=False, backbone="pixels", unit="dB",
               description=f"10 log10(255^2 / MSE) per image, capped at {PSNR_CAP:g} dB, averaged"),
    MetricInfo("ssim_truth", "SSIM to ground truth", lower_is_better=False, backbone="pixels",
               description="Wang et al. 2004, 11x11 Gaussian window (sigma 1.5), per image, averaged"),
    MetricInfo("content_accuracy_domain", "content kept", lower_is_better=False, backbone="domain", scale=100.0,
               unit="%", description="share of outputs the domain classifier assigns to their input's class"),
    MetricInfo("target_success_domain", "target class reached", lower_is_better=False, backbone="domain",
               scale=100.0, unit="%", description="share of outputs the domain classifier assigns to the target class"),
    MetricInfo("cycle_l1", "cycle error", lower_is_better=True, backbone="pixels",
               description="mean |G_BA(G_AB(a)) - a| on [0, 1] intensities over the test inputs (CycleGAN)"),
    MetricInfo("diversity_l1", "output diversity", lower_is_better=None, backbone="pixels",
               description="mean L1 between translations of the same input under different noise (dropout) draws"),
)


def l1(outputs: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute difference of uint8 images, on [0, 1]."""
    return float(np.abs(outputs.astype(np.float64) - truth.astype(np.float64)).mean() / PEAK)


def psnr(outputs: np.ndarray, truth: np.ndarray) -> float:
    """Mean over images of 10 log10(255^2 / MSE), each capped at PSNR_CAP."""
    mse = ((outputs.astype(np.float64) - truth.astype(np.float64)) ** 2).reshape(len(outputs), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        values = np.where(mse > 0, 10 * np.log10(PEAK ** 2 / np.maximum(mse, 1e-300)), PSNR_CAP)
    return float(np.minimum(values, PSNR_CAP).mean())


def _gaussian_filter(x: np.ndarray) -> np.ndarray:
    """x (N x H x W) filtered with the normalised 11x11 Gaussian (sigma 1.5) at the valid positions only."""
    from scipy.ndimage import correlate1d

    radius = SSIM_WINDOW // 2
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / SSIM_SIGMA) ** 2)
    taps /= taps.sum()
    out = correlate1d(correlate1d(x, taps, axis=1, mode="constant"), taps, axis=2, mode="constant")
    return out[:, radius:-radius, radius:-radius]


def ssim(outputs: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM of uint8 images N x C x H x W (the channels' mean per image), H and W >= 11."""
    x = outputs.astype(np.float64).reshape(-1, *outputs.shape[2:])
    y = truth.astype(np.float64).reshape(-1, *truth.shape[2:])
    mx, my = _gaussian_filter(x), _gaussian_filter(y)
    vx, vy = _gaussian_filter(x * x) - mx ** 2, _gaussian_filter(y * y) - my ** 2
    cov = _gaussian_filter(x * y) - mx * my
    c1, c2 = (K1 * PEAK) ** 2, (K2 * PEAK) ** 2
    maps = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    per_channel = maps.reshape(len(maps), -1).mean(axis=1).reshape(len(outputs), -1)
    return float(per_channel.mean())


def diversity(draws: np.ndarray) -> float:
    """Mean L1 ([0, 1]) over the pairs of draws of each input; `draws` K x N x C x H x W uint8, K >= 2."""
    k = len(draws)
    pairs = [l1(draws[i], draws[j]) for i in range(k) for j in range(i + 1, k)]
    return float(np.mean(pairs))
