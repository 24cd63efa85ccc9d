"""Inception Score and class-histogram metrics: closed forms, scipy-entropy references, split conventions, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy

from bench.measurement.metrics.inception_score import class_histogram_metrics, inception_score, softmax


def one_hot(labels, n_classes):
    return np.eye(n_classes)[np.asarray(labels)]


def scipy_inception_score(probs, splits):
    """Per chunk i*N//splits .. (i+1)*N//splits: exp(mean_x KL(p(y|x) || p(y))) via scipy.stats.entropy."""
    n = len(probs)
    scores = []
    for i in range(splits):
        part = probs[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(axis=0)
        scores.append(math.exp(np.mean([entropy(row, marginal) for row in part])))
    return np.mean(scores), np.std(scores)


def test_uniform_predictions_score_one():
    mean, std = inception_score(np.full((500, 10), 0.1), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n_classes,splits", [(5, 10), (10, 4), (1000, 2)])
def test_balanced_one_hot_scores_number_of_classes(n_classes, splits):
    labels = np.tile(np.arange(n_classes), 2 * splits)  # every chunk holds each class exactly twice
    mean, std = inception_score(one_hot(labels, n_classes), splits=splits)
    assert mean == pytest.approx(n_classes, rel=1e-12) and std == pytest.approx(0.0, abs=1e-9)


def test_chunks_are_contiguous_in_order():
    """Class 0 then class 1: each contiguous half is one class (IS 1); interleaved chunks would give 2."""
    labels = np.repeat([0, 1], 50)
    assert inception_score(one_hot(labels, 2), splits=2) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_std_is_population_std_over_splits():
    """Chunk scores 1 (one class) and 2 (two balanced classes): mean 1.5, np.std 0.5 (ddof=1 would give 0.707)."""
    labels = [0, 0, 0, 0, 0, 1, 0, 1]
    assert inception_score(one_hot(labels, 2), splits=2) == pytest.approx((1.5, 0.5), rel=1e-12)


def test_uneven_split_boundaries_follow_floor_of_i_n_over_splits():
    """N=5, 2 splits: rows [0:2] and [2:5]. Labels 0,1 | 2,2,3 give IS 2 and exp(H(2/3, 1/3))."""
    labels = [0, 1, 2, 2, 3]
    expected = [2.0, math.exp(entropy([2 / 3, 1 / 3]))]
    mean, std = inception_score(one_hot(labels, 4), splits=2)
    assert (mean, std) == pytest.approx((np.mean(expected), np.std(expected)), rel=1e-12)


@pytest.mark.parametrize("n,n_classes,splits,alpha", [(1000, 10, 10, 0.3), (997, 7, 7, 1.0), (64, 50, 1, 0.05)])
def test_matches_scipy_entropy_reference(n, n_classes, splits, alpha):
    rng = np.random.default_rng(n + n_classes)
    probs = rng.dirichlet(np.full(n_classes, alpha), size=n)
    got = inception_score(probs, splits=splits)
    assert got == pytest.approx(scipy_inception_score(probs, splits), rel=1e-10, abs=1e-12)


def test_softmax_inputs_match_logit_computation():
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((40, 6)) * 3 + 500.0  # large offsets must not overflow
    probs = softmax(logits)
    shifted = logits - 500.0
    expected = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(softmax(np.array([[1000.0, 1000.0, -1000.0]])), [[0.5, 0.5, 0.0]])
    assert inception_score(probs, splits=4) == pytest.approx(scipy_inception_score(probs, 4), rel=1e-10)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 80), n_classes=st.integers(1, 12), splits=st.integers(1, 10),
       alpha=st.floats(0.01, 10.0), seed=st.integers(0, 2**16))
def test_score_lies_between_one_and_min_of_classes_and_chunk_size(n, n_classes, splits, alpha, seed):
    splits = min(splits, n)
    probs = np.random.default_rng(seed).dirichlet(np.full(n_classes, alpha), size=n)
    mean, std = inception_score(probs, splits=splits)
    # IS = exp(mutual information of sample and label) <= min(#classes, #samples in the chunk).
    assert 1.0 - 1e-9 <= mean <= min(n_classes, -(-n // splits)) + 1e-9
    assert std >= 0.0
    assert (mean, std) == pytest.approx(scipy_inception_score(probs, splits), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("probs,splits,match", [
    (np.full(10, 0.1), 1, "2-D"),
    (np.full((10, 2), 0.5), 0, "splits"),
    (np.full((10, 2), 0.5), 11, "splits"),
    (np.full((10, 2), 0.5), 2.0, "splits"),
    (np.array([[1.5, -0.5]] * 4), 2, "non-negative"),
    (np.array([[0.5, np.nan]] * 4), 2, "finite"),
    (np.array([[0.6, 0.6]] * 4), 2, "sum to 1"),
    (np.array([[0.2, 0.3]] * 4), 2, "sum to 1"),
])
def test_inception_score_bad_input_raises(probs, splits, match):
    with pytest.raises(ValueError, match=match):
        inception_score(probs, splits=splits)


def test_rows_summing_to_one_within_float32_rounding_are_accepted():
    probs = softmax(np.random.default_rng(4).standard_normal((20, 1000))).astype(np.float32)
    assert np.abs(probs.sum(axis=1, dtype=np.float64) - 1).max() > 0
    inception_score(probs, splits=2)


def test_collapse_to_one_of_k_uniform_classes_has_reverse_kl_log_k():
    got = class_histogram_metrics(np.full(300, 7), np.full(1000, 1e-3))
    assert got == {"classes_covered": 1, "n_classes": 1000, "reverse_kl": pytest.approx(math.log(1000), rel=1e-12)}
    assert type(got["classes_covered"]) is int and type(got["reverse_kl"]) is float


def test_uniform_predictions_cover_all_classes_with_zero_kl():
    got = class_histogram_metrics(np.repeat(np.arange(10), 7), np.full(10, 0.1))
    assert got == {"classes_covered": 10, "n_classes": 10, "reverse_kl": pytest.approx(0.0, abs=1e-12)}


def test_partial_coverage_matches_scipy_entropy():
    rng = np.random.default_rng(9)
    reference = rng.dirichlet(np.ones(12))
    predicted = rng.choice(12, size=40, p=reference)
    got = class_histogram_metrics(predicted, reference)
    p_gen = np.bincount(predicted, minlength=12) / 40
    assert got["classes_covered"] == len(np.unique(predicted)) < 12
    assert got["reverse_kl"] == pytest.approx(entropy(p_gen, reference), rel=1e-12)


def test_mass_on_zero_reference_class_gives_infinite_kl():
    reference = np.array([0.5, 0.5, 0.0])
    assert class_histogram_metrics(np.array([0, 1, 2]), reference)["reverse_kl"] == math.inf
    assert class_histogram_metrics(np.array([0, 1, 1]), reference)["reverse_kl"] == pytest.approx(
        entropy([1 / 3, 2 / 3, 0.0], reference))


@pytest.mark.parametrize("predicted,reference,match", [
    (np.array([0, 3]), np.full(3, 1 / 3), "\\[0, 3\\)"),
    (np.array([-1, 0]), np.full(3, 1 / 3), "\\[0, 3\\)"),
    (np.array([0.0, 1.0]), np.full(3, 1 / 3), "integer"),
    (np.array([], dtype=int), np.full(3, 1 / 3), "non-empty"),
    (np.zeros((2, 2), dtype=int), np.full(3, 1 / 3), "1-D integer"),
    (np.array([0, 1]), np.full((1, 3), 1 / 3), "1-D probability"),
    (np.array([0, 1]), np.array([0.5, 0.6, -0.1]), "non-negative"),
    (np.array([0, 1]), np.array([0.5, 0.2, 0.1]), "sum to 1"),
])
def test_class_histogram_bad_input_raises(predicted, reference, match):
    with pytest.raises(ValueError, match=match):
        class_histogram_metrics(predicted, reference)
