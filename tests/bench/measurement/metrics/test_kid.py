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


@pytest.mark.parametrize("whole_sets", [True, False])
@pytest.mark.parametrize(("n_gen", "n_ref", "size"), [(120, 300, 1000), (300, 120, 50), (64, 64, 64)])
def test_both_paths_equal_clean_fid_on_its_own_subsets(whole_sets, n_gen, n_ref, size):
    from cleanfid.fid import kernel_distance

    rng = np.random.default_rng(6)
    gen, ref = rng.standard_normal((n_gen, 16)) + 0.1, rng.standard_normal((n_ref, 16))
    np.random.seed(21)
    expected = kernel_distance(gen, ref, num_subsets=9, max_subset_size=size)
    kid = kernel_inception_distance(gen, ref, seed=21, num_subsets=9, max_subset_size=size, whole_sets=whole_sets)
    assert kid == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_cheaper_path_is_chosen_by_kernel_entries(monkeypatch):
    from bench.measurement.metrics import kid

    calls = []
    real = kid._clean_fid_loop
    monkeypatch.setattr(kid, "_clean_fid_loop", lambda *args: calls.append(args) or real(*args))
    rng = np.random.default_rng(7)
    small, large = rng.standard_normal((40, 4)), rng.standard_normal((400, 4))
    kernel_inception_distance(small, large, seed=0, num_subsets=100, max_subset_size=40)  # 0.18M < 0.48M entries
    assert not calls
    kernel_inception_distance(small, large, seed=0, num_subsets=2, max_subset_size=40)  # 0.18M > 9.6k entries
    assert len(calls) == 1
