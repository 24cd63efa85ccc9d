"""The ablation table (StyleGAN2 Table 1 format) against scipy, and its report page."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from bench.protocol.io import write_json
from bench.report.render import render
from bench.tables.ablation import ablation_tables
from bench.tables.aggregate import aggregate

ORDER = ["stylegan2-a", "stylegan2-b", "stylegan2-e"]
FID = {"stylegan2-a": [50.0, 52.0, 51.0], "stylegan2-b": [50.5, 51.5, 50.0], "stylegan2-e": [30.0, 31.0, 29.5]}
STUDIES = {"stylegan2-ablation": {"kind": "ablation", "title": "Ablation", "datasets": {"fmnist32": ORDER}},
           "leaderboard": {"kind": "table", "title": "LB", "datasets": {"fmnist32": ["dcgan"]}}}


def runs_frame() -> pd.DataFrame:
    rows = [{"study": "stylegan2-ablation", "dataset": "fmnist32", "variant": v, "seed": s, "fid": x,
             "fid_domain": None, "kimg": 10.0, "wall_s": 100.0 + s, "flops_total": 2e12, "device": "cpu"}
            for v, values in FID.items() for s, x in enumerate(values)]
    return pd.DataFrame(rows)


def test_rows_follow_the_study_order_with_changes_tested_against_the_row_above():
    tables = ablation_tables(runs_frame(), STUDIES)
    assert list(tables) == ["stylegan2-ablation/fmnist32"]
    (table,) = tables["stylegan2-ablation/fmnist32"]["tables"]  # no domain FID measured: one table
    rows = table["rows"]
    assert [r["config"] for r in rows] == ["A", "B", "E"] and rows[0]["change"] is None
    assert [r["published"] for r in rows] == [4.40, 4.39, 3.31]
    assert rows[1]["mean"] == pytest.approx(np.mean(FID["stylegan2-b"]))
    assert rows[1]["std"] == pytest.approx(np.std(FID["stylegan2-b"], ddof=1))
    p_raw = [stats.ttest_ind(FID[b], FID[a], equal_var=False).pvalue for a, b in zip(ORDER, ORDER[1:], strict=False)]
    smallest = min(1.0, 2 * min(p_raw))  # Holm over two steps: 2 p_(1), then max(that, p_(2))
    holm = [smallest if p == min(p_raw) else max(smallest, p) for p in p_raw]
    for row, p, adjusted in zip(rows[1:], p_raw, holm, strict=True):
        assert row["change"]["p"] == pytest.approx(p) and row["change"]["p_holm"] == pytest.approx(adjusted)
        assert row["change"]["separable"] == (adjusted < 0.05)
    assert rows[2]["change"]["separable"] and not rows[1]["change"]["separable"]  # B ~ A, E << B
    assert rows[2]["change"]["diff"] == pytest.approx(np.mean(FID["stylegan2-e"]) - np.mean(FID["stylegan2-b"]))
    assert rows[2]["change"]["ci_low"] <= rows[2]["change"]["diff"] <= rows[2]["change"]["ci_high"] < 0
    assert rows[0]["cost"] == {"kimg": 10.0, "wall_s": 101.0, "gflop": 2000.0, "device": "cpu"}


def test_one_seed_gives_no_test_and_says_so():
    frame = runs_frame()
    frame = frame[frame["seed"] == 0]
    rows = ablation_tables(frame, STUDIES)["stylegan2-ablation/fmnist32"]["tables"][0]["rows"]
    assert rows[1]["change"]["p"] is None and rows[1]["change"]["separable"] is False
    assert rows[1]["std"] is None


def write_run(root, study, variant, seed, fid):
    run = f"{study}/fmnist32/{variant}/s{seed}"
    folder = root / "results" / run
    spec = {"kind": "images", "n_gen": 16, "profile": "smoke", "libraries": {}, "device": "cpu", "backbones": {}}
    write_json(folder / "eval" / "metrics.json", {"run": run, "study": study, "dataset": "fmnist32",
                                                  "variant": variant, "seed": seed, "metrics": {"fid": fid},
                                                  "spec": {**spec, "latent_seed": seed, "config_hash": "h"}})
    write_json(folder / "train" / "config.json", {"variant": {"recipe": {"loss": "ns"}}})
    write_json(folder / "train" / "cost.json", {"wall_s": 50.0, "kimg": 10.0, "flops_total": 3e12,
                                                "peak_rss_mb": 1.0, "device": "cpu"})
    write_json(folder / "train" / "curve.json", {"points": [{"kimg": 0.0}]})
    write_json(folder / "eval" / "curve.json", {"metric": "fid_domain", "n": 16, "points": []})
    Image.new("RGB", (8, 8)).save(folder / "eval" / "samples.png")


def test_the_report_renders_the_ablation_in_table_1_format(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines/ablation.yaml").write_text(
        "stylegan2-ablation:\n  title: StyleGAN2 ablation <i>\n  kind: ablation\n"
        f"  datasets:\n    fmnist32: [{', '.join(ORDER)}]\n")
    for variant, values in FID.items():
        for seed, fid in enumerate(values):
            write_run(tmp_path, "stylegan2-ablation", variant, seed, fid)
    aggregate(tmp_path)
    assert "stylegan2-ablation/fmnist32" in json.loads((tmp_path / "results/tables/ablations.json").read_text())
    render(tmp_path)
    page = (tmp_path / "reports/stylegan2-ablation.html").read_text()
    for text in ("StyleGAN2 ablation &lt;i&gt;", "published FID (FFHQ 1024², Table 1)", "4.40", "3.31",
                 "not separable", "separable (Holm p", "50.67 ± 0.76", "-20.50", 'href="variant-stylegan2-e.html"'):
        assert text in page, text
    assert page.index("stylegan2-a") < page.index("stylegan2-b") < page.index("stylegan2-e")
