"""The translation study's tables and page from synthetic runs: per-task method tables (order, statistics, tied
ranks), pix2pix's Table 1 layout with its ground-truth row, and the input / output / ground-truth grids."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.report.render import render
from bench.tables.aggregate import aggregate
from tests.bench.tables.test_aggregate_report import fake_run

STUDY = """translation:
  title: Translation
  kind: translation
  datasets:
    edges2fmnist: [pix2pix-l1, pix2pix-gan, pix2pix, cyclegan]
    sneaker2boot: [cyclegan]
"""
# dataset -> variant -> metric -> the values of seeds 0-2
RUNS = {
    "edges2fmnist": {
        "pix2pix-l1": {"fid_domain": (300.0, 310.0, 305.0), "l1_truth": (0.10, 0.11, 0.12),
                       "content_accuracy_domain": (0.60, 0.62, 0.61), "diversity_l1": (0.01, 0.01, 0.02)},
        "pix2pix-gan": {"fid_domain": (90.0, 95.0, 100.0), "l1_truth": (0.30, 0.32, 0.31),
                        "content_accuracy_domain": (0.40, 0.45, 0.50), "diversity_l1": (0.02, 0.03, 0.02)},
        "pix2pix": {"fid_domain": (60.0, 61.0, 62.0), "l1_truth": (0.15, 0.16, 0.14),
                    "content_accuracy_domain": (0.80, 0.82, 0.81), "diversity_l1": (0.02, 0.021, 0.019)},
        "cyclegan": {"fid_domain": (150.0, 160.0, 155.0), "l1_truth": (0.25, 0.26, 0.27),
                     "content_accuracy_domain": (0.50, 0.55, 0.52), "cycle_l1": (0.05, 0.06, 0.05)},
    },
    "sneaker2boot": {"cyclegan": {"fid_domain": (50.0, 55.0, 52.0), "target_success_domain": (0.9, 0.8, 0.85),
                                  "cycle_l1": (0.04, 0.05, 0.06)}},
}
TRUTH = {"edges2fmnist": {"truth_content_accuracy_domain": 0.93}, "sneaker2boot": {"truth_target_success_domain": 0.97}}


def _spec(dataset):
    return {"kind": "images", "n_gen": 1000, "profile": "quick", "libraries": {"torch": "x"}, "device": "cpu",
            "backbones": {"domain": {"backbone": "domain"}},
            "translation": {"task": dataset, "ground_truth": f"the truth of {dataset}", "n": 1000,
                            "grid": "rows of 8 test items, repeating: input, output, ground truth", **TRUTH[dataset]}}


def _runs(root):
    (root / "pipelines").mkdir()
    (root / "pipelines/translation.yaml").write_text(STUDY)
    for dataset, variants in RUNS.items():
        for variant, metrics in variants.items():
            for seed in range(3):
                fake_run(root, variant, seed, 0, study="translation", dataset=dataset, spec=_spec(dataset),
                         metrics={m: values[seed] for m, values in metrics.items()})
                grid = root / "results/translation" / dataset / variant / f"s{seed}" / "eval" / "translations.png"
                Image.new("L", (8, 8), color=seed).save(grid)
    aggregate(root)


@pytest.fixture
def study(tmp_path):
    _runs(tmp_path)
    return tmp_path


def test_a_task_table_lists_the_study_order_with_the_mean_and_the_tied_best(study):
    from bench.tables.translation import method_table

    summary = pd.read_csv(study / "results/tables/summary.csv")
    block = summary[summary["dataset"] == "edges2fmnist"]
    table = method_table(block, ["pix2pix-l1", "pix2pix-gan", "pix2pix", "cyclegan"])
    assert [r["variant"] for r in table["rows"]] == ["pix2pix-l1", "pix2pix-gan", "pix2pix", "cyclegan"]
    assert table["metrics"] == ["fid_domain", "l1_truth", "content_accuracy_domain", "cycle_l1", "diversity_l1"]
    cells = {r["variant"]: r["cells"] for r in table["rows"]}
    assert cells["pix2pix"]["fid_domain"]["mean"] == pytest.approx(61.0)
    assert cells["pix2pix"]["fid_domain"]["std"] == pytest.approx(np.std([60.0, 61.0, 62.0], ddof=1))
    assert cells["pix2pix"]["fid_domain"]["rank"] == 1 and cells["pix2pix-l1"]["fid_domain"]["rank"] > 1
    assert cells["pix2pix-l1"]["l1_truth"]["rank"] == 1  # lower is better: L1 alone is closest to the truth
    assert cells["pix2pix"]["content_accuracy_domain"]["rank"] == 1  # higher is better
    assert cells["pix2pix"]["cycle_l1"] is None and cells["cyclegan"]["diversity_l1"] is None
    unlisted = method_table(block)
    assert [r["variant"] for r in unlisted["rows"]] == sorted(RUNS["edges2fmnist"])


def test_table_1_rows_are_the_objectives_then_the_classifiers_score_of_the_real_targets(study):
    from bench.tables.translation import ground_truth, method_table, objective_ablation

    summary = pd.read_csv(study / "results/tables/summary.csv")
    runs = pd.read_csv(study / "results/tables/runs.csv")
    edges = summary[summary["dataset"] == "edges2fmnist"]
    truth = ground_truth(runs[runs["dataset"] == "edges2fmnist"])
    assert truth == {"content_accuracy_domain": 0.93}
    ablation = objective_ablation(method_table(edges), truth)
    assert [r["objective"] for r in ablation["rows"]] == ["L1", "cGAN", "L1 + cGAN", "ground truth"]
    assert [r["variant"] for r in ablation["rows"]] == ["pix2pix-l1", "pix2pix-gan", "pix2pix", None]
    assert ablation["metrics"] == ["content_accuracy_domain", "fid_domain", "l1_truth", "diversity_l1"]  # FCN first
    assert ablation["rows"][-1]["cells"]["content_accuracy_domain"] == {"mean": 0.93}
    assert ablation["rows"][-1]["cells"]["fid_domain"] is None  # the classifier's score only
    boots = summary[summary["dataset"] == "sneaker2boot"]
    assert objective_ablation(method_table(boots), {}) is None  # no pix2pix objectives ran there


def test_the_page_has_a_table_per_task_table_1_where_it_applies_and_every_runs_grid(study):
    render(study)
    page = (study / "reports/translation.html").read_text()
    edges, boots = page.index('<h2 id="edges2fmnist">'), page.index('<h2 id="sneaker2boot">')
    assert page.count("the layout of pix2pix's Table 1") == 1 and edges < page.index("Table 1") < boots
    assert "FID (domain) ↓" in page and "content kept (domain) % ↑" in page and "target class reached" in page
    assert "<b>61.0 ± 1.0</b>" in page  # pix2pix's FID, tied best
    assert "305.0 ± 5.0" in page and "<b>305.0" not in page
    assert "0.013 ± 0.006" in page and "<b>0.013 ± 0.006" not in page  # output diversity: no best to mark
    assert "<i>ground truth</i>" in page and ">93.0<" in page and "0.150 ± 0.010" in page  # % to 0.1, L1 to 0.001
    assert page.count('<img class="translations" src=') == 15  # 5 variant x dataset cells, 3 seeds each
    assert page.index("translations of pix2pix-l1, seed 0") < page.index("translations of pix2pix, seed 0")
    assert "the truth of edges2fmnist" in page and "input, output, ground truth" in page
    assert "real targets: content kept 93.0 %" in page and "real targets: target class reached 97.0 %" in page
