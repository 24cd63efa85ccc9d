"""The limited-data study's page: per backbone, the headline FID against training-set size for each augmentation
method (mean and 95% CI over seeds), a table of every metric per size with the change against the baseline,
ADA's p over training, and the published curves as labeled reference rows.

Reads only results/tables/limited_data.json (bench/tables/limited_data.py) and runs.json (sample grids).
"""

from __future__ import annotations

import math

import pandas as pd

from bench.report.format import fmt
from bench.report.site import variant_href
from bench.report.svg_chart import Series, line_chart


def _cell(cell: dict | None, scale: float) -> dict:
    if not cell or cell["mean"] is None:
        return {"text": "–", "ci": None, "sort": None}
    ci = None if cell["ci_low"] is None else f"[{fmt(cell['ci_low'], scale)}, {fmt(cell['ci_high'], scale)}]"
    spread = f" ± {fmt(cell['std'], scale)}" if cell["std"] is not None else ""
    return {"text": f"{fmt(cell['mean'], scale)}{spread}", "ci": ci, "sort": cell["mean"], "seeds": cell["n_seeds"]}


def _change(entry: dict | None) -> dict:
    if entry is None:
        return {"text": "", "ci": None, "verdict": ""}
    c = entry["change"]
    if c["diff"] is None:
        return {"text": "–", "ci": None, "verdict": "a side has no measured seed"}
    p = "n/a" if c["p"] is None else fmt(c["p"], digits=3)
    verdict = (f"{'better' if c['diff'] < 0 else 'worse'} than the baseline (Welch p = {p})" if c["separable"]
               else f"not separable from the baseline (Welch p = {p})")
    ci = None if c["ci_low"] is None else f"[{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]"
    leaks = [f"{metric.split('_')[1]} {leak['diff'] * 100:+.1f} pp" + (" (separable)" if leak["separable"] else "")
             for metric, leak in (entry.get("leak") or {}).items() if leak["diff"] is not None]
    return {"text": f"{c['diff']:+.3g}", "ci": ci, "verdict": verdict,
            "leak": f"leak beyond the baseline's: {', '.join(leaks)}" if leaks else ""}


def size_chart(backbone: dict, metric: str, label: str) -> str:
    """The metric against log10(training images), one line per method with its CI band."""
    series = []
    for row in backbone["methods"]:
        points = [(math.log10(c["size"]), c["metrics"].get(metric)) for c in row["cells"] if c["size"]]
        points = [(x, m) for x, m in points if m and m["mean"] is not None]
        if not points:
            continue
        band = None
        if all(m["ci_low"] is not None for _, m in points):
            band = ([m["ci_low"] for _, m in points], [m["ci_high"] for _, m in points])
        series.append(Series(row["method"], [x for x, _ in points], [m["mean"] for _, m in points], band=band))
    return line_chart(series, "training images (log10)", label, title=f"{backbone['backbone']}: {label}")


def ada_chart(row: dict) -> str:
    series = [Series(f"n = {a['size']}", a["kimg"], a["p_mean"]) for a in row["ada"]]
    return line_chart(series, "kimg", "p (mean over seeds)", title=f"{row['variant']}: ADA's p")


def limited_data_sections(entry: dict, runs: pd.DataFrame, data_uri) -> list[dict]:
    """One section per backbone: chart, per-size table, ADA's p, the direction verdict and sample grids."""
    metrics = {m["metric"]: m for m in entry["metrics"]}
    headline = metrics[entry["headline"]]
    sections = []
    for backbone in entry["backbones"]:
        rows, verdicts, ada, grids = [], [], [], []
        for method in backbone["methods"]:
            changes = {c["dataset"]: c for c in method["changes"]}
            for cell in method["cells"]:
                values = {m: _cell(cell["metrics"].get(m), info["scale"]) for m, info in metrics.items()}
                rows.append({"method": method["method"], "variant": method["variant"],
                             "href": variant_href(method["variant"]), "dataset": cell["dataset"],
                             "size": cell["size"], "cells": [values[m] for m in metrics],
                             "change": _change(changes.get(cell["dataset"])), "diverged": cell["diverged"]})
            if method["direction"]:
                verdicts.append({"method": method["method"], **method["direction"]})
            if method["ada"]:
                ada.append({"variant": method["variant"], "svg": ada_chart(method),
                            "finals": [{"size": a["size"], **_cell(a["final"], 1.0)} for a in method["ada"]]})
            block = runs[(runs["study"] == entry["study"]) & (runs["variant"] == method["variant"])]
            smallest = entry["sizes"][0]["dataset"] if entry["sizes"] else None
            first = block[block["dataset"] == smallest].sort_values("seed").head(1)
            for _, r in first.iterrows():
                if isinstance(r.get("samples"), str):
                    grids.append({"variant": method["variant"], "dataset": smallest, "seed": int(r["seed"]),
                                  "src": data_uri(r["samples"])})
        sections.append({"backbone": backbone["backbone"], "chart": size_chart(backbone, headline["metric"],
                                                                               headline["label"]),
                         "headers": [m["label"] for m in metrics.values()], "rows": rows, "verdicts": verdicts,
                         "ada": ada, "grids": grids})
    return sections


def published_rows(entry: dict) -> list[dict]:
    return [{"source": p["source"], "dataset": p["dataset"], "model": p["model"], "protocol": p["protocol"],
             "points": [{"share": share, "size": size, "baseline": base, "augmented": aug}
                        for share, size, base, aug in p["points"]]} for p in entry["published"]]
