"""The report stage: results tables + sample grids + curves -> reports/index.html (static, offline).

Everything the page needs is inside it: images as data URIs, plots as inline SVG, a few lines of
inline JavaScript for sorting. Every string that comes from a user (variant names, papers, specs)
goes through jinja2's autoescaping.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from bench import registry
from bench.io import read_json, write_text
from bench.published import PUBLISHED_MODES
from bench.report_format import figure_svg, fmt, pyplot

_BASE = [("fid", "FID", 1.0), ("kid", "KID ×10³", 1e3), ("precision", "precision", 1.0),
         ("recall", "recall", 1.0), ("density", "density", 1.0), ("coverage", "coverage", 1.0),
         ("is", "IS", 1.0)]
IMAGE_METRICS = [*_BASE, *[(f"{m}_domain", f"{label} (domain)", s) for m, label, s in _BASE],
                 ("modes_covered", "modes covered", 1.0), ("reverse_kl", "reverse KL", 1.0),
                 ("intra_fid_domain", "intra-class FID (domain)", 1.0),
                 ("class_accuracy_domain", "requested-class accuracy (domain)", 1.0)]
POINT_METRICS = [("modes_covered", "modes", 1.0), ("high_quality", "high quality %", 100.0),
                 ("reverse_kl", "reverse KL", 1.0)]
CURVE_LABELS = {"fid_domain": "FID (domain backbone)", "modes_covered": "modes covered"}


def _cell(row: pd.Series, metric: str, scale: float) -> dict:
    mean = row.get(f"{metric}_mean")
    return {
        "sort": None if mean is None or math.isnan(mean) else mean * scale,
        "mean": fmt(mean, scale), "std": fmt(row.get(f"{metric}_std"), scale),
        "ci": f"[{fmt(row.get(f'{metric}_ci_low'), scale)}, {fmt(row.get(f'{metric}_ci_high'), scale)}]",
        "rank": None if pd.isna(row.get(f"{metric}_rank")) else int(row.get(f"{metric}_rank")),
    }


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _curve_svg(curves: dict[str, list[dict]], key: str, n: int) -> str:
    fig, ax = pyplot().subplots(figsize=(5, 2.6), dpi=100)
    for name, points in sorted(curves.items()):
        ax.plot([p["kimg"] for p in points], [p[key] for p in points], label=name, linewidth=1)
    ax.set_xlabel("kimg")
    ax.set_ylabel(f"{CURVE_LABELS.get(key, key)}, N = {n}", fontsize=8)
    if key.startswith("fid"):
        ax.set_yscale("log")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_svg(fig)


def _spec_lines(spec: dict) -> list[str]:
    """One readable line per backbone: what was compared, with which weights, and what is unavailable."""
    lines = []
    for name, how in spec.get("backbones", {}).items():
        if name == "points":
            lines.append(f"N = {spec.get('n_gen')} generated points · high quality: within "
                         f"{how['high_quality_threshold']} of the nearest mode · reverse KL: {how['reverse_kl']}")
            continue
        ref = how.get("reference", {})
        text = (f"{name}: N = {how.get('n_gen')} generated vs {ref.get('n_ref')} {ref.get('split')}-split images · "
                f"weights sha256 {str(how.get('weights_sha256'))[:12]}…")
        if "resize" in how:
            text += f" · resize {how['resize']}"
        if "kid" in how:
            text += f" · KID {how['kid']['subsets']} subsets of ≤ {how['kid']['max_subset_size']}"
        if isinstance(how.get("is"), dict) and not how["is"].get("available", True):
            text += f" · IS n/a: {how['is']['reason']}"
        lines.append(text)
    return lines


def _conditional_line(spec: dict | None) -> str | None:
    if not spec:
        return None
    return (f"class-conditional variants: intra-class FID and requested-class accuracy on the {spec['backbone']} "
            f"backbone, {spec['n_per_class']} samples asked for each class vs the reference images of that class "
            f"({min(spec['n_ref_per_class'])}–{max(spec['n_ref_per_class'])} per class); the other columns score "
            "their N samples asked for each class in turn")


def _truncation_svg(curves: list[dict]) -> str:
    """FID and IS (domain backbone) against tau, mean over seeds with a ±1 std band, one line per variant;
    the untruncated value is drawn as a dashed level."""
    fig, axes = pyplot().subplots(1, 2, figsize=(7, 2.6), dpi=100)
    for ax, (key, label) in zip(axes, (("fid_domain", "FID (domain)"), ("is_domain", "IS (domain classifier)")),
                                strict=True):
        for curve in curves:
            finite = [p for p in curve["points"] if p["tau"] is not None and key in p]
            taus = [p["tau"] for p in finite]
            mean = [p[key]["mean"] for p in finite]
            std = [0.0 if math.isnan(p[key]["std"]) else p[key]["std"] for p in finite]
            line = ax.plot(taus, mean, marker="o", markersize=3, linewidth=1, label=curve["variant"])[0]
            ax.fill_between(taus, [m - d for m, d in zip(mean, std, strict=True)],
                            [m + d for m, d in zip(mean, std, strict=True)], color=line.get_color(), alpha=0.2)
            untruncated = next((p for p in curve["points"] if p["tau"] is None and key in p), None)
            if untruncated is not None:
                ax.axhline(untruncated[key]["mean"], color=line.get_color(), linestyle="--", linewidth=0.8)
        ax.set_xlabel("truncation threshold τ")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    return figure_svg(fig)


def _truncation_rows(curve: dict) -> list[dict]:
    def cell(point: dict, key: str, digits: int = 2) -> str:
        if key not in point:
            return "–"
        v = point[key]
        return f"{fmt(v['mean'], digits=digits)} ± {fmt(v['std'], digits=digits)}"

    return [{"tau": "none (untruncated)" if p["tau"] is None else f"{p['tau']:g}",
             "fid": cell(p, "fid_domain"), "is": cell(p, "is_domain"),
             "accuracy": cell(p, "class_accuracy_domain", 3)} for p in curve["points"]]


def _git_commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build_context(root: Path) -> dict:
    tables = root / "results" / "tables"
    summary = pd.DataFrame(read_json(tables / "summary.json"))
    runs = pd.DataFrame(read_json(tables / "runs.json"))
    specs = read_json(tables / "specs.json")
    kinds = _study_kinds(tables)
    conditional = read_json(tables / "conditional.json") if (tables / "conditional.json").exists() else {}
    truncation = read_json(tables / "truncation.json") if (tables / "truncation.json").exists() else {}
    papers = {v.name: v.paper for v in registry.all_variants()}
    sections = []
    for (study, dataset), block in summary.groupby(["study", "dataset"], sort=True):
        if kinds.get(study, {}).get("kind", "table") != "table":
            continue
        spec = specs[f"{study}/{dataset}"]
        is_images = spec.get("kind", "images") == "images"
        metrics = [m for m in (IMAGE_METRICS if is_images else POINT_METRICS)
                   if f"{m[0]}_mean" in block and block[f"{m[0]}_mean"].notna().any()]
        rows = []
        first, lower = metrics[0][0], metrics[0][0].startswith(("fid", "kid"))
        for _, row in block.sort_values(f"{first}_mean", ascending=lower).iterrows():
            rows.append({
                "variant": row["variant"], "paper": papers.get(row["variant"].partition("+")[0], "(not registered)"),
                "cells": [_cell(row, m, s) for m, _, s in metrics],
                "n_seeds": int(row["n_seeds"]), "wall_s": fmt(row["wall_s_mean"], digits=0),
                "kimg": fmt(row["kimg_mean"], digits=1),
                "gflops": fmt(row["flops_total_mean"], 1e-9, digits=0),
            })
        block_runs = runs[(runs["study"] == study) & (runs["dataset"] == dataset)]
        grids, curves, curve_key, curve_n = [], {}, None, 0
        for _, run in block_runs.iterrows():
            grids.append({"run": run["run"], "variant": run["variant"], "seed": int(run["seed"]),
                          "src": _data_uri(root / run["samples"])})
            curve = read_json(root / run["curve"])
            if curve.get("metric"):
                curve_key, curve_n = curve["metric"], curve["n"]
                curves[f"{run['variant']} s{int(run['seed'])}"] = curve["points"]
        spec_lines = _spec_lines(spec)
        if (line := _conditional_line(conditional.get(f"{study}/{dataset}"))) is not None:
            spec_lines.append(line)
        truncated = [c for c in truncation.values() if c["study"] == study and c["dataset"] == dataset]
        sections.append({
            "study": study, "dataset": dataset, "is_images": is_images, "spec": spec,
            "spec_text": json.dumps(spec, indent=1, sort_keys=True), "spec_lines": spec_lines,
            "truncation_svg": _truncation_svg(truncated) if truncated else "",
            "truncation": [{**c, "rows": _truncation_rows(c)} for c in truncated],
            "headers": [label for _, label, _ in metrics], "rows": rows, "grids": grids,
            "curve_svg": _curve_svg(curves, curve_key, curve_n) if curves else "",
            "published": [] if is_images else PUBLISHED_MODES.get(dataset, []),
        })
    return {"sections": sections, "commit": _git_commit(root),
            "profile": next(iter(specs.values()), {}).get("profile", "?")}


def _study_kinds(tables: Path) -> dict:
    path = tables / "studies.json"
    return read_json(path) if path.exists() else {}


def study_pages(root: Path) -> dict[str, tuple[str, dict]]:
    """page file -> (template, context) for each sweep and mode-collapse study with results."""
    from bench.report_studies import mode_collapse_sections, sweep_sections

    tables = root / "results" / "tables"
    kinds = _study_kinds(tables)
    specs = read_json(tables / "specs.json")
    summary = pd.DataFrame(read_json(tables / "summary.json"))
    runs = pd.DataFrame(read_json(tables / "runs.json"))
    sweeps = read_json(tables / "sweeps.json") if (tables / "sweeps.json").exists() else {}
    common = {"commit": _git_commit(root),
              "profile": next(iter(specs.values()), {}).get("profile", "?")}
    pages = {}
    for name, info in sorted(kinds.items()):
        if info["kind"] == "sweep":
            tables_of_study = {k: v for k, v in sweeps.items() if v["study"] == name}
            if tables_of_study:
                pages[f"{name}.html"] = ("sweep.html", {**common, "title": info["title"],
                                                        "sections": sweep_sections(tables_of_study, specs)})
        elif info["kind"] == "mode-collapse" and (summary["study"] == name).any():
            sections = mode_collapse_sections(name, summary, runs, lambda rel: _data_uri(root / rel))
            pages[f"{name}.html"] = ("mode_collapse.html", {**common, "title": info["title"], "sections": sections})
    return pages


def render(root: Path) -> Path:
    env = Environment(loader=PackageLoader("bench", "templates"), autoescape=select_autoescape(["html"]))
    pages = study_pages(root)
    nav = [{"href": "index.html", "title": "Leaderboard"},
           *[{"href": page, "title": context["title"]} for page, (_, context) in pages.items()]]
    out = write_text(root / "reports" / "index.html",
                     env.get_template("index.html").render(**build_context(root), nav=nav))
    for page, (template, context) in pages.items():
        write_text(root / "reports" / page, env.get_template(template).render(**context, nav=nav))
    return out
