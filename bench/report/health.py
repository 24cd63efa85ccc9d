"""The health part of a variant page: each seed's verdict with every check's value beside its threshold and rule
(bench/measurement/health.py), the train curve's health signals per seed as charts, and the nearest-neighbour grid
(the samples closest to the training set, each beside its nearest training image)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd

from bench.measurement.health import BADGES, CHECKS, RULES
from bench.protocol.io import read_json
from bench.report.format import fmt
from bench.report.svg_chart import Series, line_chart

# train-curve signals drawn, per chart: (title, y label, [(signal, label), ...], log y)
CHARTS = (
    ("D's accuracy on reals and on fakes (share on the right side of its decision boundary)", "accuracy",
     [("d_acc_real", "reals"), ("d_acc_fake", "fakes")], False),
    ("Losses (means over the steps between curve points)", "loss", [("loss_d", "D"), ("loss_g", "G")], False),
    ("E D(real) − E D(fake): for a Wasserstein critic, its estimate of W1", "real − fake", [("d_gap", "gap")], False),
    ("Gradient norms (L2, the whole network)", "‖∇‖", [("grad_d", "D"), ("grad_g", "G")], True),
)
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _value_text(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value_text(v)}" for k, v in value.items())
    if isinstance(value, float):
        return fmt(value, digits=3)
    return "–" if value is None else str(value)


def seed_health(run: pd.Series, images: Callable[[str], str]) -> dict | None:
    """One seed's verdict, its checks as rows, and its nearest-neighbour grid; None when it was evaluated before
    the health checks existed."""
    if not isinstance(run.get("health"), str):  # NaN in a table where other runs have one
        return None
    verdict = json.loads(run["health"])
    checks = [{"name": BADGES[name], "rule": RULES[name],
               "flag": {True: "flagged", False: "ok", None: "n/a"}[verdict["checks"][name]["flag"]],
               "value": verdict["checks"][name].get("reason") or _value_text(verdict["checks"][name]["value"]),
               "threshold": _value_text(verdict["checks"][name].get("threshold"))}
              for name in CHECKS if name in verdict["checks"]]
    nearest = run.get("nearest")
    return {"seed": int(run["seed"]), "healthy": verdict["healthy"], "badges": verdict["badges"], "checks": checks,
            "nearest": images(nearest) if isinstance(nearest, str) and nearest else None}


def health_charts(root, runs: pd.DataFrame) -> list[str]:
    """One chart per group of signals that the runs' train curves hold, every seed a line per signal."""
    curves = {int(r["seed"]): read_json(root / str(r["losses"])).get("points", [])
              for _, r in runs.sort_values("seed").iterrows() if (root / str(r["losses"])).is_file()}
    svgs = []
    for title, y_label, signals, log_y in CHARTS:
        series = []
        for (signal, label), color in zip(signals, COLORS, strict=False):
            for seed, points in curves.items():
                kept = [p for p in points if isinstance(p.get(signal), int | float)]
                if kept:
                    series.append(Series(f"{label}, seed {seed}", [p["kimg"] for p in kept],
                                         [p[signal] for p in kept], color=color))
        if series:
            svgs.append(line_chart(series, "kimg (images shown to D, thousands)", y_label, log_y=log_y, title=title))
    return svgs
