"""The limited-data study's table: quality against training-set size, per backbone and augmentation method.

A limited-data study trains each of its variants on nested, class-balanced subsets of one dataset (fmnist32-n100
... and the full set; bench/data/datasets.py SubsetSpec), every run scored against the full dataset's reference.
A variant's method is its augmentation options (`+diffaug`, `+ada`, ...; none: the baseline) and its backbone
what remains of its name. Per backbone, method, size and metric: mean, std and 95% bootstrap CI over seeds; per
augmented method and size, its change against the baseline at the same size (bootstrap CI of the difference,
Welch test), in FID and in each leak measure (poor samples are flagged as augmented too, so only the excess over
the baseline's leak is the augmentation's). The direction the papers report, that augmentation helps most where
data is scarcest, is stated per method as a comparison of the change at the smallest and at the full size, with
its uncertainty. ADA's p is read from each run's training curve (mean over seeds per curve point, and its final
value). Published curves (bench/tables/published.py) ride along as labeled rows.

Reads the runs table of the aggregate stage; writes plain data for the report (results/tables/limited_data.json).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.datasets import spec
from bench.measurement import catalog
from bench.protocol.io import read_json
from bench.protocol.names import VariantName
from bench.tables.compare import ALPHA, difference_ci, welch_p
from bench.tables.published import PUBLISHED_LIMITED_DATA
from bench.tables.stats import summarize

LIMITED_METRICS = ("fid_domain", "fid", "kid_domain", "data_copying_domain", "leak_ada_domain",
                   "leak_diffaug_domain")
HEADLINE = "fid_domain"  # the metric of the per-size changes and the direction verdict
LEAKS = ("leak_ada_domain", "leak_diffaug_domain")  # also as changes: a leak is read against the baseline's
BASELINE = "baseline"


def augmentation_options() -> set[str]:
    """The registered options that augment D's input (their recipe sets DiffAugment or ADA)."""
    from bench.protocol.variants import all_options

    return {o.name for o in all_options() if {"diffaug", "ada_p", "ada_target"} & set(o.recipe)}


def split_method(variant: str, augmentations: set[str]) -> tuple[str, str]:
    """(backbone, method) of a variant name: `dcgan+sn+ada` -> (`dcgan+sn`, `+ada`); no augmentation: baseline."""
    name = VariantName.parse(variant)
    kept = [o for o in name.options if o not in augmentations]
    method = "".join(f"+{o}" for o in name.options if o in augmentations) or BASELINE
    return "+".join((name.base, *kept)), method


def training_size(dataset: str) -> int | None:
    """Images in the dataset's train split (a subset's n_train)."""
    ds = spec(dataset)
    return getattr(ds, "n_train", None) if getattr(ds, "parent", None) else ds.split_size("train")


def _finite(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _values(runs: pd.DataFrame, metric: str) -> np.ndarray:
    """The measured seeds' values of one metric."""
    return runs[metric].dropna().to_numpy(dtype=np.float64)


def _cell(values: np.ndarray) -> dict:
    stats = summarize(values.tolist())
    return {"n_seeds": int(len(values)), **{k: _finite(stats[k]) for k in ("mean", "std", "ci_low", "ci_high")}}


def _change(new: np.ndarray, base: np.ndarray) -> dict:
    low, high = difference_ci(new, base)
    p = welch_p(new, base)
    return {"diff": float(new.mean() - base.mean()) if len(new) and len(base) else None,
            "ci_low": _finite(low), "ci_high": _finite(high), "p": _finite(p),
            "separable": bool(not math.isnan(p) and p < ALPHA)}


def ada_curves(block: pd.DataFrame, root: Path) -> dict | None:
    """ADA's p per curve point (mean over the runs' seeds) and each run's final p, or None without ADA."""
    per_kimg: dict[float, list[float]] = {}
    finals = []
    for path in block["losses"]:
        if not isinstance(path, str) or not (root / path).is_file():
            continue
        points = [p for p in read_json(root / path).get("points", []) if "ada_p" in p]
        for point in points:
            per_kimg.setdefault(round(float(point["kimg"]), 6), []).append(float(point["ada_p"]))
        if points:
            finals.append(float(points[-1]["ada_p"]))
    if not finals:
        return None
    return {"kimg": sorted(per_kimg), "p_mean": [float(np.mean(per_kimg[k])) for k in sorted(per_kimg)],
            "final": _cell(np.asarray(finals))}


def _direction(changes: list[dict]) -> dict | None:
    """Whether the method lowers FID against the baseline at the smallest size, more than at the largest (the
    papers' direction), and how sure that is (the smallest size's CI)."""
    ends = [c for c in changes if c["change"]["diff"] is not None]
    if len(ends) < 2:
        return None
    small, full = min(ends, key=lambda c: c["size"]), max(ends, key=lambda c: c["size"])
    gain_small = small["change"]["diff"] < 0
    separable = small["change"]["ci_high"] is not None and small["change"]["ci_high"] < 0
    larger = gain_small and small["change"]["diff"] < full["change"]["diff"]
    if not gain_small:
        verdict = "no gain at the smallest size (FID not lower than the baseline's)"
    elif larger:
        verdict = ("helps most at the smallest size, where its gain is separable from 0" if separable
                   else "larger gain at the smallest size than at the largest, not separable from 0 there")
    else:
        verdict = "a gain at the smallest size, but no larger than at the largest"
    return {"smallest": small["size"], "largest": full["size"], "change_smallest": small["change"]["diff"],
            "change_largest": full["change"]["diff"], "larger_gain_at_smallest": bool(larger),
            "separable_at_smallest": bool(separable), "verdict": verdict}


def _method_row(block: pd.DataFrame, method: str, variant: str, baseline: str | None, sizes: dict[str, int | None],
                order: list[str], root: Path) -> dict:
    """One method of a backbone: its cells per size, its changes against `baseline` (the backbone's variant without
    augmentation, None for the baseline itself), the direction verdict and ADA's p."""
    healthy = block[~block["diverged"]]
    cells, changes, ada = [], [], []
    for dataset in order:
        mine = healthy[(healthy["dataset"] == dataset) & (healthy["variant"] == variant)]
        diverged = int(((block["dataset"] == dataset) & (block["variant"] == variant) & block["diverged"]).sum())
        cells.append({"dataset": dataset, "size": sizes[dataset], "diverged": diverged,
                      "metrics": {m: _cell(_values(mine, m)) for m in LIMITED_METRICS if m in mine}})
        if baseline is not None and HEADLINE in mine:
            base = healthy[(healthy["dataset"] == dataset) & (healthy["variant"] == baseline)]
            changes.append({"dataset": dataset, "size": sizes[dataset],
                            "change": _change(_values(mine, HEADLINE), _values(base, HEADLINE)),
                            "leak": {m: _change(_values(mine, m), _values(base, m))
                                     for m in LEAKS if m in mine and mine[m].notna().any()}})
        if (curves := ada_curves(mine, root)) is not None:
            ada.append({"dataset": dataset, "size": sizes[dataset], **curves})
    return {"method": method, "variant": variant, "cells": cells, "changes": changes,
            "direction": _direction(changes), "ada": ada}


def limited_data_tables(runs: pd.DataFrame, studies: dict, root: Path) -> dict:
    """study -> {title, sizes, metrics, backbones: [{backbone, methods: [{method, variant, cells, changes,
    direction, ada}]}], published} for every limited-data study."""
    out = {}
    augmentations = augmentation_options() if any(i.get("kind") == "limited-data" for i in studies.values()) \
        else set()
    for name, info in studies.items():
        if info.get("kind") != "limited-data":
            continue
        block = runs[runs["study"] == name]
        sizes = {d: training_size(d) for d in block["dataset"].unique()}
        order = sorted(sizes, key=lambda d: sizes[d] or 0)
        by_backbone: dict[str, dict[str, str]] = {}
        for variant in dict.fromkeys(v for vs in (info.get("datasets") or {}).values() for v in vs):
            backbone, method = split_method(variant, augmentations)
            by_backbone.setdefault(backbone, {})[method] = variant
        backbones = []
        for backbone, methods in by_backbone.items():
            rows = []
            for method, variant in sorted(methods.items(), key=lambda kv: (kv[0] != BASELINE, kv[0])):
                baseline = methods.get(BASELINE) if method != BASELINE else None
                rows.append(_method_row(block, method, variant, baseline, sizes, order, root))
            backbones.append({"backbone": backbone, "methods": rows})
        out[name] = {"study": name, "title": info.get("title", name), "alpha": ALPHA, "headline": HEADLINE,
                     "sizes": [{"dataset": d, "size": sizes[d]} for d in order],
                     "metrics": [{"metric": m, "label": catalog.metric(m).heading,
                                  "lower_is_better": catalog.metric(m).lower_is_better,
                                  "scale": catalog.metric(m).scale} for m in LIMITED_METRICS],
                     "backbones": backbones, "published": PUBLISHED_LIMITED_DATA}
    return out
