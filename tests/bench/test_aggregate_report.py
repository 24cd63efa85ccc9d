"""Aggregate and report on synthetic run folders (as the evaluate and train stages write them)."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.aggregate import aggregate
from bench.io import write_json
from bench.report import render

EVIL = "<img src=x onerror=alert(1)>"
SPEC = {"kind": "points", "n_gen": 2500, "profile": "smoke", "libraries": {"torch": "x"}, "device": "cpu",
        "backbones": {"points": {"backbone": "points", "high_quality_threshold": "3 sigma (strict <)",
                                 "reverse_kl": "KL"}}}


def fake_run(root, variant, seed, modes, spec=SPEC):
    run = f"leaderboard/ring8/{variant}/s{seed}"
    folder = root / "results" / run
    write_json(folder / "eval" / "metrics.json", {
        "run": run, "study": "leaderboard", "dataset": "ring8", "variant": variant, "seed": seed,
        "metrics": {"modes_covered": modes, "high_quality": 0.5, "reverse_kl": 0.1, "n_modes": 8},
        "spec": {**spec, "latent_seed": seed, "config_hash": f"h{seed}"}})
    write_json(folder / "train" / "cost.json", {"wall_s": 10.0 + seed, "kimg": 2.0, "flops_total": 1e9,
                                                "peak_rss_mb": 100.0, "device": "cpu"})
    write_json(folder / "train" / "curve.json", {"points": [{"kimg": 0.0}, {"kimg": 2.0, "loss_d": 1.0}]})
    write_json(folder / "eval" / "curve.json", {"metric": "modes_covered", "n": 2500, "points": [
        {"kimg": 0.0, "modes_covered": 0}, {"kimg": 2.0, "modes_covered": modes}]})
    Image.new("RGB", (8, 8)).save(folder / "eval" / "samples.png")


@pytest.fixture
def tables(tmp_path):
    for seed, (good, evil) in enumerate([(8, 2), (7, 3), (8, 2)]):
        fake_run(tmp_path, "mlp-gan", seed, good)
        fake_run(tmp_path, EVIL, seed, evil)
    aggregate(tmp_path)
    return tmp_path


def test_summary_statistics_and_ranks(tables):
    summary = pd.read_csv(tables / "results/tables/summary.csv").set_index("variant")
    assert summary.loc["mlp-gan", "modes_covered_mean"] == pytest.approx(np.mean([8, 7, 8]))
    assert summary.loc["mlp-gan", "modes_covered_std"] == pytest.approx(np.std([8, 7, 8], ddof=1))
    assert summary.loc["mlp-gan", "modes_covered_rank"] == 1 and summary.loc[EVIL, "modes_covered_rank"] == 2
    assert summary.loc["mlp-gan", "wall_s_mean"] == pytest.approx(11.0)
    runs = json.loads((tables / "results/tables/runs.json").read_text())
    assert len(runs) == 6 and {r["seed"] for r in runs} == {0, 1, 2}


def test_runs_with_different_specs_are_never_pooled(tmp_path):
    fake_run(tmp_path, "mlp-gan", 0, 8)
    fake_run(tmp_path, "mlp-gan", 1, 8, spec={**SPEC, "n_gen": 1000})
    with pytest.raises(ValueError, match="different metric specs"):
        aggregate(tmp_path)


def test_report_escapes_user_strings_and_is_self_contained(tables):
    html = render(tables).read_text()
    assert EVIL not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "PacGAN Table 1" in html and "N = 2500" in html
    assert html.count("data:image/png;base64,") == 6 and "<svg" in html
