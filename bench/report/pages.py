"""The report's page per variant (paper, recipe, metrics per study and dataset, curves of every seed, sample
grids, truncation curve) and page per new method (its comparison against the baselines)."""

from __future__ import annotations

import math

import pandas as pd

from bench.measurement import catalog
from bench.measurement.metrics.info import trained_against
from bench.protocol.io import read_json
from bench.report.format import figure_svg, fmt, pyplot
from bench.report.health import health_charts, seed_health
from bench.report.site import Images, Tables, columns_of, compare_href, curve_label, variant_href
from bench.report.svg_chart import Series, line_chart
from bench.tables.compare import cells, summary_text


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
            std = [0.0 if p[key]["std"] is None or math.isnan(p[key]["std"]) else p[key]["std"]  # one seed: none
                   for p in finite]
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


def _curve_chart(curve: dict) -> str:
    """Every seed's curve (thin), their mean and the band from the lowest to the highest seed."""
    metric = curve["metric"]
    series = [Series(f"seed {seed}", [p[0] for p in points], [p[1] for p in points], thin=True, color="#888")
              for seed, points in sorted(curve["seeds"].items())]
    points = curve["points"]
    series.append(Series(f"mean of {len(curve['seeds'])} seeds", [p["kimg"] for p in points],
                         [p["mean"] for p in points], band=([p["min"] for p in points], [p["max"] for p in points]),
                         color="#1f77b4"))
    return line_chart(series, "kimg (images shown to D, thousands)",
                      curve_label(metric, curve["n"]), log_y=catalog.metric(metric).log_axis,
                      title=f"{curve['study']} / {curve['dataset']}: seeds, mean and min–max band")


def _ada_chart(tables: Tables, runs: pd.DataFrame) -> str:
    """ADA's p (solid) and the r_t it was last updated from (thin) over training, one pair per seed, from the
    runs' training curves; empty when the runs keep no p."""
    series = []
    for _, run in runs.sort_values("seed").iterrows():
        path = tables.root / str(run["losses"])
        points = [p for p in read_json(path).get("points", []) if "ada_p" in p] if path.is_file() else []
        if points:
            series.append(Series(f"p, seed {int(run['seed'])}", [p["kimg"] for p in points],
                                 [p["ada_p"] for p in points]))
            with_rt = [p for p in points if "ada_rt" in p]
            series.append(Series(f"r_t, seed {int(run['seed'])}", [p["kimg"] for p in with_rt],
                                 [p["ada_rt"] for p in with_rt], thin=True))
    return line_chart(series, "kimg (images shown to D, thousands)", "p and r_t (target 0.6)",
                      title="ADA: augmentation probability p and the overfitting heuristic r_t") if series else ""


def _variant_section(tables: Tables, images: Images, variant: str, study: str, dataset: str,
                     row: pd.Series, block: pd.DataFrame) -> dict:
    spec = tables.specs[f"{study}/{dataset}"]
    metrics = columns_of(block, spec.get("kind", "images"))
    metric_rows = []
    for info in metrics:
        column, label, scale = info.name, info.heading, info.scale
        mean = row.get(f"{column}_mean")
        if mean is None or pd.isna(mean):
            continue  # not measured for this variant (e.g. intra-class FID of an unconditional G)
        rank = row.get(f"{column}_rank")
        shared = int((block[f"{column}_rank"] == rank).sum()) if f"{column}_rank" in block else 0
        n_ranked = int(block[f"{column}_rank"].notna().sum()) if f"{column}_rank" in block else 0
        tie = f" (tied with {shared - 1})" if shared > 1 else ""
        marked = trained_against(info.backbone, row.get("trained_against"))
        metric_rows.append({
            "label": label + (f" † trained against {marked}" if marked else ""), "mean": fmt(mean, scale),
            "std": fmt(row.get(f"{column}_std"), scale),
            "ci": f"[{fmt(row.get(f'{column}_ci_low'), scale)}, {fmt(row.get(f'{column}_ci_high'), scale)}]",
            "rank": "–" if rank is None or pd.isna(rank) else f"{'=' if tie else ''}{int(rank)} of {n_ranked}{tie}",
        })
    runs = tables.runs[(tables.runs["study"] == study) & (tables.runs["dataset"] == dataset)
                       & (tables.runs["variant"] == variant)]
    seeds = [{"seed": int(r["seed"]), "run": r["run"], "config_hash": r["config_hash"],
              "kimg": fmt(r["kimg"], digits=1), "wall_s": fmt(r["wall_s"], digits=0),
              "gflops": fmt(r["flops_total"], 1e-9, digits=0), "peak_mb": fmt(r.get("peak_rss_mb"), digits=0),
              "device": r.get("device") or "?", "src": images(r["samples"]),
              "diverged": (f"diverged at {fmt(r['diverged_kimg'], digits=3)} kimg: {r['diverged_reason']}"
                           if r.get("diverged") else None)}
             for _, r in runs.iterrows()]
    curve = tables.curves.get(f"{study}/{dataset}/{variant}")
    truncation = tables.truncation.get(f"{study}/{dataset}/{variant}")
    return {
        "study": study, "dataset": dataset, "metrics": metric_rows, "seeds": seeds,
        "n_seeds": int(row["n_seeds"]), "n_variants": len(block),
        "cost": {"kimg": fmt(row.get("kimg_mean"), digits=1), "wall_s": fmt(row.get("wall_s_mean"), digits=0),
                 "gflops": fmt(row.get("flops_total_mean"), 1e-9, digits=0),
                 "peak_mb": fmt(row.get("peak_rss_mb_mean"), digits=0)},
        "curve_svg": _curve_chart(curve) if curve else "",
        "ada_svg": _ada_chart(tables, runs),
        "health": [h for _, r in runs.sort_values("seed").iterrows() if (h := seed_health(r, images)) is not None],
        "health_svgs": health_charts(tables.root, runs),
        "trained_against": str(row.get("trained_against") or "").replace(",", ", "),
        "truncation_svg": _truncation_svg([truncation]) if truncation else "",
        "truncation": {**truncation, "rows": _truncation_rows(truncation)} if truncation else None,
    }


def _recipe_rows(recipe: dict) -> list[dict]:
    return [{"key": k, "value": "–" if v is None else (", ".join(map(str, v)) if isinstance(v, list) else str(v))}
            for k, v in sorted(recipe.items())]


def variant_pages(tables: Tables, images: Images) -> dict[str, tuple[str, dict]]:
    pages = {}
    for variant, rows in tables.summary.groupby("variant", sort=True):
        info = tables.info(variant)
        sections = []
        for _, row in rows.sort_values(["study", "dataset"]).iterrows():
            block = tables.summary[(tables.summary["study"] == row["study"])
                                   & (tables.summary["dataset"] == row["dataset"])]
            sections.append(_variant_section(tables, images, variant, row["study"], row["dataset"], row, block))
        pages[variant_href(variant)] = ("variant.html", {
            "title": variant, "info": info, "recipe": _recipe_rows(info.get("recipe", {})),
            "arch": _recipe_rows(info.get("arch", {})), "sections": sections,
            "compare": compare_href(variant) if variant in tables.comparisons else None,
        })
    return pages


def _verdict_rows(records: list[dict]) -> list[dict]:
    return [{"baseline": r["baseline"], "baseline_href": variant_href(r["baseline"]), "metric": r["label"],
             "direction": "lower is better" if r["lower_is_better"] else "higher is better", **cells(r, missing="–"),
             "p_holm": "n/a" if math.isnan(r["p_holm"]) else f"{r['p_holm']:.3g}",
             "p_sort": "" if math.isnan(r["p_holm"]) else r["p_holm"],
             "p_improvement": f"{r['p_improvement']:.2f}", "verdict": r["verdict"],
             "gflop": f"{r['gflop']:.1f}" if "gflop" in r else None,
             "kimg_at": (f"{r['new_kimg']:g} / {r['baseline_kimg']:g}" if "new_kimg" in r else None)}
            for r in records]


def _health_differences(summary: pd.DataFrame, study: str, dataset: str, variants: list[str]) -> list[str]:
    """For each compared variant whose seeds differ in health, which seeds a check flagged, e.g. "dcgan: 2 of 3
    seeds healthy (checkerboard: s0)": its means average over seeds that did not train alike."""
    rows = summary[(summary["study"] == study) & (summary["dataset"] == dataset)].set_index("variant")
    notes = []
    for variant in variants:
        if variant not in rows.index:
            continue
        row = rows.loc[variant]
        judged, healthy = row.get("n_judged"), row.get("n_healthy")
        if judged is None or pd.isna(judged) or int(healthy) == int(judged):
            continue
        flags = "; ".join(f for f in str(row.get("health_flags") or "").split(";") if f)
        notes.append(f"{variant}: {int(healthy)} of {int(judged)} seeds healthy ({flags})")
    return notes


def compare_pages(tables: Tables) -> dict[str, tuple[str, dict]]:
    """One page per new method: per study x dataset, the verdict table at equal images and a paragraph from its
    numbers, then the verdicts at equal training FLOPs on the quality curve."""
    pages = {}
    for name, rows in sorted(tables.comparisons.items()):
        blocks = []
        at_flops = pd.DataFrame(tables.comparisons_flops.get(name) or [])
        for (study, dataset), block in pd.DataFrame(rows).groupby(["study", "dataset"], sort=True):
            records = block.to_dict("records")
            flops = (at_flops[(at_flops["study"] == study) & (at_flops["dataset"] == dataset)].to_dict("records")
                     if len(at_flops) else [])
            blocks.append({"study": study, "dataset": dataset, "summary": summary_text(records),
                           "health": _health_differences(tables.summary, study, dataset,
                                                         [name, *dict.fromkeys(block["baseline"])]),
                           "n_comparisons": records[0]["n_comparisons"], "rows": _verdict_rows(records),
                           "flops_rows": _verdict_rows(flops)})
        pages[compare_href(name)] = ("compare.html", {
            "title": f"{name} against the baselines", "name": name, "info": tables.info(name),
            "href": variant_href(name), "blocks": blocks,
        })
    return pages
