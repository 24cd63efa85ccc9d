"""The robustness study's page (Gulrajani et al. 2017, Figure 2): per dataset, the architecture x loss grid, each cell
a sample grid (first seed) with its domain FID over seeds and its seeds' health badges, and per loss the number of
architectures it trains on (bench/tables/robustness.py says the rule)."""

from __future__ import annotations

import pandas as pd

from bench.measurement import catalog
from bench.report.format import fmt
from bench.report.site import variant_href
from bench.tables.robustness import LOSS_LABELS, robustness_grid

METRIC = "fid_domain"  # the study's evaluate stage scores the domain backbone only (params.yaml)


def robustness_sections(study: str, summary: pd.DataFrame, runs: pd.DataFrame, images, info,
                        listed: dict[str, list[str]]) -> list[dict]:
    """`listed`: the study file's variants per dataset (their order is the grid's row order)."""
    sections = []
    for dataset, block in summary[summary["study"] == study].groupby("dataset", sort=True):
        block_runs = runs[(runs["study"] == study) & (runs["dataset"] == dataset)]
        grid = robustness_grid(block, block_runs, METRIC, listed.get(dataset, []))
        first = block_runs[block_runs["seed"] == block_runs["seed"].min()].set_index("variant")
        rows = []
        for arch in grid["architectures"]:
            cells = []
            for loss in grid["losses"]:
                cell = grid["cells"][arch].get(loss)
                if cell is None:
                    cells.append(None)
                    continue
                flagged = {badge: [f"s{s}" for s, b in cell["badges"].items() if badge in b]
                           for badge in sorted({b for bs in cell["badges"].values() for b in bs})}
                cells.append({
                    "variant": cell["variant"], "href": variant_href(cell["variant"]),
                    "src": images(first.loc[cell["variant"], "samples"]) if cell["variant"] in first.index else None,
                    "fid": f"{fmt(cell['mean'], digits=1)} ± {fmt(cell['std'], digits=1)}",
                    "ci": f"[{fmt(cell['ci_low'], digits=1)}, {fmt(cell['ci_high'], digits=1)}]",
                    "trains": {True: "trains", False: "fails", None: "not judged"}[cell["trains"]],
                    "badges": [f"{b}: {', '.join(seeds)}" for b, seeds in flagged.items()],
                    "n_seeds": cell["n_seeds"]})
            rows.append({"architecture": arch, "paper": info(arch).get("paper", ""), "cells": cells})
        sections.append({"dataset": dataset, "losses": [LOSS_LABELS.get(x, x) for x in grid["losses"]],
                         "rows": rows, "metric": catalog.metric(METRIC).heading,
                         "trains_on": [{"loss": LOSS_LABELS.get(x, x), "n": grid["trains_on"][x],
                                        "of": len(grid["architectures"])} for x in grid["losses"]]})
    return sections
