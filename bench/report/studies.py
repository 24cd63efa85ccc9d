"""Report pages of the loss sweep ("Are GANs Created Equal?"), the mode-collapse study and ablations.

They read only results/tables (sweeps.json, ablations.json, summary.json, runs.json, specs.json): the figures are
inline SVG, so each page is one offline file. Published numbers appear in rows and columns labeled as
published, never inside our statistics.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.measurement import catalog
from bench.report.format import figure_svg, fmt, pyplot
from bench.report.site import slug, variant_href
from bench.tables.published import PUBLISHED_LUCIC_FMNIST, PUBLISHED_MODES

LOSS_COLORS = {"mm": "#1f77b4", "ns": "#ff7f0e", "lsgan": "#2ca02c", "wgan": "#d62728", "wgan-gp": "#9467bd",
               "dragan": "#8c564b", "hinge": "#e377c2", "rpgan": "#17becf"}


def distribution_svg(table: dict) -> str:
    """Box plot per loss of its samples' values (each the mean over seeds), with every sample drawn."""
    plt = pyplot()
    losses = list(table["losses"])
    fig, ax = plt.subplots(figsize=(6.4, 3.0), dpi=100)
    data = [[s["value"] for s in table["losses"][loss]["samples"] if s["value"] is not None] or [np.nan]
            for loss in losses]  # a sample whose seeds diverged has no value (null): the table counts it
    ax.boxplot(data, tick_labels=losses, showfliers=False, widths=0.5)
    for i, values in enumerate(data, start=1):
        offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(i + offsets, values, s=10, alpha=0.7, color=LOSS_COLORS.get(losses[i - 1], "#444"), zorder=3)
    if catalog.metric(table["metric"]).log_axis:
        ax.set_yscale("log")
    ax.set_ylabel(table["label"].split(" (")[0] + (" (lower is better)" if table["lower_is_better"] else ""),
                  fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return figure_svg(fig)


def budget_svg(table: dict) -> str:
    """Best value found vs. the number of hyperparameter samples tried: bootstrap mean and 95% band."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.0), dpi=100)
    for loss, entry in table["losses"].items():
        curve = entry["budget"]
        k = [p["k"] for p in curve]
        color = LOSS_COLORS.get(loss, None)
        mean, low, high = ([np.nan if p[key] is None else p[key] for p in curve] for key in ("mean", "low", "high"))
        ax.plot(k, mean, label=loss, color=color, linewidth=1.2, marker="o", markersize=3)
        ax.fill_between(k, low, high, color=color, alpha=0.12)
    ax.set_xlabel("budget: hyperparameter samples tried (k)", fontsize=8)
    ax.set_ylabel("best " + table["label"].split(" (")[0], fontsize=8)
    if catalog.metric(table["metric"]).log_axis:
        ax.set_yscale("log")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7, ncol=4)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_svg(fig)


def _scaled(value, scale: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value * scale


def _hyper_text(h: dict) -> str:
    parts = [f"lr {h['lr_g']:.2g}" if h.get("lr_g") == h.get("lr_d") else
             f"lr G {h.get('lr_g', 0):.2g} / D {h.get('lr_d', 0):.2g}"]
    if "betas" in h:
        parts.append(f"β1 {h['betas'][0]:.2f}")
    parts.append(f"n_critic {h.get('n_critic')}")
    for key, label in (("penalty_weight", "λ"), ("clip", "clip"), ("r1", "γ R1/R2")):
        if h.get(key):
            parts.append(f"{label} {h[key]:.3g}")
    return " · ".join(parts)


def sweep_sections(sweeps: dict, specs: dict) -> list[dict]:
    sections = []
    for key, table in sorted(sweeps.items()):
        rows = []
        for loss, entry in table["losses"].items():
            best = entry["best"]
            rows.append({
                "loss": loss, "sample": best["sample"], "variant": best["variant"],
                "hyper": _hyper_text(best["hyperparameters"]),
                "mean": fmt(best["mean"]), "std": fmt(best["std"]),
                "ci": f"[{fmt(best['ci_low'])}, {fmt(best['ci_high'])}]",
                "sort": best["mean"], "seeds": len(best["seeds"]), "n_samples": len(entry["samples"]),
                "best_at_1": fmt(entry["budget"][0]["mean"]) if entry["budget"] else "–",
                "wall_s": fmt(entry["wall_s_total"], digits=0),
                "n_diverged": entry.get("n_diverged", 0),
                "published": PUBLISHED_LUCIC_FMNIST.get(loss) if table["dataset"] == "fmnist32" else None,
            })
        rows.sort(key=lambda r: math.inf if r["sort"] is None else r["sort"] * (1 if table["lower_is_better"] else -1))
        spec = specs.get(key, {})
        sections.append({
            "key": key, "dataset": table["dataset"], "study": table["study"], "label": table["label"],
            "rows": rows, "distribution_svg": distribution_svg(table), "budget_svg": budget_svg(table),
            "n_gen": spec.get("n_gen"), "profile": spec.get("profile"),
            "has_published": any(r["published"] for r in rows),
        })
    return sections


MODE_COLUMNS = [("modes_covered", 1), ("high_quality", 1), ("reverse_kl", 2)]  # metric, decimals


def mode_collapse_sections(study: str, summary: pd.DataFrame, runs: pd.DataFrame, data_uri) -> list[dict]:
    sections = []
    for dataset, block in summary[summary["study"] == study].groupby("dataset", sort=True):
        rows = []
        for _, row in block.sort_values("modes_covered_mean", ascending=False).iterrows():
            cells = []
            for metric, digits in MODE_COLUMNS:
                scale = catalog.metric(metric).scale
                mean, std, low, high = (_scaled(row.get(f"{metric}_{k}"), scale)
                                        for k in ("mean", "std", "ci_low", "ci_high"))
                rank = row.get(f"{metric}_rank")
                cells.append({"text": f"{fmt(mean, digits=digits)} ± {fmt(std, digits=digits)}",
                              "ci": f"[{fmt(low, digits=digits)}, {fmt(high, digits=digits)}]",
                              "rank": None if rank is None or pd.isna(rank) else int(rank), "sort": mean})
            rows.append({"variant": row["variant"], "cells": cells, "n_seeds": int(row["n_seeds"]),
                         "kimg": fmt(row["kimg_mean"], digits=0), "wall_s": fmt(row["wall_s_mean"], digits=0)})
        block_runs = runs[(runs["study"] == study) & (runs["dataset"] == dataset)]
        grids = [{"variant": r["variant"], "seed": int(r["seed"]), "src": data_uri(r["samples"])}
                 for _, r in block_runs[block_runs["seed"] == block_runs["seed"].min()].iterrows()]
        sections.append({"dataset": dataset, "rows": rows, "published": PUBLISHED_MODES.get(dataset, []),
                         "grids": grids})
    return sections


def _change_text(change: dict | None) -> dict:
    if change is None:
        return {"text": "–", "ci": "", "verdict": "", "sort": None}
    verdict = "separable" if change["separable"] else "not separable"
    p = change["p_holm"]
    return {"text": f"{change['diff']:+.2f}" if change["diff"] is not None else "n/a",
            "ci": f"[{fmt(change['ci_low'])}, {fmt(change['ci_high'])}]",
            "verdict": verdict + (f" (Holm p = {p:.3g})" if p is not None else " (too few seeds to test)"),
            "sort": change["diff"]}


def ablation_sections(ablations: dict, specs: dict, runs: pd.DataFrame, data_uri) -> list[dict]:
    """One section per ablation study x dataset: a table per FID backbone, the budget and a sample grid
    per configuration (first seed)."""
    sections = []
    for key, entry in sorted(ablations.items()):
        spec = specs.get(key, {})
        tables = []
        for table in entry["tables"]:
            rows = []
            for r in table["rows"]:
                cost = r["cost"]
                rows.append({
                    "config": r["config"], "variant": r["variant"], "href": variant_href(r["variant"]),
                    "n_seeds": r["n_seeds"],
                    "seeds": ", ".join(str(s) for s in r["seeds"]),
                    "mean": fmt(r["mean"]), "std": fmt(r["std"]), "ci": f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                    "sort": r["mean"], "change": _change_text(r["change"]),
                    "kimg": fmt(cost["kimg"], digits=1), "wall_s": fmt(cost["wall_s"], digits=0),
                    "gflop": fmt(cost["gflop"], digits=0), "device": cost["device"],
                    "published": f"{r['published']:.2f}" if r["published"] is not None else "–",
                })
            tables.append({"label": table["label"], "rows": rows})
        block = runs[(runs["study"] == entry["study"]) & (runs["dataset"] == entry["dataset"])]
        first = block[block["seed"] == block["seed"].min()] if not block.empty else block
        order = {r["variant"]: i for i, r in enumerate(entry["tables"][0]["rows"])} if entry["tables"] else {}
        grids = sorted(({"variant": r["variant"], "seed": int(r["seed"]), "src": data_uri(r["samples"])}
                        for _, r in first.iterrows()), key=lambda g: order.get(g["variant"], 99))
        sections.append({"key": key, "dataset": entry["dataset"], "tables": tables, "alpha": entry["alpha"],
                         "n_gen": spec.get("n_gen"), "profile": spec.get("profile"), "grids": grids})
    return sections


def _alignment_cell(side: dict, scale: float) -> dict:
    if side["mean"] is None:
        return {"text": "–", "ci": None, "sort": None, "seeds": 0}
    return {"text": f"{fmt(side['mean'], scale)} ± {fmt(side['std'], scale)}", "sort": side["mean"],
            "ci": f"[{fmt(side['ci_low'], scale)}, {fmt(side['ci_high'], scale)}]", "seeds": side["n_seeds"]}


def _alignment_change(row: dict, scale: float) -> dict:
    change = row["change"]
    if change is None:
        return {"text": "not compared", "ci": None, "verdict": row["not_compared"], "sort": None}
    worse = change["diff"] > 0 if row["lower_is_better"] else change["diff"] < 0
    direction = f"{'worse' if worse else 'better'} unaligned"
    if row["own_scale"]:  # each set's FID on its own scale: a direction, not a verdict
        direction = f"{'higher' if change['diff'] > 0 else 'lower'} on the unaligned set's scale"
    verdict = (f"{direction} (Welch p = {fmt(change['p'], digits=3)})"
               if change["separable"] else f"not separable (Welch p = {fmt(change['p'], digits=3)})")
    return {"text": f"{change['diff'] * scale:+.3g}", "sort": change["diff"], "verdict": verdict,
            "ci": f"[{fmt(change['ci_low'], scale)}, {fmt(change['ci_high'], scale)}]"}


def alignment_sections(alignment: dict, runs: pd.DataFrame, data_uri) -> list[dict]:
    """One section per alignment study x unaligned dataset: per variant and metric both sides with their CIs
    and the change, and each variant's first-seed sample grids on both datasets side by side."""
    sections = []
    for key, entry in sorted(alignment.items()):
        rows, grids = [], []
        for r in entry["rows"]:
            for m in r["metrics"]:
                scale = catalog.CATALOG[m["metric"]].scale if m["metric"] in catalog.CATALOG else 1.0
                rows.append({"variant": r["variant"], "href": variant_href(r["variant"]), "metric": m["label"],
                             "protocol": m["protocol"] or "–", "aligned": _alignment_cell(m["aligned"], scale),
                             "unaligned": _alignment_cell(m["unaligned"], scale),
                             "change": _alignment_change(m, scale), "diverged": r["diverged"]})
            pair = []
            for study, dataset in ((entry["versus"], entry["aligned_dataset"]), (entry["study"], entry["dataset"])):
                block = runs[(runs["study"] == study) & (runs["dataset"] == dataset)
                             & (runs["variant"] == r["variant"])]
                if not block.empty:
                    first = block[block["seed"] == block["seed"].min()].iloc[0]
                    pair.append({"dataset": dataset, "seed": int(first["seed"]), "src": data_uri(first["samples"])})
            grids.append({"variant": r["variant"], "pair": pair})
        sections.append({"key": key, "dataset": entry["dataset"], "aligned_dataset": entry["aligned_dataset"],
                         "versus": entry["versus"], "versus_href": f"{slug(entry['versus'])}.html",
                         "alpha": entry["alpha"], "rows": rows, "grids": grids})
    return sections
