"""Checks across params.yaml, the datasets and the metric catalog, run by the CLI before any stage.

They are kept out of bench/protocol/params.py on purpose: the train stage reads params.yaml too, and its
DVC dependencies must not include the metric modules (changing a metric re-runs evaluate, not training).
"""

from __future__ import annotations

from typing import Any

from bench.data.datasets import DATASETS, spec
from bench.protocol.schema import raise_problems


def size_problems(params: dict[str, Any]) -> list[str]:
    """Sample sizes the data and the metrics cannot serve, in every profile: a reference larger than its
    split, fewer generated or reference samples than a metric of the dataset needs, a classifier subset
    larger than the train split. Found here, not after an expensive feature pass."""
    from bench.measurement import catalog

    image_metrics = [catalog.metric(n) for n in catalog.summarized() if catalog.metric(n).backbone != "modes"]
    need_gen = max(m.min_generated for m in image_metrics)
    need_ref = max(m.min_reference for m in image_metrics)
    needing = lambda attr, n: ", ".join(sorted({m.label for m in image_metrics if getattr(m, attr) == n}))  # noqa: E731
    problems = []
    for profile, block in (params.get("profiles") or {}).items():
        blocks = [(f"profiles.{profile}.{ds}", ds, stages) for ds, stages in block.items() if ds in DATASETS]
        blocks += [(f"profiles.{profile}.studies.{study}.{ds}", ds, stages)
                   for study, settings in (block.get("studies") or {}).items()
                   for ds, stages in (settings or {}).items() if ds in DATASETS]
        for where, dataset, stages in blocks:
            ds = spec(dataset)
            named = _named(stages.get("protocol"))
            n_gen = (stages.get("evaluate") or {}).get("n_gen", named and named.n_gen)
            if ds.kind == "images" and n_gen is not None and n_gen < need_gen:
                problems.append(f"{where}.evaluate.n_gen: {n_gen} is fewer samples than "
                                f"{needing('min_generated', need_gen)} needs; use at least {need_gen}")
            n_ref = (stages.get("reference") or {}).get("n_ref", named and named.n_ref)
            if n_ref is not None and ds.kind == "images" and n_ref < need_ref:
                problems.append(f"{where}.reference.n_ref: {n_ref} is fewer reference images than "
                                f"{needing('min_reference', need_ref)} need; use at least {need_ref}")
            split = (stages.get("reference") or {}).get("split", (named and named.split) or "eval")
            ref = spec(ds.reference_dataset)  # the dataset whose split the reference is drawn from
            if n_ref is not None and (size := ref.split_size(split)) is not None and n_ref > size:
                problems.append(f"{where}.reference.n_ref: {n_ref} is more than the {size} images of {ref.name}'s "
                                f"{split} split; use at most {size}")
            n_train = (stages.get("classifier") or {}).get("n_train")
            if n_train is not None and (size := ds.split_size("train")) is not None and n_train > size:
                problems.append(f"{where}.classifier.n_train: {n_train} is more than the {size} images of "
                                f"{dataset}'s train split; use at most {size} (or leave it out: all of them)")
    return problems


def _named(text: Any):
    """A dataset block's named protocol, parsed (None when absent or malformed: the schema reports that)."""
    from bench.protocol.metric_protocols import parse

    try:
        return parse(text) if isinstance(text, str) else None
    except ValueError:
        return None


def check_sizes(params: dict[str, Any]) -> None:
    raise_problems("params.yaml", size_problems(params))
