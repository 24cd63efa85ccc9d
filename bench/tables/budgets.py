"""Tables about budgets (aggregate writes them): which variant leads at each budget along its quality curve,
and how a table's ranks change against another study's at a different budget (a study's `versus`).

budget_leaders.json: per study x dataset and axis (kimg, GFLOP, train wall seconds), the ranges of budget with
the same leading variant. rank_changes.json: per study with `versus`, each shared variant's tied rank there
and here on every metric both measured.
"""

from __future__ import annotations

import pandas as pd

from bench.measurement import catalog
from bench.tables.stats import tied_ranks

METRICS = catalog.summarized()


BUDGET_AXES = {"kimg": "kimg", "gflop": "GFLOP", "wall_s": "train wall seconds"}


def _at_budget(curve: dict, axis: str, budget: float) -> float | None:
    """A variant's mean curve value at its last point within `budget` on `axis` (None before its first)."""
    scale = curve["wall_s_per_kimg"] if axis == "wall_s" else 1.0
    within = [p for p in curve["points"] if (p["kimg"] * scale if axis != "gflop" else p["gflop"]) <= budget + 1e-9]
    return within[-1]["mean"] if within else None


def budget_leaders(curves: dict) -> dict:
    """Per study x dataset and budget axis (kimg, GFLOP, train wall seconds): which variant's mean quality curve
    is best at each budget B, reading each curve at its last point within B, as ranges of B with the same
    leader (or leaders, when the best value is shared).
    Descriptive (curve means over seeds, no test): the leaderboard's tests are at the end of the budget."""
    out: dict[str, dict] = {}
    by_table: dict[str, list[dict]] = {}
    for curve in curves.values():
        by_table.setdefault(f"{curve['study']}/{curve['dataset']}", []).append(curve)
    for table, group in sorted(by_table.items()):
        lower = group[0]["lower_is_better"]
        axes = {}
        for axis in BUDGET_AXES:
            budgets = sorted({(p["kimg"] * (c["wall_s_per_kimg"] if axis == "wall_s" else 1.0))
                              if axis != "gflop" else p["gflop"] for c in group for p in c["points"]})
            ranges: list[dict] = []
            for budget in budgets:
                values = {c["variant"]: v for c in group if (v := _at_budget(c, axis, budget)) is not None}
                if not values:
                    continue
                best = (min if lower else max)(values.values())
                leaders = [v for v in sorted(values) if values[v] == best]  # a tie is shared, never broken by name
                if ranges and ranges[-1]["leaders"] == leaders:  # the range's end: its value, and who had a point
                    ranges[-1].update({"to": budget, "value": best, "competitors": len(values)})
                else:
                    ranges.append({"from": budget, "to": budget, "leaders": leaders, "value": best,
                                   "competitors": len(values)})
            axes[axis] = ranges
        out[table] = {"metric": group[0]["metric"], "n": group[0]["n"], "lower_is_better": lower, "axes": axes}
    return out


def rank_changes(runs: pd.DataFrame, kinds: dict) -> dict:
    """Per table study with `versus` and dataset both have runs on: the variants both ran, tied-ranked in each
    table on each metric both measured (Welch tests over seeds, Holm-corrected, as the leaderboards rank),
    with the move from the `versus` table's rank to this one's. Re-ranked among the shared variants only, so a
    table with more variants does not shift the numbers. Diverged seeds are left out; a variant with one is
    not ranked, as on the leaderboards."""
    out = {}
    for study, info in sorted(kinds.items()):
        other = info.get("versus")
        if not other:
            continue
        for dataset in sorted(set(runs.loc[runs["study"] == study, "dataset"])):
            here = runs[(runs["study"] == study) & (runs["dataset"] == dataset)]
            there = runs[(runs["study"] == other) & (runs["dataset"] == dataset)]
            shared = sorted(set(here["variant"]) & set(there["variant"]))
            if len(shared) < 2:
                continue
            metrics = {}
            for m in METRICS:
                if not (here[m].notna().any() and there[m].notna().any()):
                    continue
                lower = catalog.metric(m).lower_is_better
                ranks = [tied_ranks({v: list(b[m].dropna()) for v, b in block.groupby("variant")
                                     if v in shared and not b["diverged"].any() and b[m].notna().any()},
                                    lower_is_better=lower) for block in (there, here)]
                metrics[m] = [{"variant": v, "rank_versus": ranks[0].get(v), "rank": ranks[1].get(v),
                               "move": (ranks[0][v] - ranks[1][v]) if v in ranks[0] and v in ranks[1] else None}
                              for v in shared]
            budgets = {s: _budget_text(b) for s, b in ((other, there), (study, here))}
            out[f"{study}/{dataset}"] = {"study": study, "versus": other, "dataset": dataset, "budgets": budgets,
                                         "metrics": metrics}
    return out


def _budget_text(block: pd.DataFrame) -> str:
    unit, amount = block["budget_unit"].iloc[0], block["budget_amount"].iloc[0]
    if pd.isna(amount):
        return f"{float(block['kimg'].max()):g} kimg"
    return f"{float(amount):g} {unit.replace('device_seconds', 'device seconds').replace('gflop', 'GFLOP')}"
