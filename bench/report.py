"""The report stage: results/tables -> reports/ (static, offline HTML; open reports/index.html).

Pages: index.html (every table study's leaderboard per dataset: sortable, filterable by family, tied
ranks, equal-compute curves, CSV/JSON downloads), one page per study, one per variant (paper, recipe,
config hashes, metrics, cost, curves of all seeds, sample grids per seed) and one per new method (its
comparison against the baselines). Reads only results/tables and the sample grids the tables name.
Images are files next to the pages (reports/img), plots inline SVG, the few lines of JavaScript inline;
a Content-Security-Policy forbids every request to the network (only local images and inline code run).
Every string from a user (variant names, papers, specs) goes through jinja2's autoescaping.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from bench.io import read_json, write_bytes, write_text
from bench.published import PUBLISHED_MODES
from bench.report_format import figure_svg, fmt, pyplot
from bench.svg_chart import Series, line_chart

_BASE = [("fid", "FID", 1.0), ("kid", "KID ×10³", 1e3), ("precision", "precision", 1.0),
         ("recall", "recall", 1.0), ("density", "density", 1.0), ("coverage", "coverage", 1.0),
         ("is", "IS", 1.0)]
IMAGE_METRICS = [*_BASE, *[(f"{m}_domain", f"{label} (domain)", s) for m, label, s in _BASE],
                 ("modes_covered", "modes covered", 1.0), ("reverse_kl", "reverse KL", 1.0),
                 ("intra_fid_domain", "intra-class FID (domain)", 1.0),
                 ("class_accuracy_domain", "requested-class accuracy (domain)", 1.0),
                 ("eq_t", "EQ-T dB", 1.0), ("eq_t_frac", "EQ-T frac dB", 1.0)]
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


def slug(name: str) -> str:
    """A file-name-safe form of a variant or run name; names that needed changing get a hash suffix, so
    two names never share a page."""
    safe = re.sub(r"[^A-Za-z0-9._+~-]", "_", name)
    return safe if safe == name else f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def variant_href(name: str) -> str:
    return f"variant-{slug(name)}.html"


def compare_href(name: str) -> str:
    return f"compare-{slug(name)}.html"


class Tables:
    """Everything the report reads, loaded once from results/tables (optional tables default to empty)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        folder = root / "results" / "tables"

        def optional(name: str):
            return read_json(folder / name) if (folder / name).exists() else {}

        self.folder = folder
        self.summary = pd.DataFrame(read_json(folder / "summary.json"))
        self.runs = pd.DataFrame(read_json(folder / "runs.json"))
        self.specs = read_json(folder / "specs.json")
        self.kinds = optional("studies.json")
        self.conditional = optional("conditional.json")
        self.truncation = optional("truncation.json")
        self.variants = optional("variants.json")
        self.curves = optional("curves.json")
        self.comparisons = optional("comparisons.json")
        self.sweeps = optional("sweeps.json")
        self.ablations = optional("ablations.json")

    def kind(self, study: str) -> str:
        return self.kinds.get(study, {}).get("kind", "table")

    def info(self, variant: str) -> dict:
        return self.variants.get(variant, {"name": variant, "paper": "(not registered)", "families": ["new method"],
                                           "builtin": False, "origin": "unregistered", "recipe": {}, "arch": {}})


class Images:
    """Copies each sample grid the pages show into reports/img once; returns the page-relative path."""

    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.out, self.written = root, out, set()

    def __call__(self, relative: str) -> str:
        name = f"img/{slug(relative.removeprefix('results/').removesuffix('/eval/samples.png'))}.png"
        if name not in self.written:
            write_bytes(self.out / name, (self.root / relative).read_bytes())
            self.written.add(name)
        return name


def provenance(tables: Tables, root: Path) -> dict:
    """The footer of every page: which libraries and weights measured the numbers, and the git commit."""
    libraries: dict[str, set] = {}
    weights = set()
    for spec in tables.specs.values():
        for name, version in (spec.get("libraries") or {}).items():
            libraries.setdefault(name, set()).add(str(version))
        for how in spec.get("backbones", {}).values():
            if how.get("weights_sha256"):
                weights.add(f"{how.get('backbone', '?')} {str(how['weights_sha256'])[:12]}…")
    return {"commit": _git_commit(root),
            "profile": next(iter(tables.specs.values()), {}).get("profile", "?"),
            "libraries": ", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in sorted(libraries.items())),
            "weights": ", ".join(sorted(weights))}


def _metrics_of(block: pd.DataFrame, is_images: bool) -> list[tuple[str, str, float]]:
    return [m for m in (IMAGE_METRICS if is_images else POINT_METRICS)
            if f"{m[0]}_mean" in block and block[f"{m[0]}_mean"].notna().any()]


def _tied(ranks: list[int | None]) -> set[int]:
    return {r for r in ranks if r is not None and ranks.count(r) > 1}


def _equal_compute_svgs(curves: list[dict]) -> list[str]:
    """Quality against kimg, against train wall seconds and against FLOPs, one line per variant (mean
    over seeds): who is ahead at equal compute, not only at the end."""
    if not curves:
        return []
    metric = curves[0]["metric"]
    label = f"{CURVE_LABELS.get(metric, metric)}, N = {curves[0]['n']}"
    charts = []
    for scale_of, x_label in ((lambda c: 1.0, "kimg (images shown to D, thousands)"),
                              (lambda c: c["wall_s_per_kimg"], "train wall seconds"),
                              (lambda c: c["flops_per_kimg"] / 1e9, "train GFLOP")):
        series = [Series(c["variant"], [p["kimg"] * scale_of(c) for p in c["points"]],
                         [p["mean"] for p in c["points"]]) for c in curves]
        charts.append(line_chart(series, x_label, label, log_y=metric.startswith("fid"),
                                 title=f"quality vs {x_label.split(' (')[0]}"))
    return charts


def leaderboard_sections(tables: Tables, study_filter: str | None = None) -> list[dict]:
    sections = []
    for (study, dataset), block in tables.summary.groupby(["study", "dataset"], sort=True):
        if tables.kind(study) != "table" or (study_filter and study != study_filter):
            continue
        spec = tables.specs[f"{study}/{dataset}"]
        is_images = spec.get("kind", "images") == "images"
        metrics = _metrics_of(block, is_images)
        first, lower = metrics[0][0], metrics[0][0].startswith(("fid", "kid"))
        ordered = block.sort_values(f"{first}_mean", ascending=lower)
        cells_by_metric = {m: [_cell(row, m, sc) for _, row in ordered.iterrows()] for m, _, sc in metrics}
        tied = {m: _tied([c["rank"] for c in cells]) for m, cells in cells_by_metric.items()}
        rows = []
        for i, (_, row) in enumerate(ordered.iterrows()):
            info = tables.info(row["variant"])
            cells = []
            for m, _, _ in metrics:
                cell = dict(cells_by_metric[m][i])
                cell["tied"] = cell["rank"] in tied[m]
                cells.append(cell)
            rows.append({
                "variant": row["variant"], "href": variant_href(row["variant"]), "paper": info["paper"],
                "families": info["families"], "family_key": "|".join(info["families"]),
                "compare": compare_href(row["variant"]) if row["variant"] in tables.comparisons else None,
                "cells": cells, "n_seeds": int(row["n_seeds"]), "wall_s": fmt(row["wall_s_mean"], digits=0),
                "kimg": fmt(row["kimg_mean"], digits=1), "gflops": fmt(row["flops_total_mean"], 1e-9, digits=0),
                "peak_mb": fmt(row.get("peak_rss_mb_mean"), digits=0),
            })
        spec_lines = _spec_lines(spec)
        if (line := _conditional_line(tables.conditional.get(f"{study}/{dataset}"))) is not None:
            spec_lines.append(line)
        curves = [c for c in tables.curves.values() if c["study"] == study and c["dataset"] == dataset]
        families = sorted({f for r in rows for f in r["families"]})
        sections.append({
            "id": slug(f"{study}-{dataset}"), "study": study, "dataset": dataset, "is_images": is_images,
            "spec_text": json.dumps(spec, indent=1, sort_keys=True), "spec_lines": spec_lines,
            "headers": [label for _, label, _ in metrics], "rows": rows, "families": families,
            "downloads": {"csv": f"tables/{slug(f'{study}-{dataset}')}.csv",
                          "json": f"tables/{slug(f'{study}-{dataset}')}.json"},
            "compute_svgs": _equal_compute_svgs(curves),
            "published": [] if is_images else PUBLISHED_MODES.get(dataset, []),
        })
    return sections


def study_pages(tables: Tables, images: Images) -> dict[str, tuple[str, dict]]:
    """page file -> (template, context): one page per study (table, sweep or mode-collapse)."""
    from bench.report_studies import ablation_sections, mode_collapse_sections, sweep_sections

    pages = {}
    studies = sorted(set(tables.summary["study"]))
    for name in studies:
        info = tables.kinds.get(name, {"kind": "table", "title": name})
        page = f"{slug(name)}.html"
        if info["kind"] == "sweep":
            tables_of_study = {k: v for k, v in tables.sweeps.items() if v["study"] == name}
            if tables_of_study:
                pages[page] = ("sweep.html", {"title": info["title"],
                                              "sections": sweep_sections(tables_of_study, tables.specs)})
        elif info["kind"] == "ablation":
            sections = ablation_sections({k: v for k, v in tables.ablations.items() if v["study"] == name},
                                         tables.specs, tables.runs, images)
            pages[page] = ("ablation.html", {"title": info["title"], "sections": sections})
        elif info["kind"] == "mode-collapse":
            sections = mode_collapse_sections(name, tables.summary, tables.runs, images)
            pages[page] = ("mode_collapse.html", {"title": info["title"], "sections": sections})
        else:
            pages[page] = ("index.html", {"title": info["title"], "study": name,
                                          "sections": leaderboard_sections(tables, name)})
    return pages


def write_downloads(tables: Tables, out: Path, sections: list[dict]) -> set[str]:
    """reports/tables: the full tables plus each leaderboard as shown (CSV and JSON); returns the paths."""
    written = set()
    for name in ("summary.csv", "runs.csv", "summary.json", "runs.json", "comparisons.json", "curves.json",
                 "variants.json"):
        if (tables.folder / name).exists():
            write_bytes(out / "tables" / name, (tables.folder / name).read_bytes())
            written.add(f"tables/{name}")
    for section in sections:
        block = tables.summary[(tables.summary["study"] == section["study"])
                               & (tables.summary["dataset"] == section["dataset"])].dropna(axis=1, how="all")
        write_text(out / section["downloads"]["csv"], block.to_csv(index=False))
        write_text(out / section["downloads"]["json"], block.to_json(orient="records", indent=1))
        written.update(section["downloads"].values())
    for name, rows in tables.comparisons.items():
        frame = pd.json_normalize(rows)
        write_text(out / "tables" / f"compare-{slug(name)}.csv", frame.to_csv(index=False))
        written.add(f"tables/compare-{slug(name)}.csv")
    return written


def _remove_stale(out: Path, written: set[str]) -> None:
    """Pages and images of a previous render that this one did not write (a renamed variant's page)."""
    for path in [*out.glob("*.html"), *out.glob("img/*.png"), *out.glob("tables/*")]:
        if path.relative_to(out).as_posix() not in written:
            path.unlink()


def render(root: Path) -> Path:
    from bench.report_pages import compare_pages, variant_pages

    tables = Tables(root)
    out = root / "reports"
    images = Images(root, out)
    env = Environment(loader=PackageLoader("bench", "templates"), autoescape=select_autoescape(["html"]))
    common = {"provenance": provenance(tables, root)}
    sections = leaderboard_sections(tables)
    pages = {"index.html": ("index.html", {"title": "gan-bench leaderboard", "study": None, "sections": sections,
                                           "is_index": True})}
    studies = study_pages(tables, images)
    pages.update(studies)
    pages.update(variant_pages(tables, images))
    pages.update(compare_pages(tables))
    nav = [{"href": "index.html", "title": "All leaderboards"},
           *[{"href": page, "title": context["title"]} for page, (_, context) in studies.items()]]
    common["nav"] = nav
    common["new_methods"] = [{"href": compare_href(n), "name": n} for n in sorted(tables.comparisons)]
    for page, (template, context) in pages.items():
        write_text(out / page, env.get_template(template).render(**common, **context))
    downloads = write_downloads(tables, out, sections)
    _remove_stale(out, set(pages) | images.written | downloads)
    return out / "index.html"
