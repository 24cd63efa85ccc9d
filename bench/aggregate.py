"""The aggregate stage: every run's metrics.json + cost.json -> tables with statistics over seeds.

Outputs (results/tables/): runs.csv (one row per run), summary.csv and summary.json (one row per
study x dataset x variant: mean, std and 95% bootstrap CI of each metric, tied ranks), and specs.json
(the metric spec of each study x dataset; runs with different specs are never pooled).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.io import read_json, write_json, write_text
from bench.stats import summarize, tied_ranks

# metric -> True when lower is better; the domain backbone's columns carry a `_domain` suffix
BASE_METRICS = {"fid": True, "kid": True, "precision": False, "recall": False, "density": False,
                "coverage": False, "is": False}
METRICS = {**BASE_METRICS, **{f"{m}_domain": low for m, low in BASE_METRICS.items()},
           "modes_covered": False, "high_quality": False, "reverse_kl": True}
COSTS = ["wall_s", "kimg", "flops_total", "peak_rss_mb"]
SPEC_KEYS_IGNORED = {"latent_seed", "config_hash"}  # differ per run by design


def poolable_spec(spec: dict) -> dict:
    """The metric spec without what differs between the runs of one table by design (seeds, hashes)."""
    out = {k: v for k, v in spec.items() if k not in SPEC_KEYS_IGNORED}
    out["backbones"] = {name: {k: ({kk: vv for kk, vv in v.items() if kk != "seed"} if k == "kid" else v)
                               for k, v in how.items()}
                        for name, how in spec.get("backbones", {}).items()}
    return out


def collect_runs(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((root / "results").glob("*/*/*/s*/eval/metrics.json")):
        record = read_json(path)
        run_dir = path.parent.parent
        cost = read_json(run_dir / "train" / "cost.json")
        spec = poolable_spec(record["spec"])
        rows.append({
            "run": record["run"], "study": record["study"], "dataset": record["dataset"],
            "variant": record["variant"], "seed": record["seed"],
            **{m: record["metrics"].get(m) for m in METRICS},
            **{c: cost.get(c) for c in COSTS},
            "device": cost.get("device"),
            "config_hash": record["spec"]["config_hash"],
            "spec": json.dumps(spec, sort_keys=True),
            "samples": str((run_dir / "eval" / "samples.png").relative_to(root)),
            "curve": str((run_dir / "eval" / "curve.json").relative_to(root)),
            "losses": str((run_dir / "train" / "curve.json").relative_to(root)),
        })
    if not rows:
        raise FileNotFoundError("no results/*/*/*/s*/eval/metrics.json found; run the pipeline first")
    return pd.DataFrame(rows).sort_values(["study", "dataset", "variant", "seed"]).reset_index(drop=True)


def summarize_runs(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (study, dataset), block in runs.groupby(["study", "dataset"], sort=True):
        if block["spec"].nunique() != 1:
            raise ValueError(f"{study}/{dataset}: runs were evaluated with different metric specs; "
                             "re-run evaluate for all of them (`dvc repro`)")
        metrics = [m for m in METRICS if block[m].notna().any()]
        ranks = {m: tied_ranks({v: list(b[m].dropna()) for v, b in block.groupby("variant")},
                               lower_is_better=METRICS[m]) for m in metrics}
        for variant, group in block.groupby("variant", sort=True):
            row = {"study": study, "dataset": dataset, "variant": variant, "n_seeds": len(group),
                   "seeds": ",".join(str(s) for s in sorted(group["seed"]))}
            for m in metrics:
                for key, value in summarize(group[m].tolist()).items():
                    if key != "n":
                        row[f"{m}_{key}"] = value
                row[f"{m}_rank"] = ranks[m].get(variant)
            for c in COSTS:
                row[f"{c}_mean"] = float(group[c].mean())
            rows.append(row)
    return pd.DataFrame(rows)


def aggregate(root: Path) -> Path:
    out = root / "results" / "tables"
    runs = collect_runs(root)
    summary = summarize_runs(runs)
    specs = {f"{s}/{d}": json.loads(b["spec"].iloc[0]) for (s, d), b in runs.groupby(["study", "dataset"])}
    write_text(out / "runs.csv", runs.to_csv(index=False))
    write_text(out / "summary.csv", summary.to_csv(index=False))
    write_json(out / "summary.json", json.loads(summary.to_json(orient="records")))
    write_json(out / "runs.json", json.loads(runs.to_json(orient="records")))
    write_json(out / "specs.json", specs)
    return out
