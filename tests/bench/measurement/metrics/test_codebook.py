"""Codebook usage and perplexity (bench/measurement/metrics/codebook.py) against scipy's entropy and analytic values,
and why they are computed over the whole split rather than per batch."""

import numpy as np
import pytest
from scipy.stats import entropy

from bench.measurement.metrics.codebook import codebook_metrics


def test_usage_and_perplexity_equal_the_share_used_and_exp_of_scipys_entropy():
    rng = np.random.default_rng(0)
    indices = rng.choice(64, size=(50, 8, 8), p=rng.dirichlet(np.ones(64) * 0.3))
    counts = np.bincount(indices.ravel(), minlength=64)
    got = codebook_metrics(indices, 64)
    assert got["codebook_usage"] == pytest.approx((counts > 0).sum() / 64)
    assert got["codebook_perplexity"] == pytest.approx(np.exp(entropy(counts / counts.sum())), rel=1e-12)


def test_the_ends_of_the_scale_uniform_use_is_the_codebook_size_and_collapse_is_one():
    uniform = np.tile(np.arange(16), 10)
    assert codebook_metrics(uniform, 16) == {"codebook_usage": 1.0, "codebook_perplexity": pytest.approx(16.0)}
    collapsed = np.full((4, 8, 8), 3)
    assert codebook_metrics(collapsed, 16) == {"codebook_usage": 1 / 16, "codebook_perplexity": pytest.approx(1.0)}
    with pytest.raises(ValueError, match="lie in"):
        codebook_metrics(np.array([0, 16]), 16)


def test_the_whole_split_is_not_the_mean_of_its_batches():
    """Each batch uses its own half of the codes: every batch alone shows half the codebook, the split all of it."""
    batches = [np.arange(8) % 8, np.arange(8, 16)]
    per_batch = [codebook_metrics(b, 16)["codebook_perplexity"] for b in batches]
    whole = codebook_metrics(np.concatenate(batches), 16)["codebook_perplexity"]
    assert per_batch == [pytest.approx(8.0)] * 2 and whole == pytest.approx(16.0)
