"""The data-alignment study's table: each variant on a centred dataset and on its unaligned copy.

The unaligned runs are the alignment study's own; the aligned side is its `versus` study's runs of the same
variant on the unaligned set's source (fmnist32 for fmnist32-unaligned), so nothing trains twice. Per metric
(FID on each backbone, each against its own dataset's reference; EQ-T where the generator translates) the two
sides' mean, std and 95% bootstrap CI over seeds, and the change unaligned - aligned with the bootstrap CI of
the difference and a Welch test. An FID is on its own dataset's scale (the unaligned set's small, varied items
sit closer together in a classifier's features, so every FID there is smaller), so the table also gives a
scale-free one: each run's domain FID at its last curve point over its FID at initialisation (the same N and
latents, from eval/curve.json), the share of the distance to its data that training left. The two sides are
compared only where they were trained under the same budget and scored under the same metric protocol
(bench/measurement/protocols.py); otherwise the row says why.

Reads the runs table of the aggregate stage; writes plain data for the report (results/tables/alignment.json).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.datasets import UnalignedSpec, spec
from bench.measurement import catalog, protocols
from bench.protocol.io import read_json
from bench.tables.compare import ALPHA, difference_ci, welch_p
from bench.tables.stats import summarize

ALIGNMENT_METRICS = ("fid", "fid_domain", "fid_domain_vs_init", "eq_t", "eq_t_frac")
OWN_SCALE = ("fid", "fid_domain")  # each side against its own dataset: a change is a direction, not a verdict
RATIO = "fid_domain_vs_init"  # final / initial domain FID on the curve (not a catalog metric: computed here)


def _finite(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _side(values: np.ndarray, seeds: list[int]) -> dict:
    stats = summarize(values.tolist())
    return {"n_seeds": int(len(values)), "seeds": seeds,
            **{k: _finite(stats[k]) for k in ("mean", "std", "ci_low", "ci_high")}}


def _label(metric: str) -> tuple[str, bool]:
    if metric == RATIO:
        return "FID (domain), last curve point / at init", True
    return catalog.metric(metric).heading, bool(catalog.metric(metric).lower_is_better)


def curve_ratio(root: Path, curve: str) -> tuple[float, int | None]:
    """A run's domain FID at its last curve point over its first (kimg 0), and the curve's N."""
    path = root / curve
    if not path.is_file():
        return math.nan, None
    data = read_json(path)
    points = [p for p in data.get("points", []) if p.get("fid_domain") is not None]
    if data.get("metric") != "fid_domain" or len(points) < 2 or points[0]["kimg"] != 0 or not points[0]["fid_domain"]:
        return math.nan, None
    return float(points[-1]["fid_domain"] / points[0]["fid_domain"]), data.get("n")


def _with_curve_ratio(block: pd.DataFrame, root: Path) -> pd.DataFrame:
    """The block with each run's curve ratio and curve N (only this table's runs read their curves)."""
    ratios = [curve_ratio(root, c) if isinstance(c, str) else (math.nan, None) for c in block["curve"]]
    return block.assign(**{RATIO: [r for r, _ in ratios], "curve_n": [n for _, n in ratios]})


def _protocol(block: pd.DataFrame, metric: str) -> str | None:
    if metric == RATIO:
        names = {f"curve N = {n}" for n in block["curve_n"].dropna().astype(int)}
        return names.pop() if len(names) == 1 else None
    info = catalog.metric(metric)
    names = {protocols.of_column(metric, info.backbone, json.loads(s)) for s in block["spec"]}
    return names.pop() if len(names) == 1 else None


def _budget(block: pd.DataFrame) -> set:
    return {(u, None if pd.isna(a) else float(a)) for u, a in zip(block["budget_unit"], block["budget_amount"],
                                                                strict=True)}


def metric_row(aligned: pd.DataFrame, unaligned: pd.DataFrame, metric: str) -> dict | None:
    """Both sides of one metric and their difference, or None when neither side measured it."""
    xa, xu = (b[metric].dropna().to_numpy(dtype=np.float64) for b in (aligned, unaligned))
    if not len(xa) and not len(xu):
        return None
    label, lower_is_better = _label(metric)
    row = {"metric": metric, "label": label, "lower_is_better": lower_is_better,
           "aligned": _side(xa, sorted(int(s) for s in aligned.loc[aligned[metric].notna(), "seed"])),
           "unaligned": _side(xu, sorted(int(s) for s in unaligned.loc[unaligned[metric].notna(), "seed"])),
           "protocol": None, "change": None, "not_compared": None,
           "own_scale": metric in OWN_SCALE}
    if not len(xa) or not len(xu):
        row["not_compared"] = f"measured on the {'unaligned' if len(xu) else 'aligned'} side only"
        return row
    names = (_protocol(aligned, metric), _protocol(unaligned, metric))
    if names[0] != names[1]:
        row["not_compared"] = f"different metric protocols ({names[0]} vs {names[1]})"
        return row
    row["protocol"] = names[0]
    low, high = difference_ci(xu, xa)
    p = welch_p(xu, xa)
    row["change"] = {"diff": float(xu.mean() - xa.mean()), "ci_low": _finite(low), "ci_high": _finite(high),
                     "p": _finite(p), "separable": bool(not math.isnan(p) and p < ALPHA)}
    return row


def alignment_tables(runs: pd.DataFrame, studies: dict, root: Path) -> dict:
    """`study/dataset` -> {study, dataset, aligned_dataset, versus, title, alpha, rows} per alignment study."""
    out = {}
    for name, info in studies.items():
        if info.get("kind") != "alignment":
            continue
        versus = info.get("versus")
        for dataset, order in (info.get("datasets") or {}).items():
            ds = spec(dataset)
            if not isinstance(ds, UnalignedSpec):
                continue
            unaligned = _with_curve_ratio(runs[(runs["study"] == name) & (runs["dataset"] == dataset)
                                               & ~runs["diverged"]], root)
            aligned = _with_curve_ratio(runs[(runs["study"] == versus) & (runs["dataset"] == ds.aligned)
                                             & ~runs["diverged"]], root)
            rows = []
            for variant in [v for v in order if v in set(unaligned["variant"])]:
                a, u = aligned[aligned["variant"] == variant], unaligned[unaligned["variant"] == variant]
                budgets = _budget(a) | _budget(u)
                metrics = [m for m in (metric_row(a, u, m) for m in ALIGNMENT_METRICS) if m is not None]
                if len(budgets) > 1:
                    for m in metrics:
                        m["change"], m["not_compared"] = None, ("different budgets: "
                                                                + ", ".join(f"{amount} {unit}" for unit, amount in
                                                                            sorted(budgets, key=str)))
                rows.append({"variant": variant, "metrics": metrics,
                             "diverged": int(runs[(runs["variant"] == variant) & runs["diverged"]
                                                  & (((runs["study"] == name) & (runs["dataset"] == dataset))
                                                     | ((runs["study"] == versus)
                                                        & (runs["dataset"] == ds.aligned)))].shape[0])})
            if rows:
                out[f"{name}/{dataset}"] = {"study": name, "dataset": dataset, "aligned_dataset": ds.aligned,
                                            "versus": versus, "title": info.get("title", name), "alpha": ALPHA,
                                            "rows": rows}
    return out
