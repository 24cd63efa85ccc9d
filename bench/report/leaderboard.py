"""The leaderboard sections (index.html and each table study's page): one sortable table per study x dataset
with mean, std, CI and tied rank of every metric the catalog lists, the metric spec in words, and the
equal-compute charts (quality against images, train wall seconds and FLOPs). The default leaderboard also shows a
tokenizer study's generation rows of its dataset where they were measured under the same metric protocols, marked
and not ranked."""

from __future__ import annotations

import json
import math

import pandas as pd

from bench.measurement import catalog, protocols
from bench.measurement.metrics.info import trained_against
from bench.protocol import metric_protocols
from bench.report.format import fmt
from bench.report.site import Tables, columns_of, compare_href, curve_label, slug, variant_href
from bench.report.svg_chart import Series, line_chart
from bench.tables.published import PUBLISHED_CIFAR10, PUBLISHED_MODES
from bench.tables.tokenizer import leaderboard_guests


def _cell(row: pd.Series, metric: str, scale: float) -> dict:
    mean = row.get(f"{metric}_mean")
    n, n_seeds = row.get(f"{metric}_n"), int(row["n_seeds"])
    return {
        "sort": None if mean is None or math.isnan(mean) else mean * scale,
        "mean": fmt(mean, scale), "std": fmt(row.get(f"{metric}_std"), scale),
        "ci": f"[{fmt(row.get(f'{metric}_ci_low'), scale)}, {fmt(row.get(f'{metric}_ci_high'), scale)}]",
        "rank": None if pd.isna(row.get(f"{metric}_rank")) else int(row.get(f"{metric}_rank")),
        # fewer seeds than the variant ran: say so next to the number (diverged seeds have no metrics)
        "seeds": None if n is None or pd.isna(n) or int(n) in (0, n_seeds) else f"{int(n)} of {n_seeds} seeds",
    }


def diverged_text(row: pd.Series) -> str | None:
    """'diverged: 1 of 3 seeds (s2, from 1.3 kimg)', or None when every seed trained to the end."""
    n = row.get("n_diverged")
    if n is None or pd.isna(n) or int(n) == 0:
        return None
    return (f"diverged: {int(n)} of {int(row['n_seeds'])} seeds (s{str(row['diverged_seeds']).replace(',', ', s')}, "
            f"first at {fmt(row.get('diverged_kimg'), digits=2)} kimg); not ranked")


def health_cell(row: pd.Series) -> dict:
    """A variant's health over its seeds (bench/measurement/health.py): "healthy", or each badge with the seeds it
    flagged, so a table never averages a collapsed seed with healthy ones in silence; `state` "1" (every judged seed
    healthy), "0" (a seed flagged) or "" (no seed judged: evaluated before the checks existed)."""
    judged = row.get("n_judged")
    if judged is None or pd.isna(judged) or int(judged) == 0:
        return {"state": "", "text": "–", "flags": [], "sort": ""}
    healthy, judged = int(row["n_healthy"]), int(judged)
    flags = [f for f in str(row.get("health_flags") or "").split(";") if f]
    return {"state": "1" if healthy == judged else "0", "sort": healthy / judged, "flags": flags,
            "text": "healthy" if healthy == judged else f"{healthy} of {judged} seeds healthy"}


def _header(metric: catalog.MetricInfo, spec: dict) -> str:
    """The column's heading with its metric protocol's name where it has one, e.g. "FID (Inception) · fid500_test2k"."""
    name = protocols.of_column(metric.name, metric.backbone, spec)
    return f"{metric.heading} · {name}" if name else metric.heading


def _spec_lines(spec: dict) -> list[str]:
    """One readable line per backbone: what was compared, with which weights, and what is unavailable."""
    lines = []
    for name, how in spec.get("backbones", {}).items():
        if name == "points":
            lines.append(f"N = {spec.get('n_gen')} generated points · high quality: within "
                         f"{how['high_quality_threshold']} of the nearest mode · reverse KL: {how['reverse_kl']}")
            continue
        ref = how.get("reference", {})
        named = how.get("protocols") or {}
        text = (f"{name}{' (' + ', '.join(named.values()) + ')' if named else ''}: N = {how.get('n_gen')} generated "
                f"vs {ref.get('n_ref')} {ref.get('split')}-split images"
                f"{' (of ' + str(ref['split_size']) + ')' if ref.get('split_size') else ''} · "
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


def _tied(ranks: list[int | None]) -> set[int]:
    return {r for r in ranks if r is not None and ranks.count(r) > 1}


def _equal_compute_svgs(curves: list[dict]) -> list[str]:
    """Quality against kimg, against train wall seconds and against FLOPs, one line per variant (mean
    over seeds): who is ahead at equal compute, not only at the end."""
    if not curves:
        return []
    metric = curves[0]["metric"]
    label = curve_label(metric, curves[0]["n"])
    charts = []
    for x_of, x_label in ((lambda c, p: p["kimg"], "kimg (images shown to D, thousands)"),
                          (lambda c, p: p["kimg"] * c["wall_s_per_kimg"], "train wall seconds"),
                          (lambda c, p: p.get("gflop", p["kimg"] * c["flops_per_kimg"] / 1e9), "train GFLOP")):
        series = [Series(c["variant"], [x_of(c, p) for p in c["points"]],
                         [p["mean"] for p in c["points"]]) for c in curves]
        charts.append(line_chart(series, x_label, label, log_y=catalog.metric(metric).log_axis,
                                 title=f"quality vs {x_label.split(' (')[0]}"))
    return charts


def _leader_rows(leaders: dict | None) -> list[dict]:
    """The budget-leader ranges of one table as rows: axis, range of budgets, leader and its value there."""
    if not leaders:
        return []
    digits = {"kimg": 2, "gflop": 1, "wall_s": 0}
    rows = []
    for axis, ranges in leaders["axes"].items():
        for r in ranges:
            rows.append({"axis": axis.replace("wall_s", "train wall s").replace("gflop", "GFLOP"),
                         "from": fmt(r["from"], digits=digits[axis]), "to": fmt(r["to"], digits=digits[axis]),
                         "leaders": [{"name": n, "href": variant_href(n)} for n in r["leaders"]],
                         "value": fmt(r["value"], digits=3),
                         "competitors": r["competitors"]})
    return rows


def _rank_change_block(changes: dict | None) -> dict | None:
    """This table's ranks against its `versus` study's, one row per shared variant, one column per metric."""
    if not changes or not changes["metrics"]:
        return None
    metrics = list(changes["metrics"])
    variants = [r["variant"] for r in changes["metrics"][metrics[0]]]
    rows = []
    for v in variants:
        cells = []
        for m in metrics:
            r = next(x for x in changes["metrics"][m] if x["variant"] == v)
            move = r["move"]
            arrow = "" if move is None else "=" if move == 0 else f"{'↑' if move > 0 else '↓'}{abs(move)}"
            cells.append({"text": f"{r['rank_versus'] or '–'} → {r['rank'] or '–'}", "move": arrow,
                          "moved": bool(move)})
        rows.append({"variant": v, "href": variant_href(v), "cells": cells, "moved": any(c["moved"] for c in cells)})
    return {"versus": changes["versus"], "budgets": changes["budgets"], "study": changes["study"],
            "headers": [catalog.metric(m).heading for m in metrics], "rows": rows,
            "movers": [r["variant"] for r in rows if r["moved"]]}


CIFAR10_SPLITS = {"train": ("train", 50_000), "test": ("eval", 10_000)}  # a published reference -> ours, size


def _published_protocol(row: dict) -> str:
    """A published CIFAR-10 FID's protocol name, from its N, reference split and reference size."""
    split, size = CIFAR10_SPLITS[row["reference"]]
    return metric_protocols.name("fid", row["n_gen"], split, row["n_ref"], size)


def _published_image_rows(dataset: str, metrics: list[catalog.MetricInfo]) -> list[dict]:
    """The published rows of an image dataset (CIFAR-10 only so far), FID and IS under our Inception FID and IS
    columns and the protocol each was measured under in words: N, reference split, library, source. Reference
    rows only: they never reach the summary, a rank or a download. A published value whose column this table
    lacks (IS without the Inception head) is shown in the row's note instead."""
    names = [m.name for m in metrics]
    rows = []
    for p in PUBLISHED_CIFAR10 if dataset == "cifar10" else []:
        values = {"fid": p["fid"], "is": p["is"]}
        rows.append({
            "model": p["model"], "source": p["source"], "verified": p["verified"], "note": p.get("note"),
            "protocol": (f"{_published_protocol(p)} · {'class-conditional' if p['conditional'] else 'unconditional'} · "
                         f"N = {p['n_gen']:,} generated vs {p['n_ref']:,} {p['reference']}-split images · "
                         f"{p['library']}"),
            "cells": [values.get(n) or "–" for n in names],
            "elsewhere": [f"{label} {values[key]}" for key, label in (("fid", "FID"), ("is", "IS"))
                          if values[key] and key not in names],
        })
    return rows


GUEST = "tokenizer + prior"
EMPTY_CELL = {"sort": None, "mean": "–", "std": "–", "ci": "[–, –]", "rank": None, "seeds": None}


def _guest_rows(tables: Tables, study: str, dataset: str, metrics: list[catalog.MetricInfo]) -> tuple[list, list]:
    """(rows, spec lines): the generation rows a tokenizer study lends this leaderboard (bench/tables/tokenizer.py
    `leaderboard_guests`: only where every column they fill was measured under this table's protocols), never
    ranked, as they trained under their own study's budget; and a line per study saying so, or why its rows are out."""
    rows, lines = [], []
    for guest in leaderboard_guests(tables.summary, tables.specs, tables.kinds, study, dataset,
                                    [m.name for m in metrics]):
        name, columns = guest["study"], guest["columns"]
        if guest["differences"] or not columns:
            why = "; ".join(guest["differences"]) or "none of this table's columns was measured under its protocols"
            lines.append(f"study {name}'s {GUEST} rows are left out: {why}")
            continue
        named = sorted({protocols.of_column(m.name, m.backbone, tables.specs[f"{study}/{dataset}"])
                        for m in metrics if m.name in columns})
        lines.append(f"rows marked “{GUEST}” are study {name}'s (a tokenizer and a transformer prior over its codes, "
                     f"the prior's samples decoded), scored under this table's protocols ({', '.join(named)}); trained "
                     "under that study's budget, so shown beside the ranks, not ranked; their kimg, wall s and GFLOP "
                     "are stage 1's; columns without a protocol name are left empty; the downloads hold this study's "
                     "rows only")
        for _, row in guest["rows"].iterrows():
            cells = [{**(_cell(row, m.name, m.scale) if m.name in columns else EMPTY_CELL), "rank": None, "tied": False,
                      "trained_against": trained_against(m.backbone, row.get("trained_against"))} for m in metrics]
            rows.append({
                "variant": f"{row['variant']} ({GUEST})", "href": f"{slug(name)}.html#{dataset}",
                "paper": f"from study {name}: not ranked", "families": [GUEST], "family_key": GUEST,
                "trained_against": str(row.get("trained_against") or "").replace(",", ", "), "compare": None,
                "cells": cells, "n_seeds": int(row["n_seeds"]), "diverged": diverged_text(row),
                "health": health_cell(row), "wall_s": fmt(row["wall_s_mean"], digits=0),
                "kimg": fmt(row["kimg_mean"], digits=1), "gflops": fmt(row["flops_total_mean"], 1e-9, digits=0),
                "peak_mb": fmt(row.get("peak_rss_mb_mean"), digits=0)})
    return rows, lines


def _by_first_column(rows: list[dict], first: catalog.MetricInfo) -> list[dict]:
    """The rows in the table's default order (best mean of the first column first, missing last); stable, so the
    ranked rows keep their order among themselves."""
    sign = 1 if first.lower_is_better else -1
    return sorted(rows, key=lambda r: (r["cells"][0]["sort"] is None, sign * (r["cells"][0]["sort"] or 0.0)))


def leaderboard_sections(tables: Tables, study_filter: str | None = None) -> list[dict]:
    sections = []
    for (study, dataset), block in tables.summary.groupby(["study", "dataset"], sort=True):
        if tables.kind(study) != "table" or (study_filter and study != study_filter):
            continue
        spec = tables.specs[f"{study}/{dataset}"]
        is_images = spec.get("kind", "images") == "images"
        metrics = columns_of(block, spec.get("kind", "images"))
        if not metrics:  # every run of this table diverged: its rows say so, with no metric column
            ordered = block.sort_values("variant")
        else:
            ordered = block.sort_values(f"{metrics[0].name}_mean", ascending=bool(metrics[0].lower_is_better))
        cells_by_metric = {m.name: [_cell(row, m.name, m.scale) for _, row in ordered.iterrows()] for m in metrics}
        tied = {m: _tied([c["rank"] for c in cells]) for m, cells in cells_by_metric.items()}
        rows = []
        for i, (_, row) in enumerate(ordered.iterrows()):
            info = tables.info(row["variant"])
            cells = []
            for m in metrics:
                cell = dict(cells_by_metric[m.name][i])
                cell["tied"] = cell["rank"] in tied[m.name]
                cell["trained_against"] = trained_against(m.backbone, row.get("trained_against"))
                cells.append(cell)
            rows.append({
                "variant": row["variant"], "href": variant_href(row["variant"]), "paper": info["paper"],
                "families": info["families"], "family_key": "|".join(info["families"]),
                "trained_against": str(row.get("trained_against") or "").replace(",", ", "),
                "compare": compare_href(row["variant"]) if row["variant"] in tables.comparisons else None,
                "cells": cells, "n_seeds": int(row["n_seeds"]), "diverged": diverged_text(row),
                "health": health_cell(row),
                "wall_s": fmt(row["wall_s_mean"], digits=0),
                "kimg": fmt(row["kimg_mean"], digits=1), "gflops": fmt(row["flops_total_mean"], 1e-9, digits=0),
                "peak_mb": fmt(row.get("peak_rss_mb_mean"), digits=0),
            })
        spec_lines = _spec_lines(spec)
        if (line := _conditional_line(tables.conditional.get(f"{study}/{dataset}"))) is not None:
            spec_lines.append(line)
        if metrics:
            guests, lines = _guest_rows(tables, study, dataset, metrics)
            rows, spec_lines = (_by_first_column(rows + guests, metrics[0]) if guests else rows), spec_lines + lines
        curves = [c for c in tables.curves.values() if c["study"] == study and c["dataset"] == dataset]
        families = sorted({f for r in rows for f in r["families"]})
        sections.append({
            "id": slug(f"{study}-{dataset}"), "study": study, "dataset": dataset, "is_images": is_images,
            "spec_text": json.dumps(spec, indent=1, sort_keys=True), "spec_lines": spec_lines,
            "headers": [_header(m, spec) for m in metrics], "rows": rows, "families": families,
            "downloads": {"csv": f"tables/{slug(f'{study}-{dataset}')}.csv",
                          "json": f"tables/{slug(f'{study}-{dataset}')}.json"},
            "compute_svgs": _equal_compute_svgs(curves),
            "leaders": _leader_rows(tables.budget_leaders.get(f"{study}/{dataset}")),
            "rank_changes": _rank_change_block(tables.rank_changes.get(f"{study}/{dataset}")),
            "leader_metric": curve_label(curves[0]["metric"], curves[0]["n"]) if curves else None,
            "published": [] if is_images else PUBLISHED_MODES.get(dataset, []),
            "published_images": _published_image_rows(dataset, metrics) if is_images else [],
        })
    return sections


