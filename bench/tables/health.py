"""A variant's health over its seeds: the evaluate stage's per-run verdicts (bench/measurement/health.py) counted,
with each badge and the seeds it flagged, for the leaderboard's health column and the compare page."""

from __future__ import annotations

import pandas as pd


def health_summary(group: pd.DataFrame) -> dict:
    """A variant's seeds' health verdicts: how many were judged and found healthy, and each badge with the seeds
    it flagged, e.g. "checkerboard: s0, s2" (`health_flags`, ";"-separated), so that a page can say when seeds
    differ in health instead of averaging over them."""
    judged = group[group["healthy"].notna()]
    flags: dict[str, list[str]] = {}
    for _, run in judged.sort_values("seed").iterrows():
        for badge in filter(None, str(run["health_badges"]).split(";")):
            flags.setdefault(badge, []).append(f"s{int(run['seed'])}")
    return {"n_judged": len(judged), "n_healthy": int(judged["healthy"].astype(bool).sum()),
            "health_flags": ";".join(f"{badge}: {', '.join(seeds)}" for badge, seeds in flags.items())}
