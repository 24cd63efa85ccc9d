"""Translation metrics against scikit-image's (SSIM, PSNR) and closed forms (L1, diversity)."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from bench.measurement.metrics import translation as tm


def _pair(seed: int = 0):
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(4, 1, 32, 32)), axis=2), axis=3)
    truth = np.clip((smooth - smooth.min()) / np.ptp(smooth) * 255, 0, 255).astype(np.uint8)
    noisy = np.clip(truth + rng.normal(0, 20, truth.shape), 0, 255).astype(np.uint8)
    return noisy, truth


def test_ssim_equals_scikit_images_wang_et_al_setting():
    outputs, truth = _pair()
    expected = np.mean([structural_similarity(o[0], t[0], gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False, data_range=255)
                        for o, t in zip(outputs, truth, strict=True)])
    assert tm.ssim(outputs, truth) == pytest.approx(expected, rel=1e-9)
    assert tm.ssim(truth, truth) == pytest.approx(1.0)


def test_psnr_equals_scikit_image_per_image_and_caps_identical_images():
    outputs, truth = _pair(1)
    expected = np.mean([peak_signal_noise_ratio(t, o, data_range=255) for o, t in zip(outputs, truth, strict=True)])
    assert tm.psnr(outputs, truth) == pytest.approx(expected, rel=1e-12)
    assert tm.psnr(truth, truth) == tm.PSNR_CAP


def test_l1_and_diversity_are_mean_absolute_differences_on_unit_intensities():
    a = np.zeros((2, 1, 4, 4), dtype=np.uint8)
    b = np.full((2, 1, 4, 4), 51, dtype=np.uint8)
    assert tm.l1(a, b) == pytest.approx(0.2)
    assert tm.diversity(np.stack([a, b, b])) == pytest.approx((0.2 + 0.2 + 0.0) / 3)
