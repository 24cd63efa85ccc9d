"""The robustness study's grid (Gulrajani et al. 2017, Figure 2): every architecture trained with every loss, one cell
per (architecture, loss) with its quality over seeds and its seeds' health, and per loss the architectures it trains.

A run's architecture is its variant's base name (`wgan-arch-tanh+lsgan` -> `wgan-arch-tanh`), its loss the recipe's
loss (the runs table's `hp_loss`). A cell *trains* when none of its seeds was flagged as diverged, D winning or
mode collapse (bench/measurement/health.py): checkerboard artifacts and copying are flaws of a trained G, not a
failure to train. The paper judged its cells by eye from samples; this rule is our stated stand-in for that.
"""

from __future__ import annotations

import pandas as pd

from bench.protocol.names import VariantName

LOSS_ORDER = ("ns", "lsgan", "wgan", "wgan-gp")  # the paper's columns: DCGAN, LSGAN, WGAN (clipping), WGAN-GP
LOSS_LABELS = {"ns": "DCGAN (NS)", "lsgan": "LSGAN", "wgan": "WGAN (clipping)", "wgan-gp": "WGAN-GP"}
FAILURES = ("diverged", "D wins", "mode collapse")  # the badges that mean a cell did not train


def architecture_of(variant: str) -> str:
    return VariantName.parse(variant).base


def cell_trains(badges: list[str]) -> bool:
    """Whether a seed's health badges leave it trained (no diverged, D wins or mode collapse)."""
    return not any(badge in FAILURES for badge in badges)


def robustness_grid(summary: pd.DataFrame, runs: pd.DataFrame, metric: str, listed: list[str] = ()) -> dict:
    """The grid of one study x dataset: architectures (rows, in the order the study file `listed` them, any other
    after) x losses (columns, the paper's order first), each cell the variant, `metric`'s summary over seeds, the
    seeds' badges and whether it trains; and per loss the number of architectures it trains on."""
    variants = [v for v in listed if v in set(runs["variant"])]
    variants += sorted(set(runs["variant"]) - set(variants))
    losses_of = {v: str(runs[runs["variant"] == v]["hp_loss"].iloc[0]) for v in variants}
    architectures = list(dict.fromkeys(architecture_of(v) for v in variants))
    losses = sorted(set(losses_of.values()), key=lambda x: (LOSS_ORDER.index(x) if x in LOSS_ORDER else 99, x))
    cells: dict[str, dict[str, dict]] = {a: {} for a in architectures}
    for variant in variants:
        row = summary[summary["variant"] == variant].iloc[0]
        seeds = runs[runs["variant"] == variant].sort_values("seed")
        badges = {int(r["seed"]): [b for b in str(r["health_badges"] or "").split(";") if b and b != "nan"]
                  for _, r in seeds.iterrows()}
        judged = seeds["healthy"].notna().all()
        cells[architecture_of(variant)][losses_of[variant]] = {
            "variant": variant, "mean": row.get(f"{metric}_mean"), "std": row.get(f"{metric}_std"),
            "ci_low": row.get(f"{metric}_ci_low"), "ci_high": row.get(f"{metric}_ci_high"),
            "n": row.get(f"{metric}_n"), "n_seeds": int(row["n_seeds"]), "badges": badges,
            "trains": all(cell_trains(b) for b in badges.values()) if judged else None,
        }
    trained = {loss: sum(1 for a in architectures if cells[a].get(loss, {}).get("trains")) for loss in losses}
    return {"architectures": architectures, "losses": losses, "cells": cells, "trains_on": trained,
            "metric": metric}
