"""The data-alignment table: both sides of every variant with the change and its CI, and no comparison across
metric protocols or budgets."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.protocol.metric_protocols import name
from bench.tables.alignment import alignment_tables

ROOT = Path("/nonexistent")  # no curve files: the curve ratio is undefined here (tested with files below)
STUDIES = {"alignment": {"kind": "alignment", "title": "t", "versus": "leaderboard",
                         "datasets": {"fmnist32-unaligned": ["dcgan", "stylegan3-t"]}}}


def _spec(n_ref=2000, backbones=("domain", "inception")):
    reference = {"split": "eval", "n_ref": n_ref, "split_size": 10000}
    return json.dumps({"backbones": {b: {"reference": reference, "protocols": {
        "fid": name("fid", 200, "eval", n_ref, 10000)}} for b in backbones}})


def _runs(aligned, unaligned, variant="dcgan", spec_u=None, budget_u=10.0, inception_u=None):
    rows = []
    for study, dataset, values, spec, budget in (("leaderboard", "fmnist32", aligned, _spec(), 10.0),
                                                 ("alignment", "fmnist32-unaligned", unaligned, spec_u or _spec(),
                                                  budget_u)):
        for seed, value in enumerate(values):
            rows.append({"study": study, "dataset": dataset, "variant": variant, "seed": seed, "diverged": False,
                         "fid_domain": value, "fid": 50.0 if study == "leaderboard" else inception_u,
                         "eq_t": np.nan, "eq_t_frac": np.nan, "spec": spec, "budget_unit": "kimg",
                         "budget_amount": budget, "curve": None})
    return pd.DataFrame(rows)


def _metric(table, name):
    (row,) = table["alignment/fmnist32-unaligned"]["rows"]
    return next(m for m in row["metrics"] if m["metric"] == name)


def test_both_sides_and_the_change_with_its_welch_test():
    aligned, unaligned = [10.0, 11.0, 12.0], [20.0, 21.5, 22.0]
    m = _metric(alignment_tables(_runs(aligned, unaligned), STUDIES, ROOT), "fid_domain")
    assert m["aligned"]["mean"] == pytest.approx(11.0) and m["unaligned"]["mean"] == pytest.approx(np.mean(unaligned))
    assert m["aligned"]["std"] == pytest.approx(1.0) and m["protocol"] == "fid200_test2k"
    change = m["change"]
    assert change["diff"] == pytest.approx(np.mean(unaligned) - 11.0)
    assert change["p"] == pytest.approx(stats.ttest_ind(unaligned, aligned, equal_var=False).pvalue)
    assert change["separable"] and change["ci_low"] <= change["diff"] <= change["ci_high"] and change["ci_low"] > 0


def test_overlapping_sides_are_not_separable():
    m = _metric(alignment_tables(_runs([10.0, 14.0, 12.0], [11.0, 15.0, 12.5]), STUDIES, ROOT), "fid_domain")
    assert not m["change"]["separable"] and m["change"]["ci_low"] < 0 < m["change"]["ci_high"]


def test_a_metric_measured_on_one_side_only_is_shown_not_compared():
    m = _metric(alignment_tables(_runs([10.0, 11.0], [20.0, 21.0]), STUDIES, ROOT), "fid")
    assert m["aligned"]["mean"] == 50.0 and m["unaligned"]["mean"] is None
    assert m["change"] is None and m["not_compared"] == "measured on the aligned side only"


def test_different_protocols_or_budgets_are_never_compared():
    other = _spec(n_ref=500)
    m = _metric(alignment_tables(_runs([10.0, 11.0], [20.0, 21.0], spec_u=other), STUDIES, ROOT), "fid_domain")
    assert m["change"] is None and "different metric protocols (fid200_test2k vs fid200_test500)" in m["not_compared"]
    m = _metric(alignment_tables(_runs([10.0, 11.0], [20.0, 21.0], budget_u=5.0), STUDIES, ROOT), "fid_domain")
    assert m["change"] is None and m["not_compared"].startswith("different budgets")


def test_variants_without_unaligned_runs_have_no_row():
    table = alignment_tables(_runs([10.0], [20.0]), STUDIES, ROOT)  # stylegan3-t listed but not run in this profile
    assert [r["variant"] for r in table["alignment/fmnist32-unaligned"]["rows"]] == ["dcgan"]


def test_the_scale_free_row_is_each_runs_final_over_initial_domain_fid(tmp_path):
    from bench.protocol.io import write_json

    runs = _runs([10.0, 11.0], [20.0, 21.0])
    curves = {("leaderboard", 0): (400.0, 100.0), ("leaderboard", 1): (400.0, 120.0),
              ("alignment", 0): (300.0, 150.0), ("alignment", 1): (300.0, 135.0)}
    paths = []
    for study, seed in zip(runs["study"], runs["seed"], strict=True):
        first, last = curves[(study, seed)]
        path = f"{study}/s{seed}/curve.json"
        points = [{"kimg": 0.0, "fid_domain": first}, {"kimg": 5.0, "fid_domain": 999.0},
                  {"kimg": 10.0, "fid_domain": last}]
        write_json(tmp_path / path, {"metric": "fid_domain", "n": 500, "points": points})
        paths.append(path)
    runs["curve"] = paths
    m = _metric(alignment_tables(runs, STUDIES, tmp_path), "fid_domain_vs_init")
    assert m["aligned"]["mean"] == pytest.approx(np.mean([0.25, 0.3]))
    assert m["unaligned"]["mean"] == pytest.approx(np.mean([0.5, 0.45]))
    assert m["protocol"] == "curve N = 500" and m["change"]["diff"] == pytest.approx(0.475 - 0.275)
