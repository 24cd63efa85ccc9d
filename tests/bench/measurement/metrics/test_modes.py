"""2-D mode metrics on hand-checked cases (PacGAN/VEEGAN definitions)."""

import math

import numpy as np
import pytest

from bench.data.datasets import spec
from bench.measurement.metrics.modes import mode_metrics

RING = spec("ring8").modes()
SIGMA = 0.01


def test_uniform_hits_on_every_mode():
    samples = np.repeat(RING, 5, axis=0)
    m = mode_metrics(samples, RING, SIGMA)
    assert m == {"modes_covered": 8, "high_quality": 1.0, "reverse_kl": pytest.approx(0.0, abs=1e-12),
                 "n_modes": 8}


def test_collapse_to_one_mode_has_reverse_kl_log_k():
    samples = RING[[2]] + np.array([[0.005, 0.0]])
    m = mode_metrics(np.repeat(samples, 10, axis=0), RING, SIGMA)
    assert m["modes_covered"] == 1 and m["reverse_kl"] == pytest.approx(math.log(8))


def test_three_sigma_boundary_is_strict():
    inside = RING[0] + np.array([2.999 * SIGMA, 0.0])
    on_boundary = RING[1] + np.array([0.0, 3.0 * SIGMA + 1e-12])
    m = mode_metrics(np.stack([inside, on_boundary]), RING, SIGMA)
    assert m["modes_covered"] == 1 and m["high_quality"] == 0.5


def test_two_modes_half_and_half():
    samples = np.concatenate([np.repeat(RING[[0]], 3, 0), np.repeat(RING[[4]], 3, 0), [[10.0, 10.0]] * 2])
    m = mode_metrics(samples, RING, SIGMA)
    assert m["modes_covered"] == 2 and m["high_quality"] == 0.75
    assert m["reverse_kl"] == pytest.approx(math.log(8) - math.log(2))


def test_no_high_quality_sample_gives_undefined_kl():
    m = mode_metrics(np.array([[5.0, 5.0]]), RING, SIGMA)
    assert m["modes_covered"] == 0 and m["high_quality"] == 0.0 and math.isnan(m["reverse_kl"])
