"""The tokenizer study's page (kind `tokenizer`): per dataset, stage 1's reconstruction and codebook table,
factorized against plain codes with its verdict, the prior's decoded samples scored as every generator is, the
reconstruction loss and VQ-GAN's lambda around D's start, and each run's reconstructions beside its prior samples.
Reads results/tables/tokenizer.json (bench/tables/tokenizer.py), the runs table and the images it names."""

from __future__ import annotations

import math

from bench.measurement import catalog
from bench.report.format import fmt
from bench.report.site import Images, Tables, variant_href
from bench.report.svg_chart import Series, line_chart

MARKER = "#888"  # the vertical line at D's start
KIMG = "stage-1 kimg (images shown, thousands)"


def _digits(metric: str) -> int:
    """(r)FID, KID (x10^3), percentages and the perplexity to 0.1, PSNR (dB) and ms to 0.01, the rest to 0.001."""
    info = catalog.metric(metric)
    if metric.startswith(("fid", "kid", "rfid")) or info.scale == 100.0 or metric == "codebook_perplexity":
        return 1
    return 2 if info.unit in ("dB", "ms") else 3


def _header(metric: str) -> dict:
    info = catalog.metric(metric)
    arrow = {True: " ↓", False: " ↑", None: ""}[info.lower_is_better]
    return {"label": info.heading + arrow, "description": info.description}


def _value(metric: str, value: float | None) -> str:
    info = catalog.metric(metric)
    return fmt(value, info.scale, _digits(metric))


def _shown(metric: str, cell: dict | None) -> dict | None:
    """A cell as text: mean ± std, its 95% CI, and whether its tied rank is 1 (best or not separable from it)."""
    if cell is None:
        return None
    text = _value(metric, cell["mean"]) + (f" ± {_value(metric, cell['std'])}" if cell.get("std") is not None else "")
    ci = f"[{_value(metric, cell['ci_low'])}, {_value(metric, cell['ci_high'])}]" if cell.get("ci_low") is not None \
        else ""
    best = catalog.metric(metric).lower_is_better is not None and cell.get("rank") == 1
    return {"text": text, "ci": ci, "best": best, "sort": cell["mean"]}


def _model(model: dict) -> dict:
    """What a variant's spec says of its model, as the table's text cells."""
    subset = model.get("train_subset", "?")
    grid = model.get("grid")
    return {"family": model.get("family") or "–", "codes": model.get("codes") or "–",
            "n_codes": model.get("n_codes") or "–", "grid": " × ".join(map(str, grid)) if grid else "–",
            "train_subset": "–" if subset == "?" else "all" if subset is None else f"{subset:,}",
            "disc_start": fmt(model.get("disc_start_kimg"), digits=2),
            "prior": [f"{k} {v}" for k, v in sorted((model.get("prior") or {}).items())
                      if not isinstance(v, dict | list)]}


def _table(table: dict) -> dict:
    return {"headers": [_header(m) for m in table["metrics"]],
            "rows": [{"variant": r["variant"], "href": variant_href(r["variant"]), "n_seeds": r["n_seeds"],
                      "n_diverged": r["n_diverged"], "model": _model(r.get("model") or {}),
                      "cells": [_shown(m, r["cells"].get(m)) for m in table["metrics"]]} for r in table["rows"]]}


def _pair(pair: dict) -> dict:
    rows = []
    for r in pair["metrics"]:
        m = r["metric"]
        low, high = r["difference_ci"]
        rows.append({
            "label": r["label"], "outcome": r["outcome"], "verdict": r["verdict"],
            "factorized": f"{_value(m, r['factorized']['mean'])} ± {_value(m, r['factorized']['std'])}",
            "plain": f"{_value(m, r['plain']['mean'])} ± {_value(m, r['plain']['std'])}",
            "difference": (f"{'+' if r['difference'] > 0 else ''}{_value(m, r['difference'])}"
                           + (f" [{_value(m, low)}, {_value(m, high)}]" if low is not None else "")),
            "seeds": [f"s{s['seed']}: {_value(m, s['factorized'])} vs {_value(m, s['plain'])}" for s in r["seeds"]],
            "p": "n/a" if r["p_holm"] is None or math.isnan(r["p_holm"]) else f"{r['p_holm']:.2g}"})
    return {"factorized": pair["factorized"], "plain": pair["plain"], "rows": rows, "verdict": pair["verdict"],
            "alpha": pair["alpha"]}


def _chart(runs: list[dict], key: str, label: str, title: str) -> str:
    """Every seed's `key` over kimg, with D's start drawn as a vertical line."""
    series = [Series(f"seed {r['seed']}", [p[0] for p in r[key]], [p[1] for p in r[key]]) for r in runs if r[key]]
    values = [y for s in series for y in s.y]
    if not values:
        return ""
    log_y = min(values) > 0 and max(values) / min(values) > 50
    for start in sorted({r["disc_start_kimg"] for r in runs if r["disc_start_kimg"] is not None}):
        series.append(Series(f"D starts, {start:g} kimg", [start, start], [min(values), max(values)], color=MARKER))
    return line_chart(series, KIMG, label, log_y=log_y, title=title)


def _d_start(entry: dict) -> dict:
    runs = entry["runs"]
    rows = [{"variant": r["variant"], "seed": r["seed"], "start": fmt(r["disc_start_kimg"], digits=2),
             "before": fmt(r["before"], digits=4), "after": fmt(r["after"], digits=4),
             "before_kimg": ", ".join(f"{k:g}" for k in r["before_kimg"]),
             "after_kimg": ", ".join(f"{k:g}" for k in r["after_kimg"]),
             "change": "–" if r["change"] is None else f"{r['change']:+.4f}",
             "relative": "–" if r["relative"] is None else f"{100 * r['relative']:+.1f} %",
             "rose": r["change"] is not None and r["change"] > 0, "reason": r["reason"]} for r in runs]
    variants = []
    for v in entry["variants"]:
        of_variant = [r for r in runs if r["variant"] == v["variant"]]
        charts = (_chart(of_variant, "rec", "reconstruction loss", f"{v['variant']}: rec per seed"),
                  _chart(of_variant, "lambda", "λ (adaptive weight)", f"{v['variant']}: λ per seed"))
        variants.append({"variant": v["variant"], "text": _change_text(v), "svgs": [svg for svg in charts if svg]})
    return {"rows": rows, "variants": variants, "points": entry["points"]}


def _change_text(v: dict) -> str:
    """A variant's change of rec across D's start over its seeds, in words."""
    if not v["n"]:
        return "no seed has curve points on both sides of D's start"
    text = f"rec rose in {v['rose']} of {v['n']} seeds after D started; mean change {v['mean']:+.4f}"
    if v["relative_mean"] is not None:
        text += f" ({100 * v['relative_mean']:+.1f} %)"
    if v["ci_low"] is not None:
        text += f", std {v['std']:.4f}, 95% CI [{v['ci_low']:.4f}, {v['ci_high']:.4f}]"
    return text


def _prior_svgs(curves: list[dict]) -> list[str]:
    by_variant: dict[str, list[dict]] = {}
    for c in curves:
        by_variant.setdefault(c["variant"], []).append(c)
    return [line_chart([Series(f"seed {c['seed']}", [p[0] for p in c["loss"]], [p[1] for p in c["loss"]])
                        for c in of_variant], "prior kimg (code sequences shown, thousands)", "cross-entropy (nats)",
                       title=f"{variant}: the prior's loss per seed")
            for variant, of_variant in by_variant.items() if any(c["loss"] for c in of_variant)]


def _grids(tables: Tables, images: Images, study: str, dataset: str, order: list[str]) -> list[dict]:
    runs = tables.runs[(tables.runs["study"] == study) & (tables.runs["dataset"] == dataset)]
    rank = {v: i for i, v in enumerate(order)}
    grids = [{"variant": r["variant"], "seed": int(r["seed"]), "samples": images(r["samples"]),
              "reconstructions": images(r["reconstructions"]) if isinstance(r.get("reconstructions"), str) else None}
             for _, r in runs.iterrows()]
    return sorted(grids, key=lambda g: (rank.get(g["variant"], len(rank)), g["seed"]))


def _measured(spec: dict) -> list[str]:
    """How the numbers were measured, from the table's metric spec, in words."""
    tokenizer, sampling = spec.get("tokenizer") or {}, spec.get("sampling") or {}
    lines = [f"N = {spec.get('n_gen', '?')} prior samples per run, scored as every generator's samples are"]
    if tokenizer:
        n_test = tokenizer.get("n_test")
        lines.append(f"PSNR, SSIM and the codebook over all {n_test:,} test images; rFID from the first "
                     f"{tokenizer.get('n_rfid', n_test):,} reconstructions against the samples' reference"
                     if n_test is not None else "how the tokenizer metrics were measured is not stated")
    if sampling:
        lines.append("sampling: " + ", ".join(f"{k} {sampling[k]}" for k in ("temperature", "top_k", "top_p", "batch")
                                              if k in sampling)
                     + (f" on {spec.get('device')}" if spec.get("device") else "") + " (ms per image compare only "
                     "within one device type)")
    return lines


def tokenizer_sections(study: str, tables: Tables, images: Images) -> list[dict]:
    """One section per dataset of the study."""
    sections = []
    for key, entry in sorted(tables.tokenizer.items()):
        if entry["study"] != study:
            continue
        order = [r["variant"] for r in entry["table"]["rows"]]
        sections.append({
            "dataset": entry["dataset"], "measured": _measured(tables.specs.get(key, {})),
            "table": _table(entry["table"]), "generation": _table(entry["generation"]),
            "pairs": [_pair(p) for p in entry["pairs"]], "d_start": _d_start(entry["d_start"]),
            "prior_svgs": _prior_svgs(entry["prior_curves"]),
            "grids": _grids(tables, images, study, entry["dataset"], order)})
    return sections
