"""The metric protocol names of what was measured: each metric family's name (bench/protocol/metric_protocols.py
grammar) from a metric spec's N and reference, for the spec itself and for table headers."""

from __future__ import annotations

from bench.protocol.metric_protocols import name


def of_spec(backbone_spec: dict, n_gen: int) -> dict[str, str]:
    """Each metric family's protocol name for one backbone of a metric spec (its reference's split, size and
    the split's size, which the reference stage records; a reference from before it did reads as a subset)."""
    ref = backbone_spec.get("reference") or {}
    split, n_ref, size = ref.get("split"), ref.get("n_ref"), ref.get("split_size")
    if split is None or n_ref is None:
        return {}
    names = {family: name(family, n_gen, split, n_ref, size) for family in ("fid", "kid", "pr", "dc")}
    names["is"] = name("is", n_gen)
    return names


FAMILY_OF_METRIC = {"fid": "fid", "kid": "kid", "precision": "pr", "recall": "pr", "density": "dc", "coverage": "dc",
                    "is": "is"}


def of_column(metric: str, backbone: str, spec: dict) -> str | None:
    """The protocol name of a table column (a catalog metric on a backbone) under a table's metric spec, or
    None for metrics outside the grammar (mode counts, EQ-T, ...)."""
    base = metric if backbone == "inception" else metric.removesuffix(f"_{backbone}")
    family = FAMILY_OF_METRIC.get(base)
    how = (spec.get("backbones") or {}).get(backbone) or {}
    return (how.get("protocols") or {}).get(family) if family else None
