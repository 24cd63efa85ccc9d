"""Ablation tables in the format of StyleGAN2's Table 1: configurations in the study file's order, each
adding one change to the row above; per row the FID over seeds, the change against the row above with
its bootstrap CI and whether a Welch test over seeds separates the two (Holm-corrected over the table's
steps), the measured cost per run, and the paper's number as a separate, labeled reference column.

Reads the runs table of the aggregate stage; writes plain data for the report (results/tables/ablations.json).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.measurement import catalog
from bench.tables.compare import ALPHA, difference_ci, welch_p
from bench.tables.published import PUBLISHED_STYLEGAN2_TABLE1
from bench.tables.stats import holm, summarize

ABLATION_METRICS = ("fid", "fid_domain")  # one table per FID backbone


def _nan_to_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _steps(rows: list[dict], values: list[np.ndarray]) -> None:
    """Fill each row's change against the row above (the first row has none)."""
    p_raw = [welch_p(values[i], values[i - 1]) for i in range(1, len(values))]
    testable = [i for i, p in enumerate(p_raw) if not math.isnan(p)]
    adjusted = dict(zip(testable, holm([p_raw[i] for i in testable]), strict=True)) if testable else {}
    for i in range(1, len(rows)):
        low, high = difference_ci(values[i], values[i - 1])
        p_holm = adjusted.get(i - 1, math.nan)
        rows[i]["change"] = {
            "diff": float(values[i].mean() - values[i - 1].mean()) if len(values[i]) and len(values[i - 1])
            else None,
            "ci_low": _nan_to_none(low), "ci_high": _nan_to_none(high),
            "p": _nan_to_none(p_raw[i - 1]), "p_holm": _nan_to_none(p_holm),
            "separable": bool(not math.isnan(p_holm) and p_holm < ALPHA),
        }


def ablation_table(block: pd.DataFrame, order: list[str], metric: str) -> list[dict]:
    rows, values = [], []
    for variant in order:
        group = block[block["variant"] == variant]
        x = group[metric].dropna().to_numpy(dtype=np.float64)
        stats = summarize(x.tolist())
        letter = variant.rsplit("-", 1)[-1] if variant.startswith("stylegan2-") else None
        rows.append({
            "variant": variant, "config": letter.upper() if letter else variant,
            "n_seeds": int(len(x)), "seeds": sorted(int(s) for s in group["seed"]),
            **{k: _nan_to_none(stats[k]) for k in ("mean", "std", "ci_low", "ci_high")},
            "change": None,
            "cost": {"kimg": _nan_to_none(group["kimg"].mean()), "wall_s": _nan_to_none(group["wall_s"].mean()),
                     "gflop": _nan_to_none(group["flops_total"].mean() / 1e9),
                     "device": ", ".join(sorted(set(group["device"].dropna())))},
            "published": PUBLISHED_STYLEGAN2_TABLE1.get(letter) if letter else None,
        })
        values.append(x)
    _steps(rows, values)
    return rows


def ablation_tables(runs: pd.DataFrame, studies: dict) -> dict:
    """`study/dataset` -> {study, dataset, title, tables: [{metric, label, rows}]} for every ablation study."""
    out = {}
    for name, info in studies.items():
        if info.get("kind") != "ablation":
            continue
        for dataset, order in (info.get("datasets") or {}).items():
            block = runs[(runs["study"] == name) & (runs["dataset"] == dataset)]
            if block.empty:
                continue
            order = [v for v in order if v in set(block["variant"])]  # rows the profile ran
            tables = [{"metric": metric, "label": catalog.metric(metric).heading,
                       "rows": ablation_table(block, order, metric)}
                      for metric in ABLATION_METRICS if block[metric].notna().any()]
            out[f"{name}/{dataset}"] = {"study": name, "dataset": dataset, "title": info.get("title", name),
                                        "alpha": ALPHA, "tables": tables}
    return out
