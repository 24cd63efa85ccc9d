import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.tables.stats import holm, summarize, tied_ranks


def test_summary_matches_numpy_and_ci_brackets_the_mean():
    values = [3.0, 5.0, 4.0, 9.0]
    s = summarize(values)
    assert s["mean"] == pytest.approx(np.mean(values)) and s["std"] == pytest.approx(np.std(values, ddof=1))
    assert min(values) <= s["ci_low"] <= s["mean"] <= s["ci_high"] <= max(values)


def test_single_seed_has_no_spread():
    s = summarize([2.0])
    assert s["mean"] == 2.0 and math.isnan(s["std"]) and math.isnan(s["ci_low"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=8))
def test_ci_within_sample_range(values):
    s = summarize(values)
    assert min(values) - 1e-9 <= s["ci_low"] <= s["ci_high"] <= max(values) + 1e-9


def test_holm_against_hand_computed_example():
    # sorted p: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])


def test_tied_ranks_separate_only_what_the_seeds_separate():
    ranks = tied_ranks({"a": [10.0, 10.2, 9.9], "b": [10.1, 9.8, 10.3], "c": [50.0, 50.5, 49.7]})
    assert ranks["a"] == ranks["b"] == 1 and ranks["c"] == 3
    higher = tied_ranks({"x": [0.1, 0.2, 0.15], "y": [0.9, 0.95, 0.92]}, lower_is_better=False)
    assert higher == {"y": 1, "x": 2}
