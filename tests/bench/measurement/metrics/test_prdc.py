"""PRDC against Naeem et al.'s `prdc` package, a brute-force reference on exact lattice data, and hand-checked ties."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prdc import compute_prdc

from bench.measurement.metrics.prdc import precision_recall_density_coverage

KEYS = ("precision", "recall", "density", "coverage")


def reference_prdc(real, fake, k_pr, k_dc):
    """Definitions written out directly: exact squared differences, full sort, self-distance 0 in column k."""
    d_rr = ((real[:, None, :] - real[None, :, :]) ** 2).sum(axis=2)
    d_ff = ((fake[:, None, :] - fake[None, :, :]) ** 2).sum(axis=2)
    d_rf = ((real[:, None, :] - fake[None, :, :]) ** 2).sum(axis=2)
    r_pr, r_dc = np.sort(d_rr, axis=1)[:, k_pr], np.sort(d_rr, axis=1)[:, k_dc]
    f_pr = np.sort(d_ff, axis=1)[:, k_pr]
    return {
        "precision": (d_rf <= r_pr[:, None]).any(axis=0).mean(),
        "recall": (d_rf <= f_pr[None, :]).any(axis=1).mean(),
        "density": (d_rf < r_dc[:, None]).sum() / (k_dc * fake.shape[0]),
        "coverage": (d_rf.min(axis=1) < r_dc).mean(),
    }


def assert_same(got, expected):
    assert set(got) == set(KEYS)
    for key in ("precision", "recall", "coverage"):
        assert got[key] == expected[key], key
    assert got["density"] == pytest.approx(expected["density"], rel=1e-12, abs=1e-15)


def continuous(rng, n, m, d):
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((m, d)) * 1.3 + 0.2
    return real, fake


@pytest.mark.parametrize("n,m,d,k_pr,k_dc", [(100, 100, 8, 3, 5), (150, 80, 16, 3, 5), (60, 200, 3, 3, 5),
                                             (300, 257, 64, 3, 5), (40, 45, 2, 1, 1), (90, 70, 5, 4, 2)])
def test_matches_prdc_package(n, m, d, k_pr, k_dc):
    rng = np.random.default_rng(n * m + d)
    real, fake = continuous(rng, n, m, d)
    pr, dc = compute_prdc(real, fake, k_pr), compute_prdc(real, fake, k_dc)
    expected = {"precision": pr["precision"], "recall": pr["recall"],
                "density": dc["density"], "coverage": dc["coverage"]}
    got = precision_recall_density_coverage(real, fake, k_pr=k_pr, k_dc=k_dc)
    assert all(type(v) is float for v in got.values())
    assert_same(got, expected)


def test_float32_input_is_computed_in_float64():
    rng = np.random.default_rng(3)
    real, fake = (a.astype(np.float32) for a in continuous(rng, 70, 60, 6))
    got = precision_recall_density_coverage(real, fake)
    assert got == precision_recall_density_coverage(real.astype(np.float64), fake.astype(np.float64))
    assert_same(got, reference_prdc(real.astype(np.float64), fake.astype(np.float64), 3, 5))


def test_one_dimensional_boundary_ties():
    """Real radii (k=1) are all 1; fake 4 sits exactly on the ball of real 3: inside for P/R, outside for D/C."""
    real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[4.0], [6.0]])
    got = precision_recall_density_coverage(real, fake, k_pr=1, k_dc=1)
    # precision: fake 4 (d=1 <= 1); recall: fake radius is 2, so reals 2 (d=2 <= 2) and 3.
    assert got == {"precision": 0.5, "recall": 0.5, "density": 0.0, "coverage": 0.0}


def test_density_coverage_strict_with_k2():
    """k=2 real radii: 2, 1, 1, 2. Fake 3 is at distance exactly 1 = radius of real 2: not counted."""
    real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [3.0]])
    got = precision_recall_density_coverage(real, fake, k_pr=1, k_dc=2)
    # density: fake 0.5 is strictly inside the balls of reals 0 and 1, fake 3 only inside that of real 3 -> 3 / (2*2).
    # coverage: real 2 has nearest fake at distance 1 = its radius -> not covered.
    assert got == {"precision": 1.0, "recall": 1.0, "density": 0.75, "coverage": 0.75}


def test_duplicate_real_points_are_neighbours_at_distance_zero():
    """Real 0 appears twice: its k=1 radius is 0 (the copy), not 5. A zero ball holds its centre for P, not for D/C."""
    real, fake = np.array([[0.0], [0.0], [5.0], [9.0]]), np.array([[0.0], [7.0]])
    got = precision_recall_density_coverage(real, fake, k_pr=1, k_dc=1)
    assert got == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 0.5}


def test_two_dimensional_tie_inclusive_unlike_prdc_strict_precision():
    """Every fake lies exactly 5 from real (0,0), whose k=1 radius is 5 (3-4-5 triangles, exact in float64).

    Real (100,100) has radius |(97,96)| ~ 136.5 and every fake is farther from it; fake radii are sqrt(20), sqrt(10),
    sqrt(10), all below the distance 5 of the closest real point.
    """
    real = np.array([[0.0, 0.0], [3.0, 4.0], [100.0, 100.0]])
    fake = np.array([[-3.0, -4.0], [-5.0, 0.0], [-4.0, 3.0]])
    got = precision_recall_density_coverage(real, fake, k_pr=1, k_dc=1)
    assert got == {"precision": 1.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    strict = compute_prdc(real, fake, 1)  # Naeem et al. compare with `<` for P/R too: the documented difference.
    assert strict["precision"] == 0.0 and strict["density"] == 0.0 and strict["coverage"] == 0.0


@pytest.mark.parametrize("n,d,k", [(15, 8, 1), (50, 16, 3)])
def test_identical_sets_give_density_exactly_one(n, d, k):
    """The k-th neighbour lies exactly on the boundary when fake == real, provided the self pass and the cross pass
    round each distance alike (numpy's symmetric a @ a.T product would not; several of these seeds catch that)."""
    for seed in range(40):
        real = np.random.default_rng(seed).standard_normal((n, d))
        got = precision_recall_density_coverage(real, real.copy(), k_pr=k, k_dc=k)
        assert got == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}, seed


@pytest.mark.parametrize("lattice", [False, True])
def test_block_size_does_not_change_results(lattice):
    rng = np.random.default_rng(11)
    real, fake = continuous(rng, 57, 43, 5)
    if lattice:
        real, fake = np.round(real * 1.5), np.round(fake * 1.5)
    full = precision_recall_density_coverage(real, fake, k_pr=3, k_dc=5, max_block_elements=2**23)
    for budget in (1, 2, 3, 7, 43, 44, 100, 57 * 43 - 1, 57 * 57):
        assert precision_recall_density_coverage(real, fake, k_pr=3, k_dc=5, max_block_elements=budget) == full
    if lattice:
        assert_same(full, reference_prdc(real, fake, 3, 5))


def test_memory_stays_bounded_without_the_distance_matrix():
    n = m = 6000
    rng = np.random.default_rng(5)
    real, fake = continuous(rng, n, m, 16)
    tracemalloc.start()
    try:
        got = precision_recall_density_coverage(real, fake, max_block_elements=2**15)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * m * 8 / 50, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert 0.0 < got["precision"] < 1.0 and 0.0 < got["coverage"] < 1.0


@pytest.mark.parametrize("n,m,budget", [(30, 500, 64), (500, 30, 64), (40, 40, 1), (200, 300, 1000)])
def test_no_distance_tile_exceeds_the_budget(monkeypatch, n, m, budget):
    """Even when a single row of the other set is longer than the budget, tiles split the columns."""
    import bench.measurement.metrics.prdc as module

    sizes = []
    original = module._sq_dists

    def recording(*args):
        out = original(*args)
        sizes.append(out.size)
        return out

    monkeypatch.setattr(module, "_sq_dists", recording)
    real, fake = continuous(np.random.default_rng(n + m), n, m, 3)
    got = module.precision_recall_density_coverage(real, fake, max_block_elements=budget)
    assert max(sizes) <= budget and sum(sizes) == n * n + m * m + n * m
    monkeypatch.undo()
    assert got == precision_recall_density_coverage(real, fake)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 30), m=st.integers(2, 30), d=st.integers(1, 3), span=st.integers(1, 3),
       k_pr=st.integers(1, 3), k_dc=st.integers(1, 5), budget=st.integers(1, 400), seed=st.integers(0, 2**16))
def test_lattice_data_with_ties_matches_brute_force(n, m, d, span, k_pr, k_dc, budget, seed):
    """Small-integer coordinates: every distance is exact, ties and duplicates are common."""
    rng = np.random.default_rng(seed)
    real = rng.integers(-span, span + 1, (max(n, k_pr + 1, k_dc + 1), d)).astype(np.float64)
    fake = rng.integers(-span, span + 1, (max(m, k_pr + 1), d)).astype(np.float64)
    got = precision_recall_density_coverage(real, fake, k_pr=k_pr, k_dc=k_dc, max_block_elements=budget)
    assert_same(got, reference_prdc(real, fake, k_pr, k_dc))
    same = precision_recall_density_coverage(real, real.copy(), k_pr=k_pr, k_dc=k_dc, max_block_elements=budget)
    assert_same(same, reference_prdc(real, real, k_pr, k_dc))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(7, 50), m=st.integers(7, 50), d=st.integers(1, 8), k=st.integers(1, 5),
       budget=st.sampled_from([5, 64, 2**23]), seed=st.integers(0, 2**16))
def test_properties_on_continuous_data(n, m, d, k, budget, seed):
    rng = np.random.default_rng(seed)
    real, fake = continuous(rng, n, m, d)
    got = precision_recall_density_coverage(real, fake, k_pr=k, k_dc=k, max_block_elements=budget)
    assert all(0.0 <= got[key] <= 1.0 for key in ("precision", "recall", "coverage"))
    assert 0.0 <= got["density"] <= n / k
    assert_same(got, compute_prdc(real, fake, k))
    swapped = precision_recall_density_coverage(fake, real, k_pr=k, k_dc=k, max_block_elements=budget)
    assert (swapped["precision"], swapped["recall"]) == (got["recall"], got["precision"])
    # Identical sets of distinct points: each point is inside its own ball (distance ~0 < radius), so P = R = C = 1.
    # Exactly k points (itself and its k - 1 nearest neighbours) lie strictly inside each real ball; the k-th
    # neighbour sits on the boundary, where rounding may at most add it, so 1 <= density <= 1 + 1/k (exactly 1 on
    # lattice data, see the brute-force test).
    same = precision_recall_density_coverage(real, real.copy(), k_pr=k, k_dc=k, max_block_elements=budget)
    assert (same["precision"], same["recall"], same["coverage"]) == (1.0, 1.0, 1.0)
    assert 1.0 <= same["density"] <= 1.0 + 1.0 / k


@pytest.mark.parametrize("real,fake,kwargs,match", [
    (np.zeros(10), np.zeros((10, 2)), {}, "real must be a 2-D"),
    (np.zeros((10, 2, 1)), np.zeros((10, 2)), {}, "real must be a 2-D"),
    (np.zeros((10, 2)), np.zeros((10, 0)), {}, "fake must be a 2-D"),
    (np.zeros((10, 2)), np.zeros((10, 3)), {}, "feature dimensions differ"),
    (np.zeros((5, 2)), np.zeros((10, 2)), {}, "at least max\\(k_pr, k_dc\\) \\+ 1 = 6 real"),
    (np.zeros((10, 2)), np.zeros((3, 2)), {}, "at least k_pr \\+ 1 = 4 fake"),
    (np.zeros((10, 2)), np.zeros((10, 2)), {"k_pr": 0}, "k_pr must be a positive integer"),
    (np.zeros((10, 2)), np.zeros((10, 2)), {"k_dc": 2.0}, "k_dc must be a positive integer"),
    (np.zeros((10, 2)), np.zeros((10, 2)), {"max_block_elements": 0}, "max_block_elements"),
    (np.full((10, 2), np.nan), np.zeros((10, 2)), {}, "finite"),
    (np.zeros((10, 2)), np.full((10, 2), np.inf), {}, "finite"),
])
def test_bad_input_raises(real, fake, kwargs, match):
    with pytest.raises(ValueError, match=match):
        precision_recall_density_coverage(real, fake, **kwargs)
