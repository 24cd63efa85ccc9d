"""The tokenizer study's tables, the rows it lends the leaderboard and its page, from a synthetic results tree written
as the tokenizer's train, prior and evaluate stages write theirs: stage 1's table (study order, statistics over
seeds, each variant's model from its spec), factorized against plain codes (seeds side by side, Welch over seeds,
Holm), the reconstruction loss across D's start, the leaderboard rows under the same metric protocol only."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from bench.measurement import protocols
from bench.protocol.errors import ResultsError
from bench.protocol.io import read_json, write_json
from bench.report.leaderboard import leaderboard_sections
from bench.report.render import render
from bench.report.site import Tables
from bench.tables.aggregate import aggregate
from bench.tables.tokenizer import around_start, pair_comparison, same_protocol
from tests.bench.tables.test_aggregate_report import fake_run
from tests.conftest import page_problems

STUDIES = {"tokenizer.yaml": """tokenizer:
  title: Image tokenizers
  kind: tokenizer
  datasets:
    fmnist32: [vqgan, vit-vqgan, vit-vqgan+plain-codes]
""", "leaderboard.yaml": """leaderboard:
  title: Default leaderboard
  datasets:
    fmnist32: [dcgan, sngan]
"""}
SEEDS = (0, 1)
START = 2.25  # D's start: between the curve points at 2.0 and 2.5 kimg, so the point at 2.5 straddles it
KIMG = [0.5 * k for k in range(1, 9)]  # curve points at 0.5 ... 4.0 kimg
# variant -> metric -> the values of seeds 0 and 1
TOKENIZER = {
    "vqgan": {"rfid": (40.0, 44.0), "rfid_domain": (10.0, 12.0), "psnr_rec": (24.0, 24.4), "ssim_rec": (0.80, 0.82),
              "codebook_usage": (0.30, 0.34), "codebook_perplexity": (100.0, 120.0)},
    "vit-vqgan": {"rfid": (30.0, 50.0), "rfid_domain": (8.0, 9.0), "psnr_rec": (25.0, 25.2), "ssim_rec": (0.84, 0.85),
                  "codebook_usage": (0.90, 0.92), "codebook_perplexity": (400.0, 410.0)},
    "vit-vqgan+plain-codes": {"rfid": (40.0, 45.0), "rfid_domain": (9.0, 10.0), "psnr_rec": (24.8, 25.0),
                              "ssim_rec": (0.83, 0.84), "codebook_usage": (0.40, 0.42),
                              "codebook_perplexity": (150.0, 160.0)},
}
GENERATION = {
    "vqgan": {"fid": (60.0, 62.0), "kid": (0.030, 0.032), "precision": (0.6, 0.62), "fid_domain": (20.0, 22.0),
              "sample_ms_per_image": (3.0, 3.2)},
    "vit-vqgan": {"fid": (50.0, 51.0), "kid": (0.020, 0.021), "precision": (0.7, 0.71), "fid_domain": (15.0, 16.0),
                  "sample_ms_per_image": (5.0, 5.1)},
    "vit-vqgan+plain-codes": {"fid": (55.0, 57.0), "kid": (0.025, 0.026), "precision": (0.65, 0.66),
                              "fid_domain": (18.0, 19.0), "sample_ms_per_image": (5.0, 5.2)},
    "dcgan": {"fid": (80.0, 82.0), "kid": (0.05, 0.052), "precision": (0.5, 0.52), "fid_domain": (30.0, 31.0)},
    "sngan": {"fid": (70.0, 71.0), "kid": (0.04, 0.041), "precision": (0.55, 0.56), "fid_domain": (25.0, 26.0)},
}
MODELS = {
    "vqgan": {"family": "vqgan", "codes": "512 codes, plain 64-d", "n_codes": 512, "train_subset": None},
    "vit-vqgan": {"family": "vit-vqgan", "codes": "512 codes, factorized 32-d, l2-normalised", "n_codes": 512,
                  "train_subset": 6000},
    "vit-vqgan+plain-codes": {"family": "vit-vqgan", "codes": "512 codes, plain 64-d", "n_codes": 512,
                              "train_subset": 6000},
}
JUMP = {"vqgan": 0.20, "vit-vqgan": 0.02, "vit-vqgan+plain-codes": -0.01}  # rec after D's start minus before


def rec(variant: str, seed: int, kimg: float) -> float:
    """Stage 1's reconstruction loss at a curve point: falling, with JUMP added once D runs; the point that straddles
    the start holds a value that would move any mean it entered."""
    if kimg - 0.5 < START < kimg:
        return 9.0
    return 0.5 - 0.05 * kimg + 0.01 * seed + (JUMP[variant] if kimg > START else 0.0)


def _backbone(name: str, n_gen: int, n_ref: int) -> dict:
    how = {"backbone": name, "weights_sha256": f"{name}-weights", "resize": "clean", "normalization": "x",
           "kid": {"subsets": 100, "max_subset_size": 1000},
           "reference": {"dataset": "fmnist32", "split": "eval", "n_ref": n_ref, "split_size": 10000}}
    return {**how, "protocols": protocols.of_spec(how, n_gen)}


def image_spec(n_gen: int = 500, n_ref: int = 2000) -> dict:
    return {"kind": "images", "n_gen": n_gen, "profile": "quick", "libraries": {"torch": "x"}, "device": "cpu",
            "backbones": {b: _backbone(b, n_gen, n_ref) for b in ("inception", "domain")}}


def tokenizer_spec(variant: str, seed: int, n_gen: int = 500, n_test: int = 10000) -> dict:
    """What the tokenizer's evaluate writes: the model differs per variant (each run's sampling time is its metric
    sample_ms_per_image, not part of the spec)."""
    model = {**MODELS[variant], "grid": [8, 8], "disc_start_kimg": START, "train_kimg": 4.0,
             "prior": {"kimg": 2.0, "layers": 4, "lr": 3e-4}}
    return {**image_spec(n_gen), "tokenizer": {**model, "n_test": n_test, "n_rfid": n_gen,
                                               "rfid": "the first n_rfid test reconstructions"},
            "sampling": {"n": n_gen, "device": "cpu",
                         "batch": 256, "temperature": 1.0, "top_k": None, "top_p": 0.9}}


def _write_study_files(root):
    (root / "pipelines").mkdir(exist_ok=True)
    for name, text in STUDIES.items():
        (root / "pipelines" / name).write_text(text)


def write_tree(root, n_gen: int = 500):
    """Two leaderboard generators and the tokenizer study's three variants, seeds 0 and 1, on fmnist32; the
    tokenizer runs' samples are scored with N = `n_gen` (the leaderboard's: 500)."""
    _write_study_files(root)
    for variant in ("dcgan", "sngan"):
        for seed in SEEDS:
            fake_run(root, variant, seed, 0, dataset="fmnist32", spec=image_spec(),
                     metrics={m: v[seed] for m, v in GENERATION[variant].items()})
    for variant in TOKENIZER:
        for seed in SEEDS:
            points = [{"kimg": 0.0, "step": 0}] + [
                {"kimg": k, "step": int(100 * k), "rec": rec(variant, seed, k), "vq": 0.1, "gan_g": 0.3,
                 "loss_d": 1.0, "lambda": 0.5 + k, "gan_factor": min(1.0, max(0.0, (k - START) / 0.5))}
                for k in KIMG]
            fake_run(root, variant, seed, 0, study="tokenizer", dataset="fmnist32",
                     spec=tokenizer_spec(variant, seed, n_gen), train_points=points,
                     metrics={m: v[seed] for m, v in {**TOKENIZER[variant], **GENERATION[variant]}.items()})
            folder = root / "results/tokenizer/fmnist32" / variant / f"s{seed}"
            write_json(folder / "prior/curve.json", {"points": [{"kimg": 0.0, "step": 0},
                                                                {"kimg": 1.0, "step": 10, "loss": 5.0 - seed},
                                                                {"kimg": 2.0, "step": 20, "loss": 4.0 - seed}]})
            Image.new("L", (8, 16), color=100 + seed).save(folder / "eval/reconstructions.png")
    aggregate(root)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def report(tree):
    render(tree)
    return tree / "reports"


def _entry(root):
    return read_json(root / "results/tables/tokenizer.json")["tokenizer/fmnist32"]


def test_stage_1_table_lists_the_study_order_with_the_statistics_over_seeds_and_each_variants_codes(tree):
    entry = _entry(tree)
    table = entry["table"]
    assert [r["variant"] for r in table["rows"]] == ["vqgan", "vit-vqgan", "vit-vqgan+plain-codes"]
    assert table["metrics"] == ["rfid", "rfid_domain", "psnr_rec", "ssim_rec", "codebook_usage", "codebook_perplexity"]
    rows = {r["variant"]: r for r in table["rows"]}
    usage = rows["vit-vqgan"]["cells"]["codebook_usage"]
    assert usage["mean"] == pytest.approx(0.91) and usage["std"] == pytest.approx(np.std([0.90, 0.92], ddof=1))
    assert usage["rank"] == 1 and rows["vqgan"]["cells"]["codebook_usage"]["rank"] > 1  # higher is better
    assert rows["vqgan"]["cells"]["rfid"]["mean"] == pytest.approx(42.0)
    assert rows["vqgan"]["model"]["codes"] == "512 codes, plain 64-d" and rows["vqgan"]["model"]["train_subset"] is None
    assert rows["vit-vqgan"]["model"]["train_subset"] == 6000 and rows["vit-vqgan"]["model"]["disc_start_kimg"] == START
    generation = entry["generation"]
    assert generation["metrics"] == ["fid", "kid", "precision", "fid_domain", "sample_ms_per_image"]
    fid = {r["variant"]: r["cells"]["fid"]["mean"] for r in generation["rows"]}
    assert fid == pytest.approx({"vqgan": 61.0, "vit-vqgan": 50.5, "vit-vqgan+plain-codes": 56.0})
    assert generation["rows"][0]["model"]["prior"] == {"kimg": 2.0, "layers": 4, "lr": 3e-4}


def test_each_variants_model_does_not_split_the_table_but_how_it_was_measured_does(tree, tmp_path):
    pooled = read_json(tree / "results/tables/specs.json")["tokenizer/fmnist32"]
    assert pooled["tokenizer"] == {"n_test": 10000, "n_rfid": 500, "rfid": "the first n_rfid test reconstructions"}
    assert "seconds" not in pooled["sampling"] and pooled["sampling"]["top_p"] == 0.9
    _write_study_files(tmp_path)
    for seed, n_test in ((0, 10000), (1, 5000)):  # rFID, PSNR and the codebook over another test split: not pooled
        fake_run(tmp_path, "vqgan", seed, 0, study="tokenizer", dataset="fmnist32",
                 spec=tokenizer_spec("vqgan", seed, n_test=n_test), metrics={"rfid": 40.0})
    with pytest.raises(ResultsError, match="different metric specs"):
        aggregate(tmp_path)


def _holm(p_values):
    order = np.argsort(p_values)
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def test_factorized_against_plain_codes_pairs_seeds_and_claims_only_what_welch_and_holm_separate(tree):
    (pair,) = _entry(tree)["pairs"]
    assert (pair["factorized"], pair["plain"]) == ("vit-vqgan", "vit-vqgan+plain-codes")
    rows = {r["metric"]: r for r in pair["metrics"]}
    assert list(rows) == ["codebook_usage", "rfid", "rfid_domain"]
    f, p = TOKENIZER["vit-vqgan"], TOKENIZER["vit-vqgan+plain-codes"]
    assert [(s["seed"], s["difference"]) for s in rows["rfid"]["seeds"]] == [(0, -10.0), (1, 5.0)]
    raw = [stats.ttest_ind(f[m], p[m], equal_var=False).pvalue for m in rows]
    for (metric, row), expected in zip(rows.items(), _holm(raw), strict=True):
        assert row["difference"] == pytest.approx(np.mean(f[metric]) - np.mean(p[metric]))
        assert row["p_holm"] == pytest.approx(expected)
    assert rows["codebook_usage"]["outcome"] == "better" and "as the paper claims" in rows["codebook_usage"]["verdict"]
    assert "factorized codes higher by 50 percentage points" in rows["codebook_usage"]["verdict"]  # as shown, in %
    assert rows["rfid"]["outcome"] == "tied" and "cannot tell" in rows["rfid"]["verdict"]
    assert "every seed pair has factorized codes lower" in rows["rfid_domain"]["verdict"]  # 8 < 9 and 9 < 10
    assert "every seed pair" not in rows["rfid"]["verdict"]  # 30 < 40 but 50 > 45
    assert pair["verdict"].startswith("vit-vqgan against vit-vqgan+plain-codes (2 seeds per side)")
    assert "Not separated: rFID (Inception), rFID (domain)." in pair["verdict"]


def _runs(factorized, plain, metric="codebook_usage"):
    rows = [{"variant": v, "seed": s, metric: x} for v, xs in (("a", factorized), ("a+plain-codes", plain))
            for s, x in enumerate(xs)]
    return pd.DataFrame(rows)


def test_a_pair_the_test_cannot_separate_gets_no_verdict_and_one_seed_gets_no_test():
    pair = pair_comparison(_runs((0.5, 0.9), (0.4, 0.42)), "a", "a+plain-codes")
    assert pair["metrics"][0]["outcome"] == "tied"
    assert "cannot separate a from a+plain-codes" in pair["verdict"]
    assert "neither confirms nor refutes" in pair["verdict"]
    single = pair_comparison(_runs((0.9,), (0.4,)), "a", "a+plain-codes")
    assert single["metrics"][0]["outcome"] == "untested" and "too few for a test" in single["metrics"][0]["verdict"]
    assert "claims" not in single["metrics"][0]["verdict"]


def test_the_reconstruction_loss_across_d_start_leaves_out_the_point_that_straddles_it(tree):
    d_start = _entry(tree)["d_start"]
    by_run = {(r["variant"], r["seed"]): r for r in d_start["runs"]}
    assert list(by_run) == [(v, s) for v in TOKENIZER for s in SEEDS]  # the study file's order
    for (variant, seed), r in by_run.items():
        before = np.mean([rec(variant, seed, k) for k in (1.5, 2.0)])
        after = np.mean([rec(variant, seed, k) for k in (3.0, 3.5)])
        assert (r["before_kimg"], r["after_kimg"]) == ([1.5, 2.0], [3.0, 3.5])
        assert r["change"] == pytest.approx(after - before) and r["change"] == pytest.approx(JUMP[variant] - 0.075)
        assert r["disc_start_kimg"] == START and r["lambda"][0] == [0.5, 1.0]
    summary = {v["variant"]: v for v in d_start["variants"]}
    assert summary["vqgan"]["mean"] == pytest.approx(JUMP["vqgan"] - 0.075) and summary["vqgan"]["rose"] == 2
    assert summary["vit-vqgan+plain-codes"]["rose"] == 0
    late = around_start([{"kimg": 1.0, "rec": 0.4}, {"kimg": 2.0, "rec": 0.3}], 5.0)
    assert late["change"] is None and "after D's start at 5 kimg" in late["reason"]


def _section(root, study="leaderboard"):
    return next(s for s in leaderboard_sections(Tables(root)) if s["study"] == study and s["dataset"] == "fmnist32")


def test_the_leaderboard_shows_the_tokenizer_rows_unranked_beside_its_own(tree):
    section = _section(tree)
    rows = {r["variant"]: r for r in section["rows"]}
    guests = [v for v in rows if v.endswith("(tokenizer + prior)")]
    assert sorted(guests) == sorted(f"{v} (tokenizer + prior)" for v in TOKENIZER)
    first = [r["variant"] for r in section["rows"]]
    assert first[:2] == ["vit-vqgan (tokenizer + prior)", "vit-vqgan+plain-codes (tokenizer + prior)"]  # best FID
    guest = rows["vqgan (tokenizer + prior)"]
    assert guest["cells"][0]["mean"] == "61.00" and all(c["rank"] is None for c in guest["cells"])
    assert rows["sngan"]["cells"][0]["rank"] == 1  # the leaderboard's own ranks, as before
    assert guest["href"] == "tokenizer.html#fmnist32" and guest["families"] == ["tokenizer + prior"]
    assert any("study tokenizer" in line and "fid500_test2k" in line and "not ranked" in line
               for line in section["spec_lines"])


def test_the_leaderboard_leaves_the_tokenizer_rows_out_under_another_protocol(tmp_path):
    write_tree(tmp_path, n_gen=1000)  # the tokenizer's samples scored with N = 1000, the leaderboard's with 500
    section = _section(tmp_path)
    assert [r["variant"] for r in section["rows"]] == ["sngan", "dcgan"]
    (line,) = [s for s in section["spec_lines"] if "left out" in s]
    assert "FID (Inception): fid1k_test2k there, fid500_test2k here" in line


def test_same_protocol_compares_each_column_and_the_backbone_build():
    host, guest = image_spec(), image_spec()
    assert same_protocol(host, guest, ["fid", "kid", "fid_domain", "data_copying_domain"]) == (
        ["fid", "kid", "fid_domain"], [])  # a column outside the protocol grammar is not filled
    guest["backbones"]["domain"]["weights_sha256"] = "other"
    columns, differences = same_protocol(host, guest, ["fid", "fid_domain", "kid_domain"])
    assert columns == ["fid"] and differences == ["the domain backbone: other weights, resize, reference set or "
                                                  "KID subsets"]
    assert same_protocol(host, image_spec(n_ref=5000), ["fid"])[1] == ["FID (Inception): fid500_test5k there, "
                                                                       "fid500_test2k here"]


def test_the_page_has_the_tables_the_verdict_the_curves_and_each_runs_images(report):
    page = (report / "tokenizer.html").read_text()
    assert '<h2 id="fmnist32">' in page and "rFID (Inception) ↓" in page and "codebook usage % ↑" in page
    assert "<b>91.0 ± 1.4</b>" in page  # vit-vqgan's codebook usage, tied best, in %
    assert "512 codes, factorized 32-d, l2-normalised" in page and ">all<" in page and ">6,000<" in page
    assert "vit-vqgan against vit-vqgan+plain-codes (2 seeds per side)" in page
    assert "s0: 30.0 vs 40.0" in page and "sampling cost ms ↓" in page and "lr 0.0003" in page  # the prior's
    assert "over all 10,000 test images; rFID from the first 500 reconstructions" in page
    assert page.count("<svg") == 3 * 2 + 3  # rec and lambda per variant, the prior's loss per variant
    assert "D starts, 2.25 kimg" in page and "rec rose in 2 of 2 seeds" in page
    assert page.count('<img class="reconstructions"') == 6 and page.count('<img class="samples"') == 6
    assert page.index("reconstructions of vqgan, seed 0") < page.index("reconstructions of vit-vqgan, seed 0")
    index = (report / "index.html").read_text()
    assert 'href="tokenizer.html"' in index and "vqgan (tokenizer + prior)" in index


def test_the_page_and_the_leaderboard_load_offline_in_the_browser(browser, report):
    for name in ("tokenizer.html", "index.html"):
        assert page_problems(browser, report / name) == [], name


def test_runs_json_names_each_runs_reconstructions(tree):
    runs = json.loads((tree / "results/tables/runs.json").read_text())
    named = {r["variant"]: r["reconstructions"] for r in runs if r["seed"] == 0}
    assert named["vqgan"] == "results/tokenizer/fmnist32/vqgan/s0/eval/reconstructions.png"
    assert named["dcgan"] is None


def test_a_diverged_seed_is_counted_described_from_the_others_and_the_page_still_renders(tmp_path):
    _write_study_files(tmp_path)
    fake_run(tmp_path, "vit-vqgan", 2, 0, study="tokenizer", dataset="fmnist32",
             diverged={"kimg": 1.0, "step": 10, "reason": "rec = nan"})
    write_tree(tmp_path)
    entry = _entry(tmp_path)
    row = next(r for r in entry["table"]["rows"] if r["variant"] == "vit-vqgan")
    assert (row["n_seeds"], row["n_diverged"]) == (3, 1) and row["model"]["train_subset"] == 6000
    assert row["cells"]["codebook_usage"]["rank"] is None  # a variant with a diverged seed is not ranked
    usage = entry["pairs"][0]["metrics"][0]
    assert [s["seed"] for s in usage["seeds"]] == [0, 1] and usage["factorized"]["n"] == 2
    diverged = next(r for r in entry["d_start"]["runs"] if r["seed"] == 2)
    assert diverged["change"] is None and diverged["reason"] == "the spec states no D start"
    render(tmp_path)
    assert "1 diverged" in (tmp_path / "reports/tokenizer.html").read_text()
