"""The translation study's tables (kind `translation`): per task, every method's translation metrics over seeds, and
pix2pix's objective ablation in the layout of Isola et al. 2017's Table 1.

A task's rows are the study file's variants in its order; its columns the metrics the task defines (TASK_METRICS
order), each a mean, std and 95% CI over seeds with the summary's tied rank (1: best, or not separable from the
best at alpha 0.05; bench/tables/stats.py). Table 1's rows are the objectives L1, cGAN and L1 + cGAN (`pix2pix-l1`,
`pix2pix-gan`, `pix2pix`) and a ground-truth row: the same classifier's score of the real targets, which is the
ceiling of the FCN-score analogue (content kept), as the paper's "Ground truth" row is of its FCN-scores.
"""

from __future__ import annotations

import json

import pandas as pd

TASK_METRICS = ("fid_domain", "kid_domain", "fid", "kid", "l1_truth", "psnr_truth", "ssim_truth",
                "content_accuracy_domain", "target_success_domain", "cycle_l1", "diversity_l1")
OBJECTIVES = (("pix2pix-l1", "L1"), ("pix2pix-gan", "cGAN"), ("pix2pix", "L1 + cGAN"))
# Table 1's columns: the FCN-score analogue first, as the paper's table is of FCN-scores, then realism and fidelity
ABLATION_METRICS = ("content_accuracy_domain", "fid_domain", "l1_truth", "ssim_truth", "diversity_l1")
TRUTH_KEYS = ("truth_content_accuracy_domain", "truth_target_success_domain")  # evaluate's spec: the real targets


def _cell(row: pd.Series, metric: str) -> dict | None:
    if pd.isna(row.get(f"{metric}_mean")):
        return None
    return {key: (None if pd.isna(row.get(f"{metric}_{key}")) else float(row[f"{metric}_{key}"]))
            for key in ("mean", "std", "ci_low", "ci_high", "n", "rank")}


def method_table(summary: pd.DataFrame, listed: list[str] = ()) -> dict:
    """One task's table from its summary rows (one study x dataset): the variants in the study file's order
    (`listed`, any other after), the metrics any of them measured, and per variant its cells."""
    variants = [v for v in listed if v in set(summary["variant"])]
    variants += sorted(set(summary["variant"]) - set(variants))
    metrics = [m for m in TASK_METRICS if f"{m}_mean" in summary and summary[f"{m}_mean"].notna().any()]
    rows = []
    for variant in variants:
        row = summary[summary["variant"] == variant].iloc[0]
        rows.append({"variant": variant, "n_seeds": int(row["n_seeds"]), "n_diverged": int(row["n_diverged"]),
                     "cells": {m: _cell(row, m) for m in metrics}})
    return {"metrics": metrics, "rows": rows}


def ground_truth(runs: pd.DataFrame) -> dict[str, float]:
    """The classifier's score of the real targets, from the runs' metric spec (the same for every run of a task:
    the domain reference's n_ref test targets), keyed by the metric it bounds (`content_accuracy_domain`, ...)."""
    for spec in runs["spec"].dropna():
        translation = json.loads(spec).get("translation") or {}
        found = {key.removeprefix("truth_"): float(translation[key]) for key in TRUTH_KEYS if key in translation}
        if found:
            return found
    return {}


def objective_ablation(table: dict, truth: dict[str, float]) -> dict | None:
    """Table 1's rows (L1, cGAN, L1 + cGAN, ground truth) and columns (ABLATION_METRICS the task measured) from a
    task's method table; None unless at least two of the objectives ran on the task."""
    by_variant = {row["variant"]: row for row in table["rows"]}
    present = [(variant, label) for variant, label in OBJECTIVES if variant in by_variant]
    if len(present) < 2:
        return None
    metrics = [m for m in ABLATION_METRICS if m in table["metrics"]]
    rows = [{**by_variant[variant], "objective": label, "cells": {m: by_variant[variant]["cells"][m] for m in metrics}}
            for variant, label in present]
    rows.append({"objective": "ground truth", "variant": None,
                 "cells": {m: ({"mean": truth[m]} if m in truth else None) for m in metrics}})
    return {"metrics": metrics, "rows": rows}
