"""The tokenizer study's tables (kind `tokenizer`: VQ-GAN, ViT-VQGAN). Stage 1 is an autoencoder with a codebook,
stage 2 a transformer prior over its codes whose samples are decoded into images; both are scored per dataset.

Per study x dataset (results/tables/tokenizer.json, written by the aggregate stage):
- `table`: stage 1 per variant (the study file's order): rFID on each backbone, PSNR and SSIM of the test split's
  reconstructions, codebook usage and perplexity over the whole test split, each the summary's mean, std, 95% CI
  and tied rank over seeds (bench/tables/aggregate.py `summarize_runs`), beside what the run's spec says of its
  codes (`codes`, `n_codes`, `grid`, `family`), the train images stage 1 saw and when its D started;
- `pairs`: the ViT-VQGAN paper's claim that factorized, l2-normalised codes raise codebook usage and lower rFID,
  measured as each variant X against X+plain-codes: per metric the seeds side by side (paired by seed, shown),
  the difference of means with its bootstrap CI and a Welch test over seeds, Holm-corrected over the pair's
  metrics (bench/tables/compare.py: the harness has no paired test), and a verdict that claims no more than the
  test separates;
- `generation`: the prior's decoded samples scored as every generator is (FID, KID, P/R, D/C, IS per backbone)
  and the sampling cost per image, with the prior's settings;
- `d_start`: per run the stage-1 reconstruction loss and VQ-GAN's adaptive weight lambda over kimg with the kimg
  at which D started, and the change of the reconstruction loss across the start: the mean of the last
  BEFORE_AFTER curve points before it against the first BEFORE_AFTER after it (descriptive, no test). A curve
  point holds the means since the previous point, so a point whose interval holds the start is neither;
- `prior_curves`: the prior's cross-entropy over its kimg, per run.

`leaderboard_guests` picks a tokenizer study's rows for the default leaderboard of the same dataset: only when every
column they would fill was measured under the same metric protocol (bench/measurement/protocols.py: N, reference
split and size) on the same backbone (weights, resize, reference set, KID subsets).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measurement import catalog, protocols
from bench.protocol.io import read_json
from bench.protocol.names import VariantName
from bench.tables.compare import ALPHA, difference_ci, probability_of_improvement, verdict, welch_p
from bench.tables.stats import holm, summarize

KIND = "tokenizer"
TOKENIZER_METRICS = ("rfid", "rfid_domain", "psnr_rec", "ssim_rec", "codebook_usage", "codebook_perplexity")
SAMPLING_COST = "sample_ms_per_image"  # the prior's sampling and decoding per image: a column of the generation table
PAIR_METRICS = ("codebook_usage", "rfid", "rfid_domain")  # what the ViT-VQGAN paper claims factorized codes improve
PLAIN_OPTION = "plain-codes"
# of the spec's tokenizer block, what describes each variant's model (the rest says how its metrics were measured)
MODEL_KEYS = ("family", "codes", "n_codes", "grid", "train_subset", "train_kimg", "disc_start_kimg", "prior")
BEFORE_AFTER = 2  # curve points on each side of D's start
HOST_STUDY = "leaderboard"  # the leaderboard a tokenizer study's generation rows join
BACKBONE_IDENTITY = ("backbone", "weights_sha256", "resize", "normalization", "reference", "kid")


def pooled_spec(spec: dict) -> dict:
    """A metric spec without what differs between the runs of one tokenizer table by design: the tokenizer block's
    description of each variant's model (MODEL_KEYS). What stays says how the metrics were measured (test images,
    rFID's N, sampling settings), which the runs of a table share."""
    out = dict(spec)
    if isinstance(out.get(KIND), dict):
        out[KIND] = {k: v for k, v in out[KIND].items() if k not in MODEL_KEYS}
    return out


def generation_metrics() -> list[str]:
    """The catalog's sample metrics under the protocol grammar (FID, KID, P/R, D/C, IS on each backbone), in table
    order, then the sampling cost."""
    def family(name: str) -> str | None:
        info = catalog.metric(name)
        base = name if info.backbone == "inception" else name.removesuffix(f"_{info.backbone}")
        return protocols.FAMILY_OF_METRIC.get(base)

    return [m for m in catalog.summarized() if family(m)] + [SAMPLING_COST]


def _finite(value) -> float | None:
    return None if value is None or pd.isna(value) or not math.isfinite(float(value)) else float(value)


def _cell(row: pd.Series, metric: str) -> dict | None:
    if _finite(row.get(f"{metric}_mean")) is None:
        return None
    return {key: _finite(row.get(f"{metric}_{key}")) for key in ("mean", "std", "ci_low", "ci_high", "n", "rank")}


def metric_table(block: pd.DataFrame, listed: list[str], metrics: list[str]) -> dict:
    """Rows: the variants in the study file's order (any other after); columns: those of `metrics` any of them
    measured; cells: the summary's statistics of each."""
    variants = [v for v in listed if v in set(block["variant"])]
    variants += sorted(set(block["variant"]) - set(variants))
    shown = [m for m in metrics if f"{m}_mean" in block and block[f"{m}_mean"].notna().any()]
    rows = []
    for variant in variants:
        row = block[block["variant"] == variant].iloc[0]
        rows.append({"variant": variant, "n_seeds": int(row["n_seeds"]), "n_diverged": int(row["n_diverged"]),
                     "cells": {m: _cell(row, m) for m in shown}})
    return {"metrics": shown, "rows": rows}


def run_tokenizer_spec(root: Path, run: str) -> dict:
    """The tokenizer block of one run's metric spec, whole (the tables' pooled spec leaves out MODEL_KEYS)."""
    return read_json(root / "results" / run / "eval" / "metrics.json")["spec"].get(KIND) or {}


def _described(specs: list[dict]) -> dict:
    """What the spec says of a variant's model (its first seed's with a tokenizer block, as a diverged run has none:
    the seeds share the config); a key the spec does not state is left out (a `train_subset` of None means the
    whole train split)."""
    first = next((spec for spec in specs if spec), {})
    return {k: first[k] for k in (*MODEL_KEYS, "n_test", "n_rfid") if k in first}


# --- factorized against plain codes ---

def code_pairs(variants: list[str]) -> list[tuple[str, str]]:
    """(X, X+plain-codes) for every variant with the plain-codes option whose partner without it ran too."""
    pairs = []
    for name in variants:
        parsed = VariantName.parse(name)
        if PLAIN_OPTION in parsed.options:
            partner = str(VariantName(parsed.base, tuple(o for o in parsed.options if o != PLAIN_OPTION),
                                      parsed.sample))
            if partner in variants:
                pairs.append((partner, name))
    return pairs


def _direction(diff: float) -> str:
    return "higher" if diff > 0 else "lower" if diff < 0 else "the same"


def _metric_verdict(row: dict) -> tuple[str, str]:
    """(outcome, words) of one metric of a pair: `better`/`worse` for factorized codes where the Holm-corrected Welch
    test separates the sides, `tied` where it does not, `untested` with fewer than 2 seeds on a side."""
    label, n_f, n_p = row["label"], row["factorized"]["n"], row["plain"]["n"]
    if n_f < 2 or n_p < 2:
        return "untested", (f"{label}: {n_f} and {n_p} seeds, too few for a test; the difference is not evidence "
                            "either way")
    p = f"Welch p = {row['p_holm']:.2g}, Holm-corrected over {row['n_comparisons']} metrics"
    outcome = verdict(row["difference"], row["p_holm"], row["lower_is_better"])
    if outcome == "tied":
        signs = {np.sign(d["difference"]) for d in row["seeds"]}
        same_side = (f"; every seed pair has factorized codes {_direction(row['difference'])}, which more seeds may "
                     "separate") if len(signs) == 1 and 0 not in signs else ""
        return "tied", (f"{label}: not separable with {n_f} and {n_p} seeds ({p}): the study cannot tell the codes "
                        f"apart{same_side}")
    agrees = "as the paper claims" if outcome == "better" else "against the paper's claim"
    info = catalog.metric(row["metric"])
    unit = {"%": " percentage points", "": ""}.get(info.unit, f" {info.unit}")
    return outcome, (f"{label}: factorized codes {_direction(row['difference'])} by "
                     f"{abs(row['difference']) * info.scale:.3g}{unit} ({p}), {agrees}")


def pair_comparison(block: pd.DataFrame, factorized: str, plain: str, alpha: float = ALPHA) -> dict:
    """Factorized against plain codes on PAIR_METRICS (see the module docstring); `block`: one table's runs."""
    rows = []
    for metric in PAIR_METRICS:
        if metric not in block:
            continue
        sides = [block[(block["variant"] == v) & block[metric].notna()].set_index("seed")[metric].astype(float)
                 for v in (factorized, plain)]
        if sides[0].empty or sides[1].empty:
            continue
        a, b = sides[0].to_numpy(), sides[1].to_numpy()
        info = catalog.metric(metric)
        low, high = difference_ci(a, b)
        rows.append({
            "metric": metric, "label": info.heading, "lower_is_better": bool(info.lower_is_better),
            "factorized": summarize(a), "plain": summarize(b),
            "seeds": [{"seed": int(s), "factorized": float(sides[0][s]), "plain": float(sides[1][s]),
                       "difference": float(sides[0][s] - sides[1][s])}
                      for s in sorted(set(sides[0].index) & set(sides[1].index))],
            "difference": float(a.mean() - b.mean()), "difference_ci": [low, high], "p": welch_p(a, b),
            "p_improvement": probability_of_improvement(a, b, bool(info.lower_is_better))})
    adjusted = holm([1.0 if math.isnan(r["p"]) else r["p"] for r in rows]) if rows else []
    for row, p_holm in zip(rows, adjusted, strict=True):
        row["p_holm"] = math.nan if math.isnan(row["p"]) else p_holm
        row["n_comparisons"] = len(rows)
        row["outcome"], row["verdict"] = _metric_verdict(row)
    return {"factorized": factorized, "plain": plain, "alpha": alpha, "metrics": rows,
            "verdict": _pair_verdict(factorized, plain, rows)}


def _pair_verdict(factorized: str, plain: str, rows: list[dict]) -> str:
    """One paragraph from the numbers: what separated, and that the rest is not shown either way."""
    if not rows:
        return f"{factorized} and {plain} share no measured metric of the claim."
    separated = [r for r in rows if r["outcome"] in ("better", "worse")]
    seeds = "/".join(sorted({str(r["factorized"]["n"]) for r in rows} | {str(r["plain"]["n"]) for r in rows}))
    if not separated:
        return (f"With {seeds} seeds per side the study cannot separate {factorized} from {plain} on "
                f"{', '.join(r['label'] for r in rows)}: it neither confirms nor refutes the ViT-VQGAN paper's claim "
                "that factorized, l2-normalised codes raise codebook usage and lower rFID.")
    parts = [f"{r['verdict']}." for r in separated]
    rest = [r["label"] for r in rows if r not in separated]
    if rest:
        parts.append(f"Not separated: {', '.join(rest)}.")
    return f"{factorized} against {plain} ({seeds} seeds per side): " + " ".join(parts)


# --- the reconstruction loss across D's start ---

def around_start(points: list[dict], start: float | None) -> dict:
    """The points before and after D's start at `start` kimg (see the module docstring) and the change of the
    mean reconstruction loss across it; `change` None with a `reason` where a side has no point."""
    ordered = sorted(points, key=lambda p: p["kimg"])
    before, after, previous = [], [], 0.0
    for point in ordered:
        if isinstance(point.get("rec"), int | float) and start is not None:
            if point["kimg"] <= start:
                before.append(point)
            elif previous >= start:
                after.append(point)
        previous = point["kimg"]
    before, after = before[-BEFORE_AFTER:], after[:BEFORE_AFTER]
    out = {"before_kimg": [p["kimg"] for p in before], "after_kimg": [p["kimg"] for p in after],
           "before": None, "after": None, "change": None, "relative": None, "reason": None}
    if start is None:
        out["reason"] = "the spec states no D start"
        return out
    if not before or not after:
        side = "before" if not before else "after"
        out["reason"] = f"no curve point with the reconstruction loss {side} D's start at {start:g} kimg"
        return out
    out["before"] = float(np.mean([p["rec"] for p in before]))
    out["after"] = float(np.mean([p["rec"] for p in after]))
    out["change"] = out["after"] - out["before"]
    out["relative"] = out["change"] / out["before"] if out["before"] else None
    return out


def _signal(points: list[dict], key: str) -> list[list[float]]:
    return [[float(p["kimg"]), float(p[key])] for p in sorted(points, key=lambda p: p["kimg"])
            if isinstance(p.get(key), int | float) and math.isfinite(p[key])]


def in_order(block: pd.DataFrame, listed: list[str]) -> pd.DataFrame:
    """A table's runs by the study file's order of variants (any other after, by name), then seed."""
    rank = {v: i for i, v in enumerate(listed)}
    return block.assign(_order=[rank.get(v, len(rank)) for v in block["variant"]]).sort_values(
        ["_order", "variant", "seed"]).drop(columns="_order")


def d_start_runs(root: Path, block: pd.DataFrame, specs: dict[str, dict]) -> list[dict]:
    """Per run (one table's, in its order; `specs`: run -> its tokenizer block): rec, lambda and gan_factor over
    kimg and `around_start`."""
    out = []
    for _, run in block.iterrows():
        path = root / str(run["losses"])
        points = read_json(path).get("points", []) if path.is_file() else []
        start = specs.get(run["run"], {}).get("disc_start_kimg")
        out.append({"variant": run["variant"], "seed": int(run["seed"]), "disc_start_kimg": start,
                    "rec": _signal(points, "rec"), "lambda": _signal(points, "lambda"),
                    "gan_factor": _signal(points, "gan_factor"), **around_start(points, start)})
    return out


def d_start_summary(per_run: list[dict]) -> list[dict]:
    """Per variant: the change across D's start over its seeds (mean, std, CI) and in how many it rose."""
    out = []
    for variant in dict.fromkeys(r["variant"] for r in per_run):
        changes = [r["change"] for r in per_run if r["variant"] == variant and r["change"] is not None]
        relative = [r["relative"] for r in per_run if r["variant"] == variant and r["relative"] is not None]
        out.append({"variant": variant, "n": len(changes), "rose": sum(c > 0 for c in changes),
                    **{k: _finite(v) for k, v in summarize(changes).items() if k != "n"},
                    "relative_mean": float(np.mean(relative)) if relative else None})
    return out


def prior_curves(root: Path, block: pd.DataFrame) -> list[dict]:
    """Per run with a prior/curve.json (one table's, in its order): the prior's cross-entropy over its kimg."""
    out = []
    for _, run in block.iterrows():
        path = root / "results" / run["run"] / "prior" / "curve.json"
        if path.is_file():
            out.append({"variant": run["variant"], "seed": int(run["seed"]),
                        "loss": _signal(read_json(path).get("points", []), "loss")})
    return out


# --- the study's tables ---

def tokenizer_tables(runs: pd.DataFrame, summary: pd.DataFrame, studies: dict, root: Path) -> dict:
    """`study/dataset` -> the tables of the module docstring, for every study of kind `tokenizer`."""
    out = {}
    for name, info in studies.items():
        if info.get("kind") != KIND:
            continue
        for dataset, block in summary[summary["study"] == name].groupby("dataset", sort=True):
            listed = (info.get("datasets") or {}).get(dataset, [])
            block_runs = in_order(runs[(runs["study"] == name) & (runs["dataset"] == dataset)], listed)
            specs = {r: run_tokenizer_spec(root, r) for r in block_runs["run"]}
            table = metric_table(block, listed, list(TOKENIZER_METRICS))
            generation = metric_table(block, listed, generation_metrics())
            for row in (*table["rows"], *generation["rows"]):
                row["model"] = _described([specs[r] for r in block_runs.loc[block_runs["variant"] == row["variant"],
                                                                             "run"]])
            per_run = d_start_runs(root, block_runs, specs)
            measured = block_runs[~block_runs["diverged"]]
            pairs = code_pairs([r["variant"] for r in table["rows"]])
            out[f"{name}/{dataset}"] = {
                "study": name, "dataset": dataset, "title": info.get("title", name),
                "table": table, "generation": generation,
                "pairs": [pair_comparison(measured, factorized, plain) for factorized, plain in pairs],
                "d_start": {"runs": per_run, "variants": d_start_summary(per_run), "points": BEFORE_AFTER},
                "prior_curves": prior_curves(root, block_runs)}
    return out


# --- the rows a leaderboard takes from a tokenizer study ---

def _identity(spec: dict, backbone: str) -> dict:
    how = (spec.get("backbones") or {}).get(backbone) or {}
    return {k: how.get(k) for k in BACKBONE_IDENTITY}


def same_protocol(host: dict, guest: dict, metrics: list[str]) -> tuple[list[str], list[str]]:
    """(the columns of `metrics` a guest table's rows may fill, the differences that keep them out), comparing the
    two tables' metric specs. A column outside the protocol grammar (no protocol name) is not compared: guests
    leave it empty. A column the guest measured under another protocol name, or on another backbone build, is a
    difference, and one difference keeps every guest row out: never a mixed table."""
    columns, differences, backbones = [], [], set()
    for metric in metrics:
        info = catalog.metric(metric)
        ours = protocols.of_column(metric, info.backbone, host)
        if ours is None:
            continue
        theirs = protocols.of_column(metric, info.backbone, guest)
        if theirs != ours:
            differences.append(f"{info.heading}: {theirs or 'no protocol stated'} there, {ours} here")
            continue
        if _identity(host, info.backbone) != _identity(guest, info.backbone):
            if info.backbone not in backbones:
                differences.append(f"the {info.backbone} backbone: other weights, resize, reference set or KID "
                                   "subsets")
                backbones.add(info.backbone)
            continue
        columns.append(metric)
    return columns, differences


def leaderboard_guests(summary: pd.DataFrame, specs: dict, kinds: dict, study: str, dataset: str,
                       metrics: list[str]) -> list[dict]:
    """For the default leaderboard `study` x `dataset` (HOST_STUDY only; `metrics`: its columns): each tokenizer
    study's summary rows of the dataset (its file's order), the columns they fill and the protocol differences that
    keep them out (rows then empty)."""
    if study != HOST_STUDY or f"{study}/{dataset}" not in specs:
        return []
    out = []
    for name in sorted(n for n, info in kinds.items() if info.get("kind") == KIND):
        block = summary[(summary["study"] == name) & (summary["dataset"] == dataset)]
        if block.empty:
            continue
        measured = [m for m in metrics if f"{m}_mean" in block and block[f"{m}_mean"].notna().any()]
        columns, differences = same_protocol(specs[f"{study}/{dataset}"], specs.get(f"{name}/{dataset}", {}),
                                             measured)
        order = {v: i for i, v in enumerate((kinds[name].get("datasets") or {}).get(dataset, []))}
        rows = block.iloc[sorted(range(len(block)), key=lambda i: order.get(block["variant"].iloc[i], len(order)))]
        out.append({"study": name, "columns": [] if differences else columns, "differences": differences,
                    "rows": rows.iloc[:0] if differences or not columns else rows})
    return out
