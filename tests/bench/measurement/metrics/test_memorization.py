"""The data-copying test (Meehan et al. 2020): its U statistic against a pair count, and C_T on generators
built to copy, to generalise and to underfit, on synthetic features and on the real domain backbone."""

import numpy as np
import pytest

from bench.measurement.metrics import memorization
from bench.measurement.metrics.memorization import THRESHOLD, data_copying


def test_z_u_is_the_pair_count_z_scored_with_the_authors_continuity_correction():
    generated = np.array([0.1, 0.4, 0.4, 0.9, 1.5])
    held_out = np.array([0.2, 0.4, 0.7, 1.0])
    pairs = sum((g > h) + 0.5 * (g == h) for g in generated for h in held_out)  # ties count half
    m, n = len(generated), len(held_out)
    expected = (pairs - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12)
    assert memorization._z_u(generated, held_out) == pytest.approx(expected, rel=1e-12)


def _mixture(n: int, seed: int, spread: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 4, (6, 8))
    return centres[rng.integers(0, 6, n)] + spread * rng.normal(size=(n, 8))


TRAIN, HELD_OUT = _mixture(3000, 1), _mixture(1000, 2)


def test_a_generator_that_copies_training_points_is_flagged():
    copies = TRAIN[np.random.default_rng(3).choice(len(TRAIN), 600)] + 1e-6
    value, spec = data_copying(TRAIN, HELD_OUT, copies)
    assert value < THRESHOLD and spec["copying"] and len(spec["cells_used"]) >= 5


def test_a_generator_of_fresh_samples_is_not_flagged_and_an_underfitting_one_scores_high():
    fresh, _ = data_copying(TRAIN, HELD_OUT, _mixture(600, 4))
    blurred, _ = data_copying(TRAIN, HELD_OUT, _mixture(600, 5, spread=1.6))
    assert abs(fresh) < 3 and blurred > 3


def test_too_few_samples_for_any_cell_leave_it_undefined():
    value, spec = data_copying(TRAIN, HELD_OUT, _mixture(50, 6))
    assert value is None and spec["cells_used"] == [] and "copying" not in spec


def test_the_partition_is_reused_for_the_same_training_set_and_skipped_when_no_cell_can_count(monkeypatch):
    memorization._PARTITIONS.clear()
    first, spec = data_copying(TRAIN, HELD_OUT, _mixture(600, 4))
    assert len(memorization._PARTITIONS) == 1
    again, spec_again = data_copying(TRAIN, HELD_OUT, _mixture(600, 4))
    memorization._PARTITIONS.clear()
    fresh, spec_fresh = data_copying(TRAIN, HELD_OUT, _mixture(600, 4))
    assert first == again == fresh and spec == spec_again == spec_fresh
    data_copying(TRAIN[:2000], HELD_OUT, _mixture(600, 4))  # another training set: its own partition
    assert len(memorization._PARTITIONS) == 2

    def refuse(*args):
        raise AssertionError("k-means ran although no cell could hold enough generated samples")

    monkeypatch.setattr(memorization, "_partition", refuse)
    value, spec = data_copying(TRAIN, HELD_OUT, _mixture(19, 6))
    assert value is None and spec["cells_used"] == []


def test_nearest_distances_equal_scipy_cdist():
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(8)
    points = rng.normal(3.0, 2.0, (700, 12))
    queries = np.concatenate([rng.normal(3.0, 2.0, (300, 12)), points[:50] + 1e-9, points[50:60]])
    got = memorization._nearest_distances(queries, points, chunk=128)
    expected = cdist(queries, points).min(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert (got[-10:] == 0).all()  # a training point itself is at distance exactly 0


def test_closest_to_training_orders_samples_by_their_cdist_nearest_training_point():
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(9)
    train, generated = rng.normal(size=(400, 6)), rng.normal(size=(120, 6))
    generated[[7, 50]] = train[[3, 99]] + 1e-7  # two near-copies: they come first
    order, nearest, distance = memorization.closest_to_training(generated, train, 5)
    d = cdist(generated, train)
    expected = np.argsort(d.min(axis=1), kind="stable")[:5]
    assert order.tolist() == expected.tolist() and set(order[:2]) == {7, 50}
    assert nearest.tolist() == d[order].argmin(axis=1).tolist()
    np.testing.assert_allclose(distance, d[order].min(axis=1), rtol=1e-9, atol=1e-12)
