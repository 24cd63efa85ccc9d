"""KID against a direct O(n^2) unbiased MMD^2 with the cubic polynomial kernel."""

import numpy as np
import pytest

from bench.measurement.metrics.kid import kernel_inception_distance


def unbiased_mmd2_cubic(x, y):
    d = x.shape[1]

    def k(a, b):
        return (a @ b.T / d + 1.0) ** 3

    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    term_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    term_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return term_x + term_y - 2 * kxy.mean()


def test_single_full_subset_equals_direct_unbiased_mmd():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((50, 6)), rng.standard_normal((50, 6)) * 1.2 + 0.3
    kid = kernel_inception_distance(x, y, seed=0, num_subsets=1, max_subset_size=50)
    assert kid == pytest.approx(unbiased_mmd2_cubic(x, y), rel=1e-10)


def test_subset_average_matches_direct_computation_on_the_same_subsets():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((80, 5)), rng.standard_normal((90, 5)) + 0.2
    subsets, size = 7, 30
    draw = np.random.RandomState(11)
    expected = 0.0
    for _ in range(subsets):
        ref = y[draw.choice(len(y), size, replace=False)]
        gen = x[draw.choice(len(x), size, replace=False)]
        expected += unbiased_mmd2_cubic(gen, ref) / subsets
    kid = kernel_inception_distance(x, y, seed=11, num_subsets=subsets, max_subset_size=size)
    assert kid == pytest.approx(expected, rel=1e-10)


def test_seeded_and_leaves_global_rng_alone():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((60, 4)), rng.standard_normal((60, 4))
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = kernel_inception_distance(x, y, seed=1, num_subsets=5, max_subset_size=20)
    b = kernel_inception_distance(x, y, seed=1, num_subsets=5, max_subset_size=20)
    assert a == b
    assert (np.random.get_state()[1] == before).all()
    assert kernel_inception_distance(x, y, seed=2, num_subsets=5, max_subset_size=20) != a
