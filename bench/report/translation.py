"""The translation study's page: per task, what it asks and how it is scored, the methods' metrics over seeds
(bench/tables/translation.py), pix2pix's objective ablation in the layout of Isola et al. 2017's Table 1, and each
run's input / output / ground-truth grid."""

from __future__ import annotations

import pandas as pd

from bench.measurement import catalog
from bench.report.format import fmt
from bench.report.site import variant_href
from bench.tables.translation import ground_truth, method_table, objective_ablation


def _digits(metric: str) -> int:
    """FID, KID (x10^3) and percentages to 0.1, PSNR (dB) to 0.01, the [0, 1] distances and SSIM to 0.001."""
    info = catalog.metric(metric)
    if metric.startswith(("fid", "kid")) or info.scale == 100.0:
        return 1
    return 2 if info.unit == "dB" else 3


def _truth_line(metric: str, value: float) -> str:
    """The classifier's score of the real targets, e.g. "real targets: content kept 92.9 %" (the metric's ceiling)."""
    info = catalog.metric(metric)
    return f"real targets: {info.label} {fmt(value, info.scale, _digits(metric))} {info.unit}".rstrip()


def _header(metric: str) -> dict:
    info = catalog.metric(metric)
    arrow = {True: " ↓", False: " ↑", None: ""}[info.lower_is_better]
    return {"metric": metric, "label": info.heading + arrow, "description": info.description}


def _shown(metric: str, cell: dict | None) -> dict | None:
    """A cell as text: mean ± std, its 95% CI, and whether its tied rank is 1 (best or not separable from it)."""
    if cell is None:
        return None
    info, digits = catalog.metric(metric), _digits(metric)
    text = fmt(cell["mean"], info.scale, digits)
    if cell.get("std") is not None:
        text += f" ± {fmt(cell['std'], info.scale, digits)}"
    ci = (f"[{fmt(cell['ci_low'], info.scale, digits)}, {fmt(cell['ci_high'], info.scale, digits)}]"
          if cell.get("ci_low") is not None else "")
    ranked = info.lower_is_better is not None  # a companion value (output diversity) has no best
    return {"text": text, "ci": ci, "best": ranked and cell.get("rank") == 1, "sort": cell["mean"]}


def _rows(table: dict) -> list[dict]:
    return [{"label": row.get("objective", row["variant"]), "variant": row["variant"],
             "href": variant_href(row["variant"]) if row["variant"] else None,
             "n_seeds": row.get("n_seeds"), "n_diverged": row.get("n_diverged", 0),
             "cells": [_shown(m, row["cells"].get(m)) for m in table["metrics"]]} for row in table["rows"]]


def translation_sections(study: str, summary: pd.DataFrame, runs: pd.DataFrame, images, specs: dict,
                         listed: dict[str, list[str]]) -> list[dict]:
    """`specs`: the tables' metric spec per study/dataset; `listed`: the study file's variants per dataset."""
    sections = []
    for dataset, block in summary[summary["study"] == study].groupby("dataset", sort=True):
        block_runs = runs[(runs["study"] == study) & (runs["dataset"] == dataset)]
        table = method_table(block, listed.get(dataset, []))
        truth = ground_truth(block_runs)
        ablation = objective_ablation(table, truth)
        how = specs.get(f"{study}/{dataset}", {})
        translation = how.get("translation", {})
        order = {v: k for k, v in enumerate(r["variant"] for r in table["rows"])}
        grids = [{"variant": r["variant"], "seed": int(r["seed"]), "src": images(r["translations"])}
                 for _, r in block_runs.sort_values("seed").iterrows()
                 if isinstance(r.get("translations"), str) and r["translations"]]
        grids.sort(key=lambda g: (order.get(g["variant"], len(order)), g["seed"]))
        sections.append({
            "dataset": dataset, "task": translation.get("task", dataset),
            "ground_truth": translation.get("ground_truth", ""), "n": translation.get("n", how.get("n_gen")),
            "grid_caption": translation.get("grid", ""), "kimg": _kimg(block_runs),
            "headers": [_header(m) for m in table["metrics"]], "rows": _rows(table),
            "ablation": ({"headers": [_header(m) for m in ablation["metrics"]], "rows": _rows(ablation)}
                         if ablation else None),
            "truth": [_truth_line(m, v) for m, v in truth.items()],
            "grids": grids})
    return sections


def _kimg(runs: pd.DataFrame) -> str:
    values = sorted({float(k) for k in runs["kimg"].dropna()})
    return ", ".join(f"{k:g}" for k in values) or "–"

