"""Aggregate and report on synthetic run folders (as the evaluate and train stages write them)."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from bench.protocol.io import write_json
from bench.report.render import render
from bench.tables.aggregate import aggregate
from tests.conftest import strict_json

EVIL = "<img src=x onerror=alert(1)>"  # a plugin's paper: user text that reaches every page
EVIL_NAME = "evil-gan"  # variant names follow a strict grammar (bench/protocol/names.py), so markup cannot be one
SPEC = {"kind": "points", "n_gen": 2500, "profile": "smoke", "libraries": {"torch": "x"}, "device": "cpu",
        "backbones": {"points": {"backbone": "points", "high_quality_threshold": "3 sigma (strict <)",
                                 "reverse_kl": "KL"}}}


def fake_run(root, variant, seed, modes, spec=SPEC, study="leaderboard", reverse_kl=0.1, recipe=None, paper=None,
             diverged=None, dataset="ring8", metrics=None, health=None, train_points=None):
    run = f"{study}/{dataset}/{variant}/s{seed}"
    folder = root / "results" / run
    metrics = {} if diverged else metrics or {"modes_covered": modes, "high_quality": 0.5, "reverse_kl": reverse_kl,
                                              "n_modes": 8}
    run_spec = {"n_gen": 2500, "profile": "smoke", "kind": "points"} if diverged else spec  # a diverged run's
    write_json(folder / "eval" / "metrics.json", {
        "run": run, "study": study, "dataset": dataset, "variant": variant, "seed": seed, "metrics": metrics,
        **({"diverged": diverged} if diverged else {}), **({"health": health} if health else {}),
        "spec": {**run_spec, "latent_seed": seed, "config_hash": f"h{seed}"}})
    write_json(folder / "train" / "config.json", {"variant": {"paper": paper, "recipe": recipe or {
        "loss": "ns", "lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999], "n_critic": 1}}})
    write_json(folder / "train" / "cost.json", {"wall_s": 10.0 + seed, "kimg": 2.0, "flops_total": 1e9,
                                                "peak_rss_mb": 100.0, "device": "cpu"})
    write_json(folder / "train" / "curve.json",
               {"points": train_points or [{"kimg": 0.0}, {"kimg": 2.0, "loss_d": 1.0}]})
    write_json(folder / "eval" / "curve.json", {"metric": "modes_covered", "n": 2500, "points": [
        {"kimg": 0.0, "modes_covered": 0}, {"kimg": 2.0, "modes_covered": modes}]})
    Image.new("RGB", (8, 8)).save(folder / "eval" / "samples.png")


@pytest.fixture
def tables(tmp_path):
    for seed, (good, evil) in enumerate([(8, 2), (7, 3), (8, 2)]):
        fake_run(tmp_path, "mlp-gan", seed, good)
        fake_run(tmp_path, EVIL_NAME, seed, evil, paper=EVIL)
    aggregate(tmp_path)
    return tmp_path


def test_summary_statistics_and_ranks(tables):
    summary = pd.read_csv(tables / "results/tables/summary.csv").set_index("variant")
    assert summary.loc["mlp-gan", "modes_covered_mean"] == pytest.approx(np.mean([8, 7, 8]))
    assert summary.loc["mlp-gan", "modes_covered_std"] == pytest.approx(np.std([8, 7, 8], ddof=1))
    assert summary.loc["mlp-gan", "modes_covered_rank"] == 1 and summary.loc[EVIL_NAME, "modes_covered_rank"] == 2
    assert summary.loc["mlp-gan", "wall_s_mean"] == pytest.approx(11.0)
    runs = json.loads((tables / "results/tables/runs.json").read_text())
    assert len(runs) == 6 and {r["seed"] for r in runs} == {0, 1, 2}


def test_runs_with_different_specs_are_never_pooled(tmp_path):
    fake_run(tmp_path, "mlp-gan", 0, 8)
    fake_run(tmp_path, "mlp-gan", 1, 8, spec={**SPEC, "n_gen": 1000})
    with pytest.raises(ValueError, match="different metric specs"):
        aggregate(tmp_path)


def test_runs_trained_under_different_budget_units_are_never_pooled(tmp_path):
    from bench.protocol.errors import ResultsError
    from bench.protocol.io import read_json

    for seed in (0, 1):
        fake_run(tmp_path, "mlp-gan", seed, 8)
    aggregate(tmp_path)  # runs from before budget units: kimg, pooled
    summary = pd.read_csv(tmp_path / "results/tables/summary.csv")
    assert summary["budget_unit"].tolist() == ["kimg"]
    cost_file = tmp_path / "results/leaderboard/ring8/mlp-gan/s1/train/cost.json"
    cost = read_json(cost_file)
    write_json(cost_file, {**cost, "budget": {"unit": "gflop", "amount": 5.0, "spent": 4.9}})
    with pytest.raises(ResultsError, match="leaderboard/ring8: runs were trained under different budgets"):
        aggregate(tmp_path)


def test_each_runs_data_copying_outcome_does_not_split_a_table_but_how_it_was_measured_does(tmp_path):
    """The data-copying test's cells and z-scores are each run's result (a quick leaderboard was refused)."""
    def spec(cells_used, cell_z, cells=10):
        domain = {"backbone": "domain", "data_copying": {
            "test": "Meehan et al. 2020 C_T", "cells": cells, "min_generated_per_cell": 20, "cells_used": cells_used,
            "cell_z": cell_z, "threshold": -3.0, **({"copying": False} if cell_z else {})}}
        return {**SPEC, "backbones": {**SPEC["backbones"], "domain": domain}}

    fake_run(tmp_path, "mlp-gan", 0, 8, spec=spec([7], [14.9]))
    fake_run(tmp_path, "mlp-gan", 1, 8, spec=spec([1, 4, 7], [15.5, 11.3, 9.9]))
    fake_run(tmp_path, "mlp-gan", 2, 8, spec=spec([], []))
    aggregate(tmp_path)
    assert pd.read_csv(tmp_path / "results/tables/summary.csv")["n_seeds"].tolist() == [3]
    shown = json.loads((tmp_path / "results/tables/specs.json").read_text())["leaderboard/ring8"]
    assert shown["backbones"]["domain"]["data_copying"] == {"test": "Meehan et al. 2020 C_T", "cells": 10,
                                                            "min_generated_per_cell": 20, "threshold": -3.0}
    fake_run(tmp_path, "mlp-gan", 2, 8, spec=spec([], [], cells=20))
    with pytest.raises(ValueError, match="different metric specs"):  # another partition: another test
        aggregate(tmp_path)


def test_each_runs_nearest_neighbour_pairs_do_not_split_a_table(tmp_path):
    for seed in range(2):
        nearest = {"available": True, "file": "nearest.png", "order": [seed, 3], "train_index": [7 + seed, 1],
                   "distance": [0.1 * seed, 0.5], "features": "domain"}
        fake_run(tmp_path, "mlp-gan", seed, 8, spec={**SPEC, "nearest": nearest})
    aggregate(tmp_path)
    assert len(strict_json(tmp_path / "results/tables/summary.json")) == 1


def test_a_metric_one_run_could_not_define_does_not_split_a_table(tmp_path):
    """Evaluate records in the spec why a run's reverse KL is undefined (no high-quality sample); a quick
    are-gans-equal ring8 table with such a run beside defined ones was refused ('different metric specs')."""
    undefined = {**SPEC, "undefined": {"reverse_kl": "nan: no histogram when no sample is high quality"}}
    fake_run(tmp_path, "mlp-gan", 0, 8, reverse_kl=0.2)
    fake_run(tmp_path, "mlp-gan", 1, 0, reverse_kl=None, spec=undefined)
    fake_run(tmp_path, "mlp-gan", 2, 8, reverse_kl=0.4)
    aggregate(tmp_path)
    summary = pd.read_csv(tmp_path / "results/tables/summary.csv").iloc[0]
    assert (summary["n_seeds"], summary["reverse_kl_n"]) == (3, 2)
    assert summary["reverse_kl_mean"] == pytest.approx(0.3)
    fake_run(tmp_path, "mlp-gan", 2, 8, spec={**undefined, "n_gen": 1000})
    with pytest.raises(ValueError, match="different metric specs"):  # how it was measured still splits
        aggregate(tmp_path)


def test_where_a_machine_looked_for_the_is_head_does_not_split_a_table(tmp_path):
    def spec(where):
        return {**SPEC, "backbones": {**SPEC["backbones"], "inception": {
            "backbone": "inception", "is": {"available": False, "reason": f"not found (looked in {where})"}}}}

    fake_run(tmp_path, "mlp-gan", 0, 8, spec=spec("/home/a/head.pth"))
    fake_run(tmp_path, "mlp-gan", 1, 8, spec=spec("/home/b/head.pth"))
    aggregate(tmp_path)
    assert pd.read_csv(tmp_path / "results/tables/summary.csv")["n_seeds"].tolist() == [2]
    shown = json.loads((tmp_path / "results/tables/specs.json").read_text())["leaderboard/ring8"]
    assert shown["backbones"]["inception"]["is"]["reason"] == "not found (looked in /home/a/head.pth)"
    assert "IS n/a: not found (looked in /home/a/head.pth)" in render(tmp_path).read_text()  # the table says why
    fake_run(tmp_path, "mlp-gan", 1, 8, spec={**spec("/x"), "backbones": {**SPEC["backbones"], "inception": {
        "backbone": "inception", "is": {"available": True, "splits": 10}}}})
    with pytest.raises(ValueError, match="different metric specs"):  # IS measured on one, not the other
        aggregate(tmp_path)


def test_report_escapes_user_strings_and_is_self_contained(tables):
    html = render(tables).read_text()
    assert EVIL not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "PacGAN Table 1" in html and "N = 2500" in html
    assert html.count("<svg") == 3  # quality against kimg, wall seconds and FLOPs
    pages = sorted(p.name for p in (tables / "reports").glob("*.html"))
    assert pages == sorted(["index.html", "leaderboard.html", "variant-mlp-gan.html", "variant-evil-gan.html",
                            "compare-evil-gan.html"])
    for page in (tables / "reports").glob("*.html"):
        assert EVIL not in page.read_text(), page.name
    variant = (tables / "reports/variant-mlp-gan.html").read_text()
    assert variant.count('src="img/leaderboard_ring8_mlp-gan_s') == 3 and "config hash" in variant
    assert any(p.name.startswith("leaderboard_ring8_mlp-gan_s0") for p in (tables / "reports/img").iterdir())


def test_a_cifar10_leaderboard_shows_the_published_rows_labeled_and_outside_our_statistics(tmp_path):
    from bench.tables.published import PUBLISHED_CIFAR10

    spec = {**SPEC, "kind": "images", "n_gen": 10000, "backbones": {"inception": {
        "backbone": "inception", "n_gen": 10000, "reference": {"split": "train", "n_ref": 50000}}}}
    for seed in range(2):
        fake_run(tmp_path, "mlp-gan", seed, 8, spec=spec, dataset="cifar10", metrics={"fid": 40.0 + seed, "is": 6.0})
    aggregate(tmp_path)
    html = render(tmp_path).read_text()
    table = html[html.index('id="table-leaderboard-cifar10"'):html.index("</table>")]
    ours, published = table.split('<tbody class="published-rows">')
    assert "mlp-gan" in ours and "published" not in ours
    assert published.count('<tr class="published">') == len(PUBLISHED_CIFAR10)
    for row in PUBLISHED_CIFAR10:  # each labeled with its source, N and reference split
        assert f"(published: {row['source']})" in published
    assert "fid50k_full · unconditional · N = 50,000 generated vs 50,000 train-split images · StudioGAN" in published
    assert ("fid10k_test · unconditional · N = 10,000 generated vs 10,000 test-split images · NVlabs StyleGAN2 TF "
            "metrics") in published
    assert "R3GAN" in published and "<b>unverified</b>" in published
    summary = json.loads((tmp_path / "results/tables/summary.json").read_text())
    assert [r["variant"] for r in summary] == ["mlp-gan"]  # never pooled into our statistics
    download = (tmp_path / "reports/tables/leaderboard-cifar10.csv").read_text()
    assert "StudioGAN" not in download and "R3GAN" not in download


def test_a_results_folder_with_a_name_outside_the_grammar_is_refused_naming_the_file(tmp_path):
    from bench.protocol.errors import ConfigError

    fake_run(tmp_path, "mlp-gan", 0, 8)
    bad = tmp_path / "results/leaderboard/ring8/mlp-gan/s0/eval/metrics.json"
    record = json.loads(bad.read_text())
    bad.write_text(json.dumps({**record, "variant": EVIL}))
    with pytest.raises(ConfigError, match="metrics.json: variant name '<img src=x onerror=alert\\(1\\)>' does not"):
        aggregate(tmp_path)


def test_render_removes_the_pages_of_variants_that_are_gone(tables):
    render(tables)
    stale = tables / "reports" / "variant-old.html"
    stale.write_text("old")
    (tables / "reports" / "notes.txt").write_text("a user's file")
    render(tables)
    assert not stale.exists() and (tables / "reports" / "notes.txt").exists()


def test_leaderboard_downloads_hold_the_table_as_shown(tables):
    render(tables)
    frame = pd.read_csv(tables / "reports/tables/leaderboard-ring8.csv")
    assert sorted(frame["variant"]) == sorted(["mlp-gan", EVIL_NAME])
    assert frame.set_index("variant").loc["mlp-gan", "modes_covered_mean"] == pytest.approx(23 / 3)
    records = json.loads((tables / "reports/tables/leaderboard-ring8.json").read_text())
    assert {r["variant"] for r in records} == {"mlp-gan", EVIL_NAME}
    assert "fid_mean" not in frame  # columns that are empty for this dataset are left out


def test_variants_curves_and_comparisons_tables(tables):
    folder = tables / "results/tables"
    variants = json.loads((folder / "variants.json").read_text())
    assert variants["mlp-gan"]["builtin"] and variants["mlp-gan"]["families"] == ["architecture"]
    assert variants[EVIL_NAME]["origin"] == "unregistered" and not variants[EVIL_NAME]["builtin"]
    assert variants[EVIL_NAME]["paper"] == EVIL
    assert variants["mlp-gan"]["config_hashes"] == {f"leaderboard/ring8/mlp-gan/s{s}": f"h{s}" for s in range(3)}
    curve = json.loads((folder / "curves.json").read_text())["leaderboard/ring8/mlp-gan"]
    assert [p["kimg"] for p in curve["points"]] == [0.0, 2.0]
    assert curve["points"][1]["mean"] == pytest.approx(23 / 3) and curve["points"][1]["min"] == 7
    assert curve["wall_s_per_kimg"] == pytest.approx(np.mean([10 / 2, 11 / 2, 12 / 2]))
    comparisons = json.loads((folder / "comparisons.json").read_text())
    assert list(comparisons) == [EVIL_NAME]  # the built-in variant is a baseline, not a new method
    modes = next(r for r in comparisons[EVIL_NAME] if r["metric"] == "modes_covered")
    assert modes["baseline"] == "mlp-gan" and modes["verdict"] == "worse" and modes["p_improvement"] == 0.0


SWEEP_STUDY = """are-gans-equal:
  title: Loss sweep <b>
  kind: sweep
  datasets: {ring8: [mlp-gan]}
  sweep: {losses: [ns, wgan]}
mode-collapse:
  title: Mode collapse
  kind: mode-collapse
  datasets: {ring8: [mlp-gan, mlp-gan+unrolled]}
"""
# reverse KL per (loss, sample, seed); NaN = no high-quality sample, counted as log 8
SWEEP_VALUES = {("ns", "h00"): [0.2, 0.4], ("ns", "h01"): [1.0, float("nan")],
                ("wgan", "h00"): [0.5, 0.7], ("wgan", "h01"): [0.1, 0.3]}


@pytest.fixture
def study_tables(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines/studies.yaml").write_text(SWEEP_STUDY)
    for (loss, sample), values in SWEEP_VALUES.items():
        for seed, value in enumerate(values):
            lr = 1e-3 if sample == "h01" else 2e-4
            recipe = {"loss": loss, "lr_g": lr, "lr_d": lr, "betas": [0.5, 0.999],
                      "n_critic": 5 if loss == "wgan" else 1, "clip": 0.01 if loss == "wgan" else 0}
            fake_run(tmp_path, f"mlp-gan+{loss}~{sample}", seed, 8, study="are-gans-equal", reverse_kl=value,
                     recipe=recipe)
    for seed in range(3):
        fake_run(tmp_path, "mlp-gan", seed, 6 + seed % 2, study="mode-collapse")
        fake_run(tmp_path, "mlp-gan+unrolled", seed, 8, study="mode-collapse")
    aggregate(tmp_path)
    return tmp_path


def test_sweep_table_distribution_budget_and_best_configuration(study_tables):
    sweeps = json.loads((study_tables / "results/tables/sweeps.json").read_text())
    table = sweeps["are-gans-equal/ring8"]
    assert table["metric"] == "reverse_kl" and table["lower_is_better"]
    ns = table["losses"]["ns"]
    values = {s["sample"]: s["value"] for s in ns["samples"]}
    assert values["h00"] == pytest.approx(0.3) and values["h01"] == pytest.approx((1.0 + np.log(8)) / 2)
    assert ns["best"]["sample"] == "h00" and ns["best"]["mean"] == pytest.approx(0.3)
    assert ns["best"]["std"] == pytest.approx(np.std([0.2, 0.4], ddof=1)) and ns["best"]["seeds"] == [0, 1]
    wgan = table["losses"]["wgan"]
    assert wgan["best"]["sample"] == "h01" and wgan["best"]["hyperparameters"]["clip"] == 0.01
    assert wgan["best"]["hyperparameters"]["betas"] == [0.5, 0.999]
    budget = ns["budget"]
    assert [p["k"] for p in budget] == [1, 2]
    assert budget[0]["mean"] == pytest.approx(np.mean(list(values.values())), abs=0.05)
    # exact E[min of 2 draws with replacement] of two values: (3 a + b) / 4 with a < b
    assert budget[1]["mean"] == pytest.approx((3 * 0.3 + values["h01"]) / 4, abs=0.05)


def test_study_pages_are_rendered_linked_and_escaped(study_tables):
    index = render(study_tables).read_text()
    assert 'href="are-gans-equal.html"' in index and 'href="mode-collapse.html"' in index
    assert "Loss sweep &lt;b&gt;" in index
    sweep = (study_tables / "reports/are-gans-equal.html").read_text()
    assert sweep.count("<svg") == 2 and "Best configuration per loss" in sweep and "clip 0.01" in sweep
    assert "Lucic et al., Inception FID" not in sweep  # published FIDs belong to Fashion-MNIST only
    page = (study_tables / "reports/mode-collapse.html").read_text()
    assert "mlp-gan+unrolled" in page and "published: VEEGAN" in page and "6.3 ± 0.5" in page
    assert page.index("mlp-gan+unrolled") < page.index("published: PacGAN")
    assert "8.0 ± 0.0" in page and "6.3 ± 0.6" in page  # ours: modes 8,8,8 and 6,7,6


def test_a_truncation_curve_of_one_seed_has_no_spread_and_renders(tmp_path):
    """One seed has no std (null in the table): the chart draws no band instead of failing the report."""
    fake_run(tmp_path, EVIL_NAME, 0, 8, paper=EVIL)
    write_json(tmp_path / f"results/leaderboard/ring8/{EVIL_NAME}/s0/eval/truncation.json", {
        "run": f"leaderboard/ring8/{EVIL_NAME}/s0", "available": True, "backbone": "domain", "n": 500,
        "sampling": "resampled", "points": [{"tau": 0.5, "fid_domain": 10.0, "is_domain": 2.0},
                                            {"tau": 1.0, "fid_domain": 15.0, "is_domain": 2.5},
                                            {"tau": None, "fid_domain": 20.0, "is_domain": 3.0}]})
    aggregate(tmp_path)
    entry = json.loads((tmp_path / "results/tables/truncation.json").read_text())[f"leaderboard/ring8/{EVIL_NAME}"]
    assert entry["n_seeds"] == 1 and entry["points"][0]["fid_domain"]["std"] is None
    render(tmp_path)
    assert "Truncation trick" in (tmp_path / "reports/variant-evil-gan.html").read_text()


def test_truncation_curve_is_summarised_over_seeds_and_rendered(tmp_path):
    for seed, (fid_half, fid_full) in enumerate([(10.0, 20.0), (12.0, 22.0)]):
        fake_run(tmp_path, EVIL_NAME, seed, 8, paper=EVIL)
        write_json(tmp_path / f"results/leaderboard/ring8/{EVIL_NAME}/s{seed}/eval/truncation.json", {
            "run": f"leaderboard/ring8/{EVIL_NAME}/s{seed}", "available": True, "backbone": "domain", "n": 2000,
            "sampling": "resampled", "points": [{"tau": 0.5, "fid_domain": fid_half, "is_domain": 2.0},
                                                {"tau": None, "fid_domain": fid_full, "is_domain": 3.0}]})
    aggregate(tmp_path)
    entry = json.loads((tmp_path / "results/tables/truncation.json").read_text())[f"leaderboard/ring8/{EVIL_NAME}"]
    assert entry["n_seeds"] == 2 and [p["tau"] for p in entry["points"]] == [0.5, None]
    assert entry["points"][0]["fid_domain"]["mean"] == pytest.approx(11.0)
    assert entry["points"][0]["fid_domain"]["std"] == pytest.approx(np.std([10.0, 12.0], ddof=1))
    render(tmp_path)
    html = (tmp_path / "reports/variant-evil-gan.html").read_text()
    assert "Truncation trick" in html and "none (untruncated)" in html and "11.00 ± 1.41" in html
    assert EVIL not in html


def test_variants_without_a_metric_are_not_ranked_on_it(tmp_path):
    for seed in range(2):
        fake_run(tmp_path, "mlp-gan", seed, 8)
        fake_run(tmp_path, "mlp-gan+hinge", seed, 7)
        path = tmp_path / f"results/leaderboard/ring8/mlp-gan+hinge/s{seed}/eval/metrics.json"
        record = json.loads(path.read_text())
        record["metrics"]["high_quality"] = None  # not measured for this variant
        write_json(path, record)
    aggregate(tmp_path)
    summary = pd.read_csv(tmp_path / "results/tables/summary.csv").set_index("variant")
    assert summary.loc["mlp-gan", "high_quality_rank"] == 1
    assert pd.isna(summary.loc["mlp-gan+hinge", "high_quality_rank"])


def test_diverged_seeds_are_counted_never_averaged_in_and_the_variant_is_not_ranked(tmp_path):
    for seed in range(3):
        fake_run(tmp_path, "mlp-gan", seed, 8)
        fake_run(tmp_path, "mlp-gan+hinge", seed, 6,
                 diverged={"kimg": 1.5 + seed, "step": 15, "reason": "loss_d = nan"} if seed < 2 else None)
    aggregate(tmp_path)
    tables = tmp_path / "results/tables"
    summary = {r["variant"]: r for r in strict_json(tables / "summary.json")}  # valid JSON: no NaN literals
    hinge, plain = summary["mlp-gan+hinge"], summary["mlp-gan"]
    assert (hinge["n_seeds"], hinge["n_diverged"]) == (3, 2)
    assert (hinge["diverged_kimg"], hinge["diverged_seeds"]) == (1.5, "0,1")
    assert hinge["modes_covered_n"] == 1 and hinge["modes_covered_mean"] == 6 and hinge["modes_covered_std"] is None
    assert hinge["modes_covered_rank"] is None and plain["modes_covered_rank"] == 1 and plain["n_diverged"] == 0
    for name in ("runs.json", "specs.json", "variants.json", "curves.json", "comparisons.json", "sweeps.json"):
        strict_json(tables / name)
    html = render(tmp_path).read_text()
    assert "diverged: 2 of 3 seeds (s0, s1, first at 1.50 kimg); not ranked" in html and "1 of 3 seeds" in html
    page = (tmp_path / "reports/variant-mlp-gan+hinge.html").read_text()
    assert "diverged at 1.500 kimg: loss_d = nan" in page and "trained to the end" in page


def test_aggregate_refuses_while_runs_of_the_studies_lack_metrics_unless_asked_for_a_partial_table(tmp_path):
    from bench.protocol.errors import ResultsError
    from tests.conftest import write_params

    write_params(tmp_path)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines/mine.yaml").write_text("mine:\n  datasets: {ring8: [mlp-gan]}\n  seeds: [0, 1, 2]\n")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    for profile in params["profiles"].values():  # this root has only its own study file
        profile["studies"] = {}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for seed in (0, 1):  # seed 2's evaluate is still running
        fake_run(tmp_path, "mlp-gan", seed, 8, study="mine")
    with pytest.raises(ResultsError, match=r"1 runs of the studies have no finished train and evaluate outputs yet "
                                           r"\(mine/ring8/mlp-gan/s2\)"):
        aggregate(tmp_path)
    assert not (tmp_path / "results/tables").exists()  # nothing half-written
    aggregate(tmp_path, partial=True)
    assert strict_json(tmp_path / "results/tables/incomplete.json") == {"missing": ["mine/ring8/mlp-gan/s2"]}
    assert "Incomplete: 1 runs of the studies had no metrics" in render(tmp_path).read_text()
    (tmp_path / "results/mine/ring8/mlp-gan/s1/train/cost.json").unlink()  # its train stage re-running: eval stale
    aggregate(tmp_path, partial=True)
    assert strict_json(tmp_path / "results/tables/incomplete.json") == {
        "missing": ["mine/ring8/mlp-gan/s1", "mine/ring8/mlp-gan/s2"]}
    assert {r["run"] for r in strict_json(tmp_path / "results/tables/runs.json")} == {"mine/ring8/mlp-gan/s0"}
    fake_run(tmp_path, "mlp-gan", 1, 8, study="mine")
    fake_run(tmp_path, "mlp-gan", 2, 8, study="mine")
    aggregate(tmp_path)
    assert strict_json(tmp_path / "results/tables/incomplete.json") == {"missing": []}
    assert "Incomplete" not in render(tmp_path).read_text()


def test_budget_leaders_read_each_curve_at_its_last_point_within_the_budget():
    from bench.tables.budgets import budget_leaders

    def curve(variant, gflops, means):
        return {"study": "leaderboard", "dataset": "fmnist32", "variant": variant, "metric": "fid_domain", "n": 128,
                "lower_is_better": True, "wall_s_per_kimg": 10.0 if variant == "a" else 1.0, "flops_per_kimg": 0.0,
                "points": [{"kimg": k, "gflop": g, "mean": m} for k, g, m in zip([1.0, 2.0], gflops, means,
                                                                                   strict=True)]}

    # a is cheap per image and good early; b costs 5x the FLOPs per image and ends far better
    leaders = budget_leaders({"a": curve("a", [1.0, 2.0], [10.0, 9.0]), "b": curve("b", [5.0, 10.0], [12.0, 3.0])})
    axes = leaders["leaderboard/fmnist32"]["axes"]
    brief = {axis: [("=".join(r["leaders"]), r["from"], r["to"]) for r in ranges] for axis, ranges in axes.items()}
    assert brief["kimg"] == [("a", 1.0, 1.0), ("b", 2.0, 2.0)]
    assert brief["gflop"] == [("a", 1.0, 5.0), ("b", 10.0, 10.0)]  # at 5 GFLOP b has only its first point (12)
    assert brief["wall_s"] == [("b", 1.0, 20.0)]  # b's seconds per kimg are a tenth of a's: b leads from 1 s on
    assert axes["gflop"][0]["value"] == 9.0 and axes["gflop"][0]["competitors"] == 2


def test_the_leaderboard_page_shows_the_leader_at_each_budget(tables):
    render(tables)
    page = (tables / "reports" / "index.html").read_text()
    section = page[page.index("<h3>Best at each budget</h3>"):]
    leaders = json.loads((tables / "results/tables/budget_leaders.json").read_text())["leaderboard/ring8"]["axes"]
    # both start with no mode covered (a tie, shared), then 8, 7, 8 modes against 2, 3, 2
    assert [r["leaders"] for r in leaders["kimg"]] == [[EVIL_NAME, "mlp-gan"], ["mlp-gan"]]
    assert section.count('<a href="variant-mlp-gan.html">mlp-gan</a>') == 6  # two ranges per axis
    assert f'<a href="variant-{EVIL_NAME}.html">{EVIL_NAME}</a> = <a href="variant-mlp-gan.html">' in section


def test_the_compare_page_gives_the_verdict_at_equal_images_and_at_equal_flops(tables):
    render(tables)
    page = (tables / "reports" / f"compare-{EVIL_NAME}.html").read_text()
    at_flops = json.loads((tables / "results/tables/comparisons_equal_flops.json").read_text())[EVIL_NAME]
    assert [(r["baseline"], r["metric"], r["gflop"]) for r in at_flops] == [("mlp-gan", "modes_covered", 1.0)]
    assert page.index("<h3>At equal training FLOPs</h3>") > page.index("verdict")
    assert at_flops[0]["verdict"] == "worse" and "verdict-worse" in page.split("At equal training FLOPs")[1]


def test_a_study_versus_another_shows_each_shared_variants_rank_in_both(tmp_path):
    """Two table studies on the same dataset: at equal images b leads, at equal FLOPs a does."""
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "leaderboard.yaml").write_text(
        "leaderboard:\n  datasets:\n    ring8: [mlp-gan, evil-gan, other-gan]\n")
    (tmp_path / "pipelines" / "leaderboard-flops.yaml").write_text(
        "leaderboard-flops:\n  versus: leaderboard\n  datasets:\n    ring8: [mlp-gan, evil-gan]\n")
    for seed in range(3):
        fake_run(tmp_path, "mlp-gan", seed, 4 + seed % 2)
        fake_run(tmp_path, EVIL_NAME, seed, 7 + seed % 2)
        fake_run(tmp_path, "other-gan", seed, 8)
        fake_run(tmp_path, "mlp-gan", seed, 8 - seed % 2, study="leaderboard-flops")
        fake_run(tmp_path, EVIL_NAME, seed, 2 + seed % 2, study="leaderboard-flops")
    for cost_file in (tmp_path / "results/leaderboard-flops").glob("*/*/s*/train/cost.json"):
        write_json(cost_file, {**json.loads(cost_file.read_text()), "budget": {"unit": "gflop", "amount": 50.0,
                                                                              "spent": 49.0}})
    aggregate(tmp_path)
    changes = json.loads((tmp_path / "results/tables/rank_changes.json").read_text())["leaderboard-flops/ring8"]
    assert changes["versus"] == "leaderboard" and changes["budgets"] == {"leaderboard": "2 kimg",
                                                                         "leaderboard-flops": "50 GFLOP"}
    moves = {r["variant"]: (r["rank_versus"], r["rank"], r["move"]) for r in changes["metrics"]["modes_covered"]}
    assert moves == {EVIL_NAME: (1, 2, -1), "mlp-gan": (2, 1, 1)}  # other-gan is not in both: not ranked
    render(tmp_path)
    page = (tmp_path / "reports" / "index.html").read_text()
    section = page[page.index("<h3>Ranks here against leaderboard</h3>"):]
    assert "2 kimg → leaderboard-flops at 50 GFLOP" in section and f"Moved: {EVIL_NAME}, mlp-gan." in section


def test_a_metric_on_a_network_the_run_trained_against_is_marked_in_table_and_page(tmp_path):
    """Issue 18's honesty rule: a variant whose D saw TF-Inception (recorded by the train stage in cost.json) gets
    its Inception columns marked, its domain columns not; a variant that saw no pretrained network, nothing."""
    from bench.protocol.io import read_json

    backbone = {"n_gen": 200, "reference": {"split": "eval", "n_ref": 2000}}
    spec = {**SPEC, "kind": "images", "n_gen": 200, "backbones": {
        "inception": {"backbone": "inception", **backbone}, "domain": {"backbone": "domain", **backbone}}}
    for seed in range(2):
        for variant, fid in (("dcgan", 50.0), ("dcgan+sn", 40.0)):
            fake_run(tmp_path, variant, seed, 8, spec=spec, dataset="fmnist32",
                     metrics={"fid": fid + seed, "fid_domain": fid * 2 + seed})
        cost_file = tmp_path / f"results/leaderboard/fmnist32/dcgan+sn/s{seed}/train/cost.json"
        networks = ["efficientnet-lite0", "tf-inception-v3"]
        write_json(cost_file, {**read_json(cost_file), "pretrained_networks": networks})
    aggregate(tmp_path)
    summary = pd.read_csv(tmp_path / "results/tables/summary.csv").set_index("variant")
    assert summary.loc["dcgan+sn", "trained_against"] == "efficientnet-lite0,tf-inception-v3"
    assert pd.isna(summary.loc["dcgan", "trained_against"])
    html = render(tmp_path).read_text()
    table = html[html.index('id="table-leaderboard-fmnist32"'):html.index("</table>")]
    marked, plain = (table[table.index(f'>{v}</a>'):] for v in ("dcgan+sn", "dcgan"))
    marked_row, plain_row = marked[:marked.index("</tr>")], plain[:plain.index("</tr>")]
    assert marked_row.count('class="trained-against"') == 1  # Inception FID only; the domain FID stands
    assert "trained against pretrained efficientnet-lite0, tf-inception-v3" in marked_row
    assert "trained-against" not in plain_row
    from bench.report.site import variant_href

    page = tmp_path / "reports" / variant_href("dcgan+sn")
    assert "FID (Inception) † trained against tf-inception-v3" in page.read_text()


def test_the_limited_data_page_draws_fid_against_size_with_ada_p_and_published_rows(tmp_path):
    backbone = {"n_gen": 200, "reference": {"split": "eval", "n_ref": 2000, "dataset": "fmnist32"}}
    spec = {**SPEC, "kind": "images", "n_gen": 200, "backbones": {"domain": {"backbone": "domain", **backbone}}}
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines/limited-data.yaml").write_text(yaml.safe_dump({"limited-data": {
        "title": "Limited data", "kind": "limited-data",
        "datasets": {"fmnist32-n100": ["dcgan", "dcgan+ada"], "fmnist32": ["dcgan", "dcgan+ada"]}}}))
    for dataset, fid in (("fmnist32-n100", 300.0), ("fmnist32", 100.0)):
        for seed in range(2):
            for variant, gain in (("dcgan", 0.0), ("dcgan+ada", -50.0)):
                metrics = {"fid_domain": fid + gain + seed, "leak_ada_domain": 0.1, "leak_diffaug_domain": 0.2}
                fake_run(tmp_path, variant, seed, 8, spec=spec, study="limited-data", dataset=dataset, metrics=metrics)
                if variant == "dcgan+ada":
                    write_json(tmp_path / f"results/limited-data/{dataset}/{variant}/s{seed}/train/curve.json",
                               {"points": [{"kimg": 0.0}, {"kimg": 2.0, "ada_p": 0.3, "ada_rt": 0.7}]})
    aggregate(tmp_path)
    render(tmp_path)
    page = (tmp_path / "reports/limited-data.html").read_text()
    assert "<svg" in page and "training images (log10)" in page and "dcgan+ada: augmentation strength p" in page
    assert "DiffAugment README" in page and "36.02 → 14.50" in page  # the published rows, labeled
    assert "better than the baseline (Welch p" in page  # -50 at both sizes, seeds 1 apart: separable
    assert page.count('<tr><td><a href="variant-dcgan') == 4  # two methods x two sizes
    variant_page = (tmp_path / "reports/variant-dcgan+ada.html").read_text()
    assert "ADA&#39;s augmentation strength" in variant_page or "ADA's augmentation strength" in variant_page


def _verdict(*flagged):
    from bench.measurement import health

    checks = {name: health.check(name in flagged, 0.1, 0.25) for name in ("diverged", "mode_collapse", "checkerboard")}
    return health.verdict(checks)


def test_health_verdicts_are_counted_per_seed_shown_as_badges_and_named_where_seeds_differ(tmp_path):
    points = [{"kimg": 0.0, "step": 0}] + [{"kimg": k, "step": int(k * 10), "loss_d": 1.0, "loss_g": 0.7,
                                            "d_acc_real": 0.6, "d_acc_fake": 0.5, "d_gap": 0.1, "grad_d": 2.0,
                                            "grad_g": 0.5} for k in (1.0, 2.0)]
    for seed in range(3):
        fake_run(tmp_path, "mlp-gan", seed, 8, health=_verdict(), train_points=points)
        fake_run(tmp_path, EVIL_NAME, seed, 2 + seed, train_points=points,
                 health=_verdict(*(["mode_collapse", "checkerboard"] if seed == 1 else [])))
    fake_run(tmp_path, "mlp-gan+hinge", 0, 5)  # evaluated before the checks: not judged
    aggregate(tmp_path)
    summary = {r["variant"]: r for r in strict_json(tmp_path / "results/tables/summary.json")}
    assert (summary[EVIL_NAME]["n_judged"], summary[EVIL_NAME]["n_healthy"]) == (3, 2)
    assert summary[EVIL_NAME]["health_flags"] == "mode collapse: s1;checkerboard: s1"
    assert (summary["mlp-gan"]["n_healthy"], summary["mlp-gan"]["health_flags"]) == (3, "")
    assert summary["mlp-gan+hinge"]["n_judged"] == 0
    html = render(tmp_path).read_text()
    assert 'data-healthy="0"' in html and 'data-healthy="1"' in html and 'data-healthy=""' in html
    assert "2 of 3 seeds healthy" in html and '<span class="badge">mode collapse: s1</span>' in html
    page = (tmp_path / "reports" / f"variant-{EVIL_NAME}.html").read_text()
    assert "Training health" in page and page.count("<svg") >= 4  # accuracy, losses, gap and gradient charts
    assert "Seed 1: <span class=\"badge\">mode collapse</span>" in page and "flagged" in page
    compare = (tmp_path / "reports" / f"compare-{EVIL_NAME}.html").read_text()
    assert f"{EVIL_NAME}: 2 of 3 seeds healthy (mode collapse: s1; checkerboard: s1)" in compare
