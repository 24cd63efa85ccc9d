"""`gbench compare`: each number against an independent computation (scipy, brute force, closed forms)."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from bench.cli import main
from bench.protocol.errors import CompareError
from bench.protocol.io import write_json
from bench.tables.compare import compare, difference_ci, format_table, probability_of_improvement, summary_text, welch_p

seeds = st.lists(st.floats(min_value=-100, max_value=100, allow_nan=False), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seeds, seeds, st.booleans())
def test_probability_of_improvement_is_the_share_of_winning_seed_pairs(new, base, lower):
    pairs = list(itertools.product(new, base))
    wins = sum((a < b) if lower else (a > b) for a, b in pairs) + 0.5 * sum(a == b for a, b in pairs)
    assert probability_of_improvement(np.array(new), np.array(base), lower) == pytest.approx(wins / len(pairs))
    # the statistic behind the Mann-Whitney U test counts the same pairs
    if len(new) > 1 and len(base) > 1 and not lower:
        u = stats.mannwhitneyu(new, base).statistic
        assert probability_of_improvement(np.array(new), np.array(base), lower) == pytest.approx(u / len(pairs))


def test_welch_p_is_scipys_and_degenerate_cases_are_explicit():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([3.0, 5.0, 6.5, 7.0])
    assert welch_p(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert math.isnan(welch_p(a[:1], b))
    assert welch_p(np.array([2.0, 2.0]), np.array([2.0, 2.0])) == 1.0
    assert welch_p(np.array([2.0, 2.0]), np.array([3.0, 3.0])) == 0.0


def test_difference_ci_covers_the_true_difference_at_about_95_percent():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        new, base = rng.normal(1.0, 1.0, 12), rng.normal(0.0, 2.0, 15)
        low, high = difference_ci(new, base, seed=int(rng.integers(1 << 30)))
        covered += low <= 1.0 <= high
    assert 0.86 <= covered / 200 <= 0.99  # percentile bootstrap under-covers a little at n = 12-15


def runs_table(values: dict[str, list[float]], metric: str = "fid") -> pd.DataFrame:
    return pd.DataFrame([{"study": "leaderboard", "dataset": "fmnist32", "variant": v, "seed": s, metric: x}
                         for v, xs in values.items() for s, x in enumerate(xs)])


def test_holm_runs_over_every_comparison_of_a_dataset_and_decides_the_verdict():
    runs = runs_table({"new": [10.0, 10.5, 9.8], "a": [20.0, 21.0, 19.5], "b": [10.2, 10.9, 9.9],
                       "c": [5.0, 5.5, 4.9]})
    rows = {r["baseline"]: r for r in compare(runs, "new", ["a", "b", "c"], ["fid"])}
    raw = [stats.ttest_ind([10.0, 10.5, 9.8], base, equal_var=False).pvalue
           for base in ([20.0, 21.0, 19.5], [10.2, 10.9, 9.9], [5.0, 5.5, 4.9])]
    order = np.argsort(raw)
    expected = {}
    running = 0.0
    for rank, i in enumerate(order):  # Holm by hand
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        expected["abc"[i]] = running
    for name in "abc":
        assert rows[name]["p_holm"] == pytest.approx(expected[name])
        assert rows[name]["n_comparisons"] == 3
    assert rows["a"]["verdict"] == "better" and rows["c"]["verdict"] == "worse" and rows["b"]["verdict"] == "tied"
    assert rows["a"]["difference"] == pytest.approx(np.mean([10.0, 10.5, 9.8]) - np.mean([20.0, 21.0, 19.5]))


def test_higher_is_better_metrics_flip_the_verdict():
    runs = runs_table({"new": [0.9, 0.95, 0.92], "base": [0.5, 0.52, 0.49]}, metric="precision")
    (row,) = compare(runs, "new", ["base"], ["precision"])
    assert row["verdict"] == "better" and row["p_improvement"] == 1.0 and row["difference"] > 0


def test_summary_text_and_table_say_what_the_numbers_say():
    runs = runs_table({"new": [10.0, 10.5, 9.8], "a": [20.0, 21.0, 19.5], "b": [10.2, 10.9, 9.9]})
    rows = compare(runs, "new", ["a", "b"], ["fid"])
    text = summary_text(rows)
    assert "It is better on 1: FID (Inception) vs a" in text and "worse" not in text
    table = format_table(rows)
    assert "== fmnist32 (study leaderboard): new (3 seeds), 2 comparisons" in table
    assert table.splitlines()[2].endswith("better") and table.splitlines()[3].endswith("tied")
    tied = compare(runs_table({"new": [1.0, 2.0], "a": [1.5, 2.5]}), "new", ["a"], ["fid"])
    assert "every comparison is tied" in summary_text(tied) and "fewer than 3 seeds" in summary_text(tied)


def test_bad_requests_name_the_fix():
    runs = runs_table({"new": [1.0, 2.0], "a": [1.5, 2.5]})
    with pytest.raises(CompareError, match="add it to a study"):
        compare(runs, "missing", ["a"])
    with pytest.raises(CompareError, match="unknown metrics fdi"):
        compare(runs, "new", ["a"], ["fdi"])
    with pytest.raises(CompareError, match="shares no dataset"):
        compare(runs, "new", ["zzz"], ["fid"])


def test_cli_defaults_to_the_builtin_baselines(tmp_path, capsys):
    runs = runs_table({"mine": [1.0, 2.0, 1.5], "dcgan": [3.0, 3.5, 3.2], "theirs": [0.0, 0.1, 0.2]})
    write_json(tmp_path / "results/tables/runs.json", runs.to_dict("records"))
    write_json(tmp_path / "results/tables/variants.json", {
        "mine": {"builtin": False}, "dcgan": {"builtin": True}, "theirs": {"builtin": False}})
    assert main(["--root", str(tmp_path), "compare", "mine"]) == 0
    out = capsys.readouterr().out
    assert "\ndcgan " in out and "theirs" not in out
    assert main(["--root", str(tmp_path), "compare", "nobody"]) == 2
    assert "no runs of 'nobody'" in capsys.readouterr().err


def test_every_catalog_metric_can_be_compared_with_its_own_direction(tmp_path, capsys):
    """eq_t (translation equivariance, dB, higher is better) was aggregated and shown but refused by compare."""
    runs = runs_table({"stylegan3-t": [60.0, 62.0, 61.0], "stylegan2": [12.0, 11.0, 13.5]}, metric="eq_t")
    (row,) = compare(runs, "stylegan3-t", ["stylegan2"], ["eq_t"])
    assert row["label"] == "EQ-T dB" and row["lower_is_better"] is False and row["verdict"] == "better"
    write_json(tmp_path / "results/tables/runs.json", runs.to_dict("records"))
    assert main(["--root", str(tmp_path), "compare", "stylegan3-t", "--against", "stylegan2", "--metrics",
                 "eq_t"]) == 0
    assert "EQ-T dB" in capsys.readouterr().out


def test_the_default_comparison_is_the_catalogs_headline_metrics():
    from bench.measurement import catalog

    values = {"new": [1.0, 2.0, 1.5], "a": [3.0, 3.5, 3.2]}
    runs = runs_table(values, metric="fid").merge(runs_table(values, metric="is"), on=["study", "dataset", "variant",
                                                                                       "seed"])
    assert {r["metric"] for r in compare(runs, "new", ["a"])} == {"fid"}  # IS is shown, not compared by default
    assert {"fid", "fid_domain", "intra_fid_domain"} <= set(catalog.compared_by_default())
    assert "is" not in catalog.compared_by_default()


def test_at_equal_flops_each_run_is_read_at_its_last_curve_point_within_the_smaller_total():
    from bench.tables.compare import compare_at_equal_flops

    def curve(variant, gflop_per_kimg, kimgs, seed_values):
        return {"study": "leaderboard", "dataset": "fmnist32", "variant": variant, "metric": "fid_domain", "n": 128,
                "points": [{"kimg": k, "gflop": k * gflop_per_kimg} for k in kimgs],
                "seeds": {str(s): [[k, v] for k, v in zip(kimgs, values, strict=True)]
                          for s, values in enumerate(seed_values)}}

    new = curve("my-gan", 1.0, [1, 2, 3, 4], [[20, 12, 8, 5], [21, 13, 9, 6], [19, 12, 9, 7]])
    base = curve("dcgan", 2.0, [1, 2, 3], [[15, 9, 4], [14, 10, 3], [16, 11, 5]])  # ends better, at 6 GFLOP
    (row,) = compare_at_equal_flops({"a": new, "b": base}, "my-gan", ["dcgan"])
    assert row["gflop"] == 4.0 and (row["new_kimg"], row["baseline_kimg"]) == (4, 2)
    mine, theirs = np.array([5.0, 6.0, 7.0]), np.array([9.0, 10.0, 11.0])
    assert row["difference"] == pytest.approx(mine.mean() - theirs.mean())
    assert row["p"] == pytest.approx(stats.ttest_ind(mine, theirs, equal_var=False).pvalue)
    assert row["verdict"] == "better" and row["p_improvement"] == 1.0  # at equal FLOPs the cheap method wins
    assert row["label"] == "FID (domain) (curve, N=128)"
