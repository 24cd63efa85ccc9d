"""The augmentation-leak check (bench/measurement/metrics/leak.py): its logistic regression against scipy's
optimum of the same objective, and the detectors on "generators" that return augmented or clean held-out images."""

import numpy as np
import pytest

from bench.measurement.metrics import leak


def blobs(n: int, seed: int) -> np.ndarray:
    """Fashion-MNIST-like uint8 images: a bright blob of random size and brightness centred on black."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32] - 15.5
    radius = rng.uniform(5, 11, (n, 1, 1))
    level = rng.uniform(120, 255, (n, 1, 1))
    shape = np.exp(-((yy / radius) ** 2 + (xx / (radius * rng.uniform(0.6, 1.0, (n, 1, 1)))) ** 2) ** 2)
    return (level * shape)[:, None].astype(np.uint8)


def pooled(images: np.ndarray) -> np.ndarray:
    """Stand-in features: 4x4 mean-pooled pixels and each image's mean and spread."""
    x = images.astype(np.float64)[:, 0] / 255
    cells = x.reshape(len(x), 8, 4, 8, 4).mean(axis=(2, 4)).reshape(len(x), -1)
    return np.concatenate([cells, x.mean(axis=(1, 2))[:, None], x.std(axis=(1, 2))[:, None]], axis=1)


def test_logistic_regression_reaches_scipys_optimum_of_the_same_objective():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 4))
    y = (x @ [1.0, -2.0, 0.5, 0.0] + 0.3 * rng.standard_normal(300) > 0).astype(np.float64)

    def objective(theta):
        logits = x @ theta[:4] + theta[4]
        return np.mean(np.logaddexp(0, logits) - y * logits) + leak.L2 * np.sum(theta[:4] ** 2)

    expected = minimize(objective, np.zeros(5), method="L-BFGS-B", options={"gtol": 1e-10}).x
    w, b = leak._fit_logistic(x, y)
    np.testing.assert_allclose(np.r_[w, b], expected, atol=1e-4)


@pytest.fixture(scope="module")
def detectors():
    return leak.fit_detectors(pooled, blobs(1200, 0), blobs(600, 1))


@pytest.mark.parametrize("kind", list(leak.KINDS))
def test_samples_that_are_augmented_reals_leak_and_clean_held_out_reals_do_not(detectors, kind):
    held_out = blobs(400, 2)
    augmented_samples = pooled(leak.augment_images(held_out, kind, seed=7))
    clean_samples = pooled(held_out)
    leaked, spec = leak.leaks(detectors, augmented_samples)
    clean, _ = leak.leaks(detectors, clean_samples)
    assert spec[kind]["detector_accuracy"] > 0.75  # the stand-in features see this augmentation
    assert leaked[f"leak_{kind}_domain"] > 0.5
    assert abs(clean[f"leak_{kind}_domain"]) < 0.08  # binomial noise of 400 draws around the false-positive rate
    assert spec["flagged"][kind] == pytest.approx(leaked[f"leak_{kind}_domain"] + spec[kind]["false_positive_rate"])


def test_detector_fit_is_deterministic_and_leaves_the_global_rng_alone():
    import torch

    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = leak.fit_detectors(pooled, blobs(300, 0), blobs(200, 1))
    assert torch.equal(torch.get_rng_state(), before)
    second = leak.fit_detectors(pooled, blobs(300, 0), blobs(200, 1))
    assert all(np.array_equal(first[k], second[k]) for k in first)
