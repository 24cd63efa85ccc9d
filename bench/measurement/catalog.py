"""The metric catalog: every number the evaluate stage writes, with its label, direction, display scale,
backbone and whether a comparison uses it by default, each declared once next to its function (the
`METRICS` of each module in bench/measurement/metrics/). Scoring, aggregate, compare, the report and the
study tables read these entries; adding a metric is one entry in its module.

The per-backbone metrics (FID, KID, P/R, D/C, IS) exist once per image backbone: `fid` on Inception,
`fid_domain` on the domain classifier. The catalog's order is the order of the columns in every table.
"""

from __future__ import annotations

from bench.measurement.metrics import (
    codebook,
    conditional,
    equivariance,
    fid,
    inception_score,
    kid,
    leak,
    memorization,
    modes,
    prdc,
    translation,
)
from bench.measurement.metrics.info import MetricInfo, column

IMAGE_BACKBONES = ("inception", "domain")
PER_BACKBONE = (*fid.METRICS, *kid.METRICS, *prdc.METRICS, *inception_score.METRICS)
CATALOG: dict[str, MetricInfo] = {m.name: m for m in (
    *(template.on(backbone) for backbone in IMAGE_BACKBONES for template in PER_BACKBONE),
    *modes.METRICS, *memorization.METRICS, *leak.METRICS, *conditional.METRICS, *equivariance.METRICS,
    *translation.METRICS, *codebook.METRICS)}


def metric(name: str) -> MetricInfo:
    if name not in CATALOG:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(summarized())}")
    return CATALOG[name]


def summarized() -> list[str]:
    """The metrics aggregated over seeds and shown in tables, in table order."""
    return [m.name for m in CATALOG.values() if m.summarized]


def compared_by_default() -> list[str]:
    """The headline quality/diversity numbers a comparison uses unless told otherwise."""
    return [m.name for m in CATALOG.values() if m.compared]


__all__ = ["CATALOG", "IMAGE_BACKBONES", "MetricInfo", "column", "compared_by_default", "metric", "summarized"]
