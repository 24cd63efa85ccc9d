"""A new method against the baselines, over training seeds, at equal budget (one study's runs), and at equal
training FLOPs on the quality curve (`compare_at_equal_flops`).

For each study x dataset where the new variant has runs, and each baseline and metric: mean and 95%
bootstrap CI of both, the difference of means with its bootstrap CI, a Welch test over seeds with Holm's
correction over every comparison made for that dataset, the probability of improvement (the share of
seed pairs in which the new method is better, ties counting one half) and a verdict: better or worse
when the Holm-corrected p-value is below alpha, else tied. Reads results/tables/runs.json.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from bench.measurement import catalog
from bench.protocol.errors import CompareError
from bench.tables.stats import CONFIDENCE, N_RESAMPLES, holm, summarize

ALPHA = 0.05


def difference_ci(new: np.ndarray, base: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap CI of mean(new) - mean(base), resampling each group's seeds on its own."""
    if len(new) < 2 or len(base) < 2:
        return math.nan, math.nan
    if np.ptp(new) == 0 and np.ptp(base) == 0:
        point = float(new[0] - base[0])
        return point, point
    result = stats.bootstrap((new, base), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                             confidence_level=CONFIDENCE, n_resamples=N_RESAMPLES, method="percentile",
                             vectorized=True, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def welch_p(new: np.ndarray, base: np.ndarray) -> float:
    """Two-sided Welch test over seeds; NaN with fewer than 2 seeds on either side; 1 when nothing varies
    and the means are equal, 0 when nothing varies and they differ."""
    if len(new) < 2 or len(base) < 2:
        return math.nan
    if np.ptp(new) == 0 and np.ptp(base) == 0:
        return 1.0 if new[0] == base[0] else 0.0
    with warnings.catch_warnings():  # one side constant: scipy warns of cancellation in its exact-0 variance
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(new, base, equal_var=False).pvalue)


def probability_of_improvement(new: np.ndarray, base: np.ndarray, lower_is_better: bool) -> float:
    """Share of (new seed, baseline seed) pairs where the new method is better; ties count 1/2."""
    diff = new[:, None] - base[None, :]
    better = (diff < 0) if lower_is_better else (diff > 0)
    return float(better.mean() + 0.5 * (diff == 0).mean())


def verdict(mean_diff: float, p_holm: float, lower_is_better: bool, alpha: float = ALPHA) -> str:
    if math.isnan(p_holm) or p_holm >= alpha:
        return "tied"
    return "better" if (mean_diff < 0) == lower_is_better else "worse"


def _diverged(block: pd.DataFrame, variant: str) -> int:
    """Seeds of `variant` in this block that diverged (they have no metrics; the tests use the others)."""
    if "diverged" not in block:
        return 0
    return int(block.loc[block["variant"] == variant, "diverged"].fillna(False).astype(bool).sum())


def baselines_of(runs: pd.DataFrame, new: str, builtin: dict[str, bool] | None = None) -> list[str]:
    """Every other variant with runs where `new` has runs; with `builtin` (variant -> registered by the
    harness itself), only those: other users' methods are not baselines."""
    blocks = runs[runs["variant"] == new][["study", "dataset"]].drop_duplicates()
    shared = runs.merge(blocks, on=["study", "dataset"])
    names = sorted(set(shared["variant"]) - {new})
    return [n for n in names if builtin is None or builtin.get(n, True)]


def compare(runs: pd.DataFrame, new: str, against: list[str], metrics: list[str] | None = None,
            alpha: float = ALPHA) -> list[dict]:
    """One row per study x dataset x baseline x metric (see the module docstring); p_holm is corrected
    over all rows of the same study x dataset."""
    if new not in set(runs["variant"]):
        known = ", ".join(sorted(set(runs["variant"])))
        raise CompareError(f"no runs of {new!r} in results/tables/runs.json (variants with runs: {known}); "
                           "add it to a study and run `dvc repro`")
    known = catalog.summarized()
    unknown = [metric for metric in (metrics or []) if metric not in known]
    if unknown:
        raise CompareError(f"unknown metrics {', '.join(unknown)}; known: {', '.join(known)}")
    rows = []
    for (study, dataset), block in runs.groupby(["study", "dataset"], sort=True):
        if new not in set(block["variant"]):
            continue
        family = []
        for base in against:
            if base not in set(block["variant"]):
                continue
            for metric in metrics or catalog.compared_by_default():
                a = block.loc[block["variant"] == new, metric].dropna().to_numpy(float) if metric in block else []
                b = block.loc[block["variant"] == base, metric].dropna().to_numpy(float) if metric in block else []
                if len(a) == 0 or len(b) == 0:
                    continue
                info = catalog.metric(metric)
                family.append({
                    "study": study, "dataset": dataset, "new": new, "baseline": base, "metric": metric,
                    "new_diverged": _diverged(block, new), "baseline_diverged": _diverged(block, base),
                    "label": info.heading, "scale": info.scale, **_statistics(a, b, bool(info.lower_is_better)),
                })
        rows.extend(_corrected(family, alpha))
    if not rows:
        raise CompareError(f"{new!r} shares no dataset and metric with {', '.join(against) or 'any baseline'}; "
                           "put them in the same study")
    return rows


def _statistics(a: np.ndarray, b: np.ndarray, lower: bool) -> dict:
    """The new method's seeds `a` against the baseline's `b`: both summaries, the difference with its CI, the
    Welch p-value and the probability of improvement."""
    return {"lower_is_better": lower, "new_summary": summarize(a), "baseline_summary": summarize(b),
            "difference": float(a.mean() - b.mean()), "difference_ci": list(difference_ci(a, b)),
            "p": welch_p(a, b), "p_improvement": probability_of_improvement(a, b, lower)}


def _corrected(family: list[dict], alpha: float) -> list[dict]:
    """The comparisons of one study x dataset with their Holm-corrected p-values and verdicts."""
    if not family:
        return []
    adjusted = holm([1.0 if math.isnan(r["p"]) else r["p"] for r in family])
    for row, p_holm in zip(family, adjusted, strict=True):
        row["p_holm"] = math.nan if math.isnan(row["p"]) else p_holm
        row["n_comparisons"] = len(family)
        row["verdict"] = verdict(row["difference"], row["p_holm"], row["lower_is_better"], alpha)
    return family


def _seeds_at_gflop(curve: dict, budget: float) -> tuple[np.ndarray, float | None]:
    """Each seed's curve value at its last point within `budget` GFLOP, and that point's kimg."""
    gflop = {round(p["kimg"], 6): p["gflop"] for p in curve["points"]}
    values, at = [], None
    for points in curve["seeds"].values():
        within = [(kimg, value) for kimg, value in points if gflop.get(round(kimg, 6), math.inf) <= budget + 1e-9]
        if within:
            at, value = within[-1]
            values.append(value)
    return np.asarray(values, float), at


def compare_at_equal_flops(curves: dict, new: str, against: list[str], alpha: float = ALPHA) -> list[dict]:
    """The new method against each baseline at equal training FLOPs: on the quality curve (the evaluate stage's
    fixed-latent curve metric), each run read at its last curve point within the smaller of the two
    variants' total GFLOP, so the cheaper run's whole budget meets the same compute of the dearer one. The same
    statistics and Holm correction as `compare`, over the baselines of each study x dataset."""
    tables: dict[tuple[str, str], dict[str, dict]] = {}
    for curve in curves.values():
        tables.setdefault((curve["study"], curve["dataset"]), {})[curve["variant"]] = curve
    rows = []
    for (study, dataset), table in sorted(tables.items()):
        if new not in table:
            continue
        family = []
        for base in (b for b in against if b in table):
            mine, theirs = table[new], table[base]
            budget = min(mine["points"][-1]["gflop"], theirs["points"][-1]["gflop"])
            (a, new_kimg), (b, base_kimg) = _seeds_at_gflop(mine, budget), _seeds_at_gflop(theirs, budget)
            if len(a) == 0 or len(b) == 0:
                continue
            info = catalog.metric(mine["metric"])
            family.append({
                "study": study, "dataset": dataset, "new": new, "baseline": base, "metric": mine["metric"],
                "label": f"{info.heading} (curve, N={mine['n']})", "scale": info.scale, "gflop": budget,
                "new_kimg": new_kimg, "baseline_kimg": base_kimg, **_statistics(a, b, bool(info.lower_is_better)),
            })
        rows.extend(_corrected(family, alpha))
    return rows


def number(value: float | None, scale: float = 1.0, missing: str = "n/a") -> str:
    """3 significant digits below 10, one decimal above (how the terminal and the report print values)."""
    if value is None or math.isnan(value):
        return missing
    v = value * scale
    return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"


def interval(mean: float, low: float, high: float, scale: float = 1.0, missing: str = "n/a") -> str:
    """`mean [low, high]`."""
    return f"{number(mean, scale, missing)} [{number(low, scale, missing)}, {number(high, scale, missing)}]"


def cells(row: dict, missing: str = "n/a") -> dict[str, str]:
    """One comparison row as text: the new method's and the baseline's mean [CI], and the difference [CI]."""
    s = row["scale"]
    new, base = row["new_summary"], row["baseline_summary"]
    return {"new": interval(new["mean"], new["ci_low"], new["ci_high"], s, missing),
            "base": interval(base["mean"], base["ci_low"], base["ci_high"], s, missing),
            "difference": interval(row["difference"], *row["difference_ci"], s, missing)}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary_text(rows: list[dict], alpha: float = ALPHA) -> str:
    """A plain-language paragraph for one study x dataset, written from the numbers."""
    first = rows[0]
    new, where = first["new"], f"{first['dataset']} (study {first['study']})"
    n_new = first["new_summary"]["n"]
    n_base = sorted({r["baseline_summary"]["n"] for r in rows})
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("better", "worse", "tied")}
    n_baselines, n_metrics = len({r["baseline"] for r in rows}), len({r["metric"] for r in rows})
    parts = [f"On {where}, {new} ({n_new} seeds) was compared with {_count(n_baselines, 'baseline')} "
             f"({'/'.join(map(str, n_base))} seeds each) on {_count(n_metrics, 'metric')}: "
             f"{_count(len(rows), 'comparison')}, Welch tests over seeds, Holm-corrected at alpha = {alpha}."]
    if counts["better"] == counts["worse"] == 0:
        parts.append("No difference is statistically separable at this number of seeds: every comparison is "
                     "tied.")
    for kind in ("better", "worse"):
        hits = [r for r in rows if r["verdict"] == kind]
        if hits:
            listed = "; ".join(f"{r['label']} vs {r['baseline']} ({number(r['new_summary']['mean'], r['scale'])} vs "
                               f"{number(r['baseline_summary']['mean'], r['scale'])}, p = {r['p_holm']:.3g})"
                               for r in hits)
            parts.append(f"It is {kind} on {len(hits)}: {listed}.")
    leaning = [r for r in rows if r["verdict"] == "tied" and r["p_improvement"] in (0.0, 1.0)]
    if leaning:
        parts.append(f"{len(leaning)} tied comparisons nevertheless had every seed pair on one side "
                     "(probability of improvement 0 or 1): more seeds may separate them.")
    new_diverged = first.get("new_diverged", 0)
    if new_diverged:
        parts.append(f"{new} diverged on {_count(new_diverged, 'seed')} (no metrics; the tests use the seeds that "
                     "trained to the end, so its numbers describe the survivors, not the method).")
    diverged_bases = sorted({r["baseline"] for r in rows if r.get("baseline_diverged")})
    if diverged_bases:
        parts.append(f"Baselines with diverged seeds (left out of their tests): {', '.join(diverged_bases)}.")
    if n_new < 3 or min(n_base) < 3:
        parts.append("With fewer than 3 seeds on a side the tests have little power; treat ties as "
                     "'not shown', not as 'equal'.")
    return " ".join(parts)


def format_table(rows: list[dict]) -> str:
    """The comparison as terminal text: one block per study x dataset, one line per baseline x metric."""
    out = []
    header = (f"{'baseline':<16} {'metric':<26} {'new: mean [95% CI]':<26} {'baseline: mean [95% CI]':<26} "
              f"{'difference [95% CI]':<28} {'p (Holm)':>9} {'P(better)':>9}  verdict")
    for (study, dataset), block in pd.DataFrame(rows).groupby(["study", "dataset"], sort=True):
        records = block.to_dict("records")
        out.append(f"== {dataset} (study {study}): {records[0]['new']} "
                   f"({records[0]['new_summary']['n']} seeds), {_count(records[0]['n_comparisons'], 'comparison')}")
        out.append(header)
        for r in records:
            text = cells(r)
            p = "n/a" if math.isnan(r["p_holm"]) else f"{r['p_holm']:.3g}"
            out.append(f"{r['baseline']:<16} {r['label']:<26} {text['new']:<26} "
                       f"{text['base']:<26} {text['difference']:<28} {p:>9} {r['p_improvement']:>9.2f}  "
                       f"{r['verdict']}")
        out.append(summary_text(records))
        out.append("")
    return "\n".join(out)
