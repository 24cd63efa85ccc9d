"""FID against independent references: clean-fid's frechet_distance (scipy sqrtm), closed forms."""

import numpy as np
import pytest
from cleanfid.fid import frechet_distance
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg

from bench.measurement.metrics.fid import frechet_distance_features


def cleanfid_value(f1, f2):
    return frechet_distance(f1.mean(0), np.atleast_2d(np.cov(f1, rowvar=False)),
                            f2.mean(0), np.atleast_2d(np.cov(f2, rowvar=False)))


@pytest.mark.parametrize("n1,n2,d", [(40, 60, 16), (300, 500, 16), (30, 25, 64)])
def test_equals_cleanfid_frechet_distance(n1, n2, d):
    rng = np.random.default_rng(n1 + n2 + d)
    mix = rng.standard_normal((d, d))
    f1 = rng.standard_normal((n1, d)) @ mix
    f2 = rng.standard_normal((n2, d)) @ mix * 1.3 + 0.5
    expected = cleanfid_value(f1, f2)
    assert frechet_distance_features(f1, f2) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("n1,n2,d", [(120, 150, 512), (600, 700, 256)])
def test_equals_scipy_sqrtm_definition(n1, n2, d):
    """Both code paths (N below and above the dimension) against the textbook formula."""
    rng = np.random.default_rng(7)
    f1 = np.abs(rng.standard_normal((n1, d))) * 0.3
    f2 = np.abs(rng.standard_normal((n2, d))) * 0.35 + 0.01
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    root = linalg.sqrtm(s1 @ s2).real
    diff = f1.mean(0) - f2.mean(0)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(root)
    assert frechet_distance_features(f1, f2) == pytest.approx(expected, rel=1e-4)


def test_one_dimensional_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 2.0, (500, 1)), rng.normal(-0.5, 0.5, (700, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance_features(a, b) == pytest.approx(expected, rel=1e-10)


def test_scaled_copy_closed_form():
    """f2 = s f1 + t: S2 = s^2 S1, so FID = |(1 - s) mu1 - t|^2 + (1 - s)^2 tr(S1)."""
    rng = np.random.default_rng(1)
    f1 = rng.standard_normal((400, 8)) @ rng.standard_normal((8, 8))
    s, t = 1.7, rng.standard_normal(8)
    f2 = s * f1 + t
    shift = (1 - s) * f1.mean(0) - t
    expected = shift @ shift + (1 - s) ** 2 * np.trace(np.cov(f1, rowvar=False))
    assert frechet_distance_features(f1, f2) == pytest.approx(expected, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(n1=st.integers(3, 40), n2=st.integers(3, 40), d=st.integers(2, 12), seed=st.integers(0, 2**16))
def test_properties_zero_on_self_symmetric_nonnegative(n1, n2, d, seed):
    rng = np.random.default_rng(seed)
    f1, f2 = rng.standard_normal((n1, d)), rng.standard_normal((n2, d)) * 2 + 1
    assert abs(frechet_distance_features(f1, f1)) < 1e-8 * (1 + np.trace(np.atleast_2d(np.cov(f1, rowvar=False))))
    ab, ba = frechet_distance_features(f1, f2), frechet_distance_features(f2, f1)
    assert ab == pytest.approx(ba, rel=1e-9, abs=1e-9)
    assert ab >= -1e-9
    if min(n1, n2) > 2 * d:  # clean-fid refuses near-singular covariances ("Imaginary component"): ours does not
        assert ab == pytest.approx(cleanfid_value(f1, f2), rel=1e-4, abs=1e-7)


def gaussian_set(n, mean, cov, seed):
    """n samples whose sample mean and (ddof=1) covariance are exactly `mean` and `cov`."""
    x = np.random.default_rng(seed).standard_normal((n, len(mean)))
    x -= x.mean(0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False))).T
    return x @ np.linalg.cholesky(cov).T + mean


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(5, 3000))
def test_two_gaussians_match_the_analytic_2d_closed_form(seed, n):
    """For 2x2 PSD M, tr(M^1/2) = sqrt(tr M + 2 sqrt(det M)); with M similar to S1 S2 this gives the
    Frechet distance of two non-commuting 2-D Gaussians without any matrix square root."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    s1, s2 = a @ a.T + 0.1 * np.eye(2), b @ b.T + 0.1 * np.eye(2)
    mu1, mu2 = rng.standard_normal(2), rng.standard_normal(2) * 2
    product = s1 @ s2
    tr_sqrt = np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    f1, f2 = gaussian_set(n, mu1, s1, seed), gaussian_set(n + 7, mu2, s2, seed + 1)
    assert frechet_distance_features(f1, f2) == pytest.approx(expected, rel=1e-7, abs=1e-9)
