"""The aggregate stage: every run's metrics.json + cost.json -> tables with statistics over seeds.

Outputs (results/tables/): runs.csv (one row per run, with its recipe's hyperparameters), summary.csv
and summary.json (one row per study x dataset x variant: mean, std and 95% bootstrap CI of each metric,
tied ranks), specs.json (the metric spec of each study x dataset; runs with different specs are never
pooled) and sweeps.json (per loss-sweep study x dataset: each loss's samples, best FID vs. budget, and
its best configuration), conditional.json (how the class-conditional metrics were measured),
truncation.json (per variant with a truncation curve: each tau's metrics over seeds), variants.json (per
variant: paper, origin, families, the full recipe), curves.json (per study x dataset x variant: the
quality curve over kimg, mean and spread over seeds, the GFLOP spent at each point and each run's wall
seconds and FLOPs per kimg), budget_leaders.json (per study x dataset: the leading variant at every
budget on the kimg, GFLOP and wall-second axes),
ablations.json (each ablation study's table in StyleGAN2's Table 1 format: bench/ablation.py),
alignment.json (each alignment study: a variant on a centred dataset and on its unaligned copy),
limited_data.json (each limited-data study: quality against training-set size per backbone and augmentation,
bench/tables/limited_data.py), tokenizer.json (each tokenizer study: stage 1's reconstruction and codebook table,
factorized against plain codes, the prior's samples and the reconstruction loss across D's start:
bench/tables/tokenizer.py) and
comparisons.json (every method that is not one of the harness's own against the baselines of its
study x dataset: bench/compare.py) and comparisons_equal_flops.json (the same pairs on the quality curve at
equal training FLOPs), rank_changes.json (a study with `versus`: each shared variant's rank there and here).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measurement import catalog
from bench.protocol.errors import CompareError, ConfigError, ResultsError
from bench.protocol.io import read_json, write_json, write_text
from bench.protocol.names import VariantName
from bench.protocol.studies import study_files
from bench.tables import compare
from bench.tables.ablation import ablation_tables
from bench.tables.alignment import alignment_tables
from bench.tables.budgets import budget_leaders, rank_changes
from bench.tables.health import health_summary
from bench.tables.limited_data import limited_data_tables
from bench.tables.stats import best_of_k, summarize, tied_ranks
from bench.tables.tokenizer import pooled_spec, tokenizer_tables

METRICS = catalog.summarized()  # every metric column of the tables, in table order (bench/measurement/catalog.py)
COSTS = ["wall_s", "kimg", "flops_total", "peak_rss_mb"]
HYPERPARAMETERS = ["loss", "lr_g", "lr_d", "betas", "n_critic", "penalty_weight", "clip", "r1", "r2"]
# differ per run by design; "undefined" names the metrics a run could not define (reverse KL without a
# high-quality sample): an outcome of that run, counted by the table's <metric>_n, not how it was measured;
# "nearest" lists the pairs of the run's nearest-neighbour grid (a picture, not a metric)
SPEC_KEYS_IGNORED = {"latent_seed", "config_hash", "labels", "conditional", "equivariance", "undefined", "nearest"}
TRUNCATION_METRICS = ("fid_domain", "is_domain", "class_accuracy_domain")


# per backbone: KID's subset seed; why IS is unavailable (a path); the data-copying test's and the leak check's
# per-run outcomes (cells and z-scores, shares flagged: results of the run, not how it was measured)
RUN_OUTCOMES = {"kid": ("seed",), "data_copying": ("cells_used", "cell_z", "copying"), "leak": ("flagged",)}
PER_RUN_DETAIL = {**RUN_OUTCOMES, "is": ("reason",)}


def poolable_spec(spec: dict, detail: dict[str, tuple[str, ...]] = PER_RUN_DETAIL) -> dict:
    """The metric spec without what differs between the runs of one table by design (seeds, hashes, each run's
    data-copying outcome, a tokenizer variant's model, and the machine-specific text
    of why IS is unavailable: that it is unavailable stays part of the spec)."""
    out = pooled_spec({k: v for k, v in spec.items() if k not in SPEC_KEYS_IGNORED})
    out["backbones"] = {name: {k: ({kk: vv for kk, vv in v.items() if kk not in detail[k]}
                                   if k in detail and isinstance(v, dict) else v)
                               for k, v in how.items()}
                        for name, how in spec.get("backbones", {}).items()}
    return out


def table_spec(root: Path, block: pd.DataFrame) -> dict:
    """The metric spec a table states (specs.json): its first measured run's, without the per-run seeds and
    hashes; why IS is unavailable is kept, as that run's machine said it."""
    measured = block[~block["diverged"]] if (~block["diverged"]).any() else block
    record = read_json(root / "results" / measured["run"].iloc[0] / "eval" / "metrics.json")
    return poolable_spec(record["spec"], detail=RUN_OUTCOMES)


def collect_runs(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((root / "results").glob("*/*/*/s*/eval/metrics.json")):
        run_dir = path.parent.parent
        if not finished(run_dir):
            continue  # a stale evaluation: `missing_runs` names it
        record = read_json(path)
        cost = read_json(run_dir / "train" / "cost.json")
        recipe = read_json(run_dir / "train" / "config.json")["variant"]["recipe"]
        spec = poolable_spec(record["spec"])
        try:
            name = VariantName.parse(record["variant"])
        except ConfigError as exc:
            raise ConfigError(f"{path.relative_to(root)}: {exc}") from None
        diverged = record.get("diverged") or {}
        health = record.get("health") or {}  # evaluations from before the health checks have none
        rows.append({
            "run": record["run"], "study": record["study"], "dataset": record["dataset"],
            "variant": record["variant"], "seed": record["seed"],
            "diverged": bool(diverged), "diverged_kimg": diverged.get("kimg"),
            "diverged_reason": diverged.get("reason"),
            "healthy": health.get("healthy"), "health_badges": ";".join(health.get("badges", [])),
            "health": json.dumps(health, sort_keys=True) if health else None,
            **{m: record["metrics"].get(m) for m in METRICS},
            **{c: cost.get(c) for c in COSTS},
            **{f"hp_{h}": (json.dumps(recipe.get(h)) if h == "betas" else recipe.get(h)) for h in HYPERPARAMETERS},
            "sweep_loss": name.sweep_loss, "sweep_sample": name.sample,
            "n_modes": record["metrics"].get("n_modes"),
            "device": cost.get("device"),
            "trained_against": ",".join(cost.get("pretrained_networks") or []),
            **_budget_columns(cost),
            "config_hash": record["spec"]["config_hash"],
            "spec": json.dumps(spec, sort_keys=True),
            "samples": str((run_dir / "eval" / "samples.png").relative_to(root)),
            **{name: (str((run_dir / "eval" / f"{name}.png").relative_to(root))
                      if (run_dir / "eval" / f"{name}.png").is_file() else None)
               for name in ("nearest", "translations", "reconstructions")},
            "curve": str((run_dir / "eval" / "curve.json").relative_to(root)),
            "losses": str((run_dir / "train" / "curve.json").relative_to(root)),
        })
    if not rows:
        raise FileNotFoundError("no results/*/*/*/s*/eval/metrics.json found; run the pipeline first")
    return pd.DataFrame(rows).sort_values(["study", "dataset", "variant", "seed"]).reset_index(drop=True)


def _budget_columns(cost: dict) -> dict:
    """The budget a run trained under (bench/training/budget.py); runs from before budget units were kimg."""
    budget = cost.get("budget") or {"unit": "kimg", "amount": None, "spent": cost.get("kimg")}
    return {"budget_unit": budget["unit"], "budget_amount": budget["amount"], "budget_spent": budget["spent"]}


def summarize_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per study x dataset x variant: each metric's mean, std, CI and tied rank over the seeds that measured it
    (`<metric>_n` of `n_seeds`), and the seeds that diverged (`n_diverged`, the first kimg at which one did).
    A variant with a diverged seed is not ranked: its statistics describe the seeds that survived, which is
    not the method's result."""
    rows = []
    for (study, dataset), block in runs.groupby(["study", "dataset"], sort=True):
        measured = block[~block["diverged"]]
        budgets = sorted({(unit, None if pd.isna(amount) else float(amount))
                          for unit, amount in zip(block["budget_unit"], block["budget_amount"], strict=True)},
                         key=str)
        if len(budgets) > 1:
            raise ResultsError(f"{study}/{dataset}: runs were trained under different budgets "
                               f"({', '.join(f'{a} {u}' for u, a in budgets)}); one table compares one budget: "
                               "give the study's runs one budget_unit and amount in params.yaml")
        if measured["spec"].nunique() > 1:
            raise ResultsError(f"{study}/{dataset}: runs were evaluated with different metric specs; "
                               "re-run evaluate for all of them (`dvc repro`)")
        metrics = [m for m in METRICS if block[m].notna().any()]
        stable = {v for v, b in block.groupby("variant") if not b["diverged"].any()}
        # only variants with values are ranked (e.g. intra-class FID ranks the conditional variants)
        ranks = {m: tied_ranks({v: list(b[m].dropna()) for v, b in block.groupby("variant")
                                if b[m].notna().any() and v in stable},
                               lower_is_better=catalog.metric(m).lower_is_better) for m in metrics}
        for variant, group in block.groupby("variant", sort=True):
            diverged = group[group["diverged"]]
            row = {"study": study, "dataset": dataset, "variant": variant, "n_seeds": len(group),
                   "seeds": ",".join(str(s) for s in sorted(group["seed"])), "n_diverged": len(diverged),
                   "diverged_kimg": float(diverged["diverged_kimg"].min()) if len(diverged) else None,
                   "diverged_seeds": ",".join(str(s) for s in sorted(diverged["seed"])),
                   **health_summary(group),
                   "budget_unit": budgets[0][0], "budget_amount": budgets[0][1],
                   "trained_against": ",".join(sorted({n for t in group["trained_against"] for n in str(t).split(",")
                                                       if n}))}
            for m in metrics:
                for key, value in summarize(group[m].tolist()).items():
                    row[f"{m}_{key}"] = value
                row[f"{m}_rank"] = ranks[m].get(variant)
            for c in COSTS:
                row[f"{c}_mean"] = float(group[c].mean())
            rows.append(row)
    return pd.DataFrame(rows)


def _plain(value):
    """A pandas/numpy scalar as the plain Python value JSON takes (betas stay the JSON list they are)."""
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    return value.item() if hasattr(value, "item") else value


def sweep_metric(block: pd.DataFrame) -> tuple[str, bool, str]:
    """The quality number a sweep ranks by: Inception FID where measured, else FID on the domain backbone,
    else (2-D sets) the reverse KL of the mode histogram."""
    for column in ("fid", "fid_domain"):
        if block[column].notna().any():
            return column, True, catalog.metric(column).heading
    return "reverse_kl", True, (f"{catalog.metric('reverse_kl').heading} of the mode histogram (no high-quality "
                                "sample = log K, the worst)")


def _sweep_values(block: pd.DataFrame, column: str, lower: bool) -> pd.Series:
    """The sweep's quality value per run: a run with no high-quality sample has no mode histogram and counts
    as the worst reverse KL, log K; a diverged run counts as the worst of any metric (a failed try)."""
    values = block[column].astype(float)
    if column == "reverse_kl":
        values = values.fillna(np.log(block["n_modes"].astype(float).max()))
    return values.mask(block["diverged"], np.inf if lower else -np.inf)


def sweep_tables(runs: pd.DataFrame) -> dict:
    """Per sweep study x dataset and loss: the per-sample means over seeds (the distribution), best value
    vs. budget k (bootstrap over samples), and the best sample with mean, std and CI over its seeds."""
    out = {}
    sweeps = runs[runs["sweep_loss"].notna()]
    for (study, dataset), block in sweeps.groupby(["study", "dataset"], sort=True):
        column, lower, label = sweep_metric(block)
        block = block.assign(value=_sweep_values(block, column, lower))
        losses = {}
        for loss, group in block.groupby("sweep_loss", sort=True):
            per_sample = group.groupby("sweep_sample", sort=True)
            means = per_sample["value"].mean()
            samples = [{"sample": name, "value": float(means[name]), "n_seeds": int(len(g)),
                        "hyperparameters": {h: _plain(g[f"hp_{h}"].iloc[0]) for h in HYPERPARAMETERS
                                            if g[f"hp_{h}"].notna().all()}}
                       for name, g in per_sample]
            best_name = means.idxmin() if lower else means.idxmax()
            best_runs = group[group["sweep_sample"] == best_name]
            losses[loss] = {
                "samples": samples,
                "budget": best_of_k(means.to_numpy(), range(1, len(means) + 1), lower_is_better=lower),
                "best": {"sample": best_name, "variant": best_runs["variant"].iloc[0],
                         "seeds": sorted(int(s) for s in best_runs["seed"]),
                         **summarize(best_runs["value"].tolist()),
                         "hyperparameters": next(s["hyperparameters"] for s in samples if s["sample"] == best_name),
                         "wall_s_mean": float(best_runs["wall_s"].mean())},
                "wall_s_total": float(group["wall_s"].sum()),
                "n_diverged": int(group["diverged"].sum()),
            }
        out[f"{study}/{dataset}"] = {"study": study, "dataset": dataset, "metric": column, "label": label,
                                     "lower_is_better": lower, "losses": losses}
    return out


def conditional_specs(root: Path, runs: pd.DataFrame) -> dict:
    """Per study x dataset: how the class-conditional metrics were measured (the first conditional run's
    description; the per-class values stay in each run's metrics.json)."""
    out = {}
    for _, run in runs.iterrows():
        key = f"{run['study']}/{run['dataset']}"
        spec = read_json(root / "results" / run["run"] / "eval" / "metrics.json")["spec"].get("conditional")
        if key not in out and spec and spec.get("available"):
            out[key] = {k: v for k, v in spec.items() if k != "intra_fid_per_class"}
    return out


def truncation_tables(root: Path, runs: pd.DataFrame) -> dict:
    """Per study x dataset x variant with eval/truncation.json: each tau's metrics summarised over seeds
    (tau None = untruncated)."""
    out = {}
    for (study, dataset, variant), group in runs.groupby(["study", "dataset", "variant"], sort=True):
        curves = [read_json(path) for path in (root / "results" / r / "eval" / "truncation.json"
                                               for r in group["run"]) if path.exists()]
        curves = [c for c in curves if c.get("available")]
        if not curves:
            continue
        points = []
        for i, point in enumerate(curves[0]["points"]):
            row = {"tau": point["tau"]}
            for m in TRUNCATION_METRICS:
                values = [c["points"][i][m] for c in curves if c["points"][i].get(m) is not None]
                if values:
                    row[m] = summarize(values)
            points.append(row)
        out[f"{study}/{dataset}/{variant}"] = {"study": study, "dataset": dataset, "variant": variant,
                                              "n": curves[0]["n"], "backbone": curves[0]["backbone"],
                                              "sampling": curves[0]["sampling"], "n_seeds": len(curves),
                                              "points": points}
    return out


def study_kinds(root: Path) -> dict:
    """Each study's kind, title and datasets as its file lists them (pipelines/*.yaml): the report lays a
    table, a sweep and a mode-collapse study out differently, and an ablation's rows keep the file's order."""
    return {name: {"kind": body.get("kind", "sweep" if "sweep" in body else "table"), "title": body.get("title", name),
                   "datasets": {ds: list(vs) for ds, vs in (body.get("datasets") or {}).items()},
                   "versus": body.get("versus")}
            for name, (_, body) in study_files(root).items()}


def finished(run_dir: Path) -> bool:
    """Whether a run has both its train stage's cost.json and its evaluate stage's metrics.json. A metrics.json
    alone is stale: its train stage is re-running (DVC removed the old output first) or was stopped."""
    return (run_dir / "eval" / "metrics.json").is_file() and (run_dir / "train" / "cost.json").is_file()


def missing_runs(root: Path) -> list[str]:
    """The runs the studies of the active profile list that are not `finished` (a stage still running, stopped,
    or not run): empty for a root without params.yaml or studies."""
    if not (root / "params.yaml").is_file() or not (root / "pipelines").is_dir():
        return []
    from bench.protocol.params import load_params
    from bench.protocol.studies import load_studies

    runs = [run for study in load_studies(root, load_params(root)) for run in study.runs()]
    return [str(run) for run in runs if not finished(run.folder(root))]


def aggregate(root: Path, partial: bool = False) -> Path:
    """Every metrics.json into results/tables. A run the studies list but evaluate has not finished makes
    this an error (the tables would hold fewer seeds without saying so); with `partial`, the tables are
    written from what there is and incomplete.json names the missing runs (the report says so)."""
    out = root / "results" / "tables"
    missing = missing_runs(root)
    if missing and not partial:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ResultsError(f"{len(missing)} runs of the studies have no finished train and evaluate outputs yet "
                           f"({shown}): let `dvc repro` finish their stages, or aggregate what there is with "
                           "`gbench aggregate --partial`")
    runs = collect_runs(root)
    summary = summarize_runs(runs)
    specs = {f"{s}/{d}": table_spec(root, b) for (s, d), b in runs.groupby(["study", "dataset"])}
    write_text(out / "runs.csv", runs.to_csv(index=False))
    write_text(out / "summary.csv", summary.to_csv(index=False))
    write_json(out / "summary.json", json.loads(summary.to_json(orient="records")))
    write_json(out / "runs.json", json.loads(runs.to_json(orient="records")))
    write_json(out / "specs.json", specs)
    write_json(out / "sweeps.json", sweep_tables(runs))
    studies = study_kinds(root)
    write_json(out / "studies.json", studies)
    write_json(out / "rank_changes.json", rank_changes(runs, studies))
    write_json(out / "ablations.json", ablation_tables(runs, studies))
    write_json(out / "alignment.json", alignment_tables(runs, studies, root))
    write_json(out / "limited_data.json", limited_data_tables(runs, studies, root))
    write_json(out / "tokenizer.json", tokenizer_tables(runs, summary, studies, root))
    write_json(out / "conditional.json", conditional_specs(root, runs))
    write_json(out / "truncation.json", truncation_tables(root, runs))
    variants = variant_table(root, runs)
    write_json(out / "variants.json", variants)
    curves = curve_tables(root, runs)
    write_json(out / "curves.json", curves)
    write_json(out / "budget_leaders.json", budget_leaders(curves))
    comparisons = comparison_tables(runs, variants, studies)
    write_json(out / "comparisons.json", comparisons)
    write_json(out / "comparisons_equal_flops.json", {
        name: compare.compare_at_equal_flops(curves, name, sorted({r["baseline"] for r in rows}))
        for name, rows in comparisons.items()})
    write_json(out / "incomplete.json", {"missing": missing})
    return out


def _origin(name: str) -> tuple[str, str | None, list[str]]:
    """(origin, paper, families) of a run's variant name: `built-in` for the harness's own families,
    `plugin: <file>` for a user's module, `unregistered` for results whose variant is not loaded now.
    Families are what the report filters by: architecture for a bare variant, else its options' kinds."""
    from bench.protocol import variants
    from models.registry import RegistryError

    parsed = VariantName.parse(name)
    try:
        variant = variants.base(parsed.base)
    except RegistryError:
        return "unregistered", None, ["new method"]
    models_dir = Path(variants.__file__).resolve().parents[2] / "models"
    source = Path(variant.defined_in).resolve()
    builtin = source.is_relative_to(models_dir)
    kinds = []
    for option in parsed.options:
        try:
            kinds.append(variants.option(option).kind)
        except RegistryError:
            kinds.append("unknown option")
    families = sorted(set(kinds)) or ["architecture"]
    if not builtin:
        families = ["new method", *families]
    return ("built-in" if builtin else f"plugin: {source.name}"), variant.paper, families


def variant_table(root: Path, runs: pd.DataFrame) -> dict:
    """Per variant with runs: where it comes from, its paper, its families and its full recipe and
    architecture settings (from the first run's config.json), and each run's config hash."""
    out = {}
    for variant, group in runs.groupby("variant", sort=True):
        config = read_json(root / "results" / group["run"].iloc[0] / "train" / "config.json")
        described = config.get("variant", {})
        origin, paper, families = _origin(variant)
        out[variant] = {
            "name": variant, "origin": origin, "builtin": origin == "built-in",
            "paper": described.get("paper") or paper or "(not registered)", "families": families,
            "family": described.get("family"), "recipe": described.get("recipe", {}),
            "arch": described.get("arch", {}), "z_dim": described.get("z_dim"),
            "conditional": described.get("conditional", False),
            "config_hashes": {r: h for r, h in zip(group["run"], group["config_hash"], strict=True)},
        }
    return out


def _lower_is_better(name: str) -> bool:
    return bool(catalog.metric(name).lower_is_better)


def curve_tables(root: Path, runs: pd.DataFrame) -> dict:
    """Per study x dataset x variant: the evaluate stage's quality curve (domain FID, or modes covered on
    2-D sets) per seed and as mean/std/min/max over seeds at each kimg, plus wall seconds and FLOPs per
    kimg (the run's train totals / its kimg), which put the curve on the wall-clock and FLOP axes."""
    out = {}
    for (study, dataset, variant), group in runs.groupby(["study", "dataset", "variant"], sort=True):
        seeds, metric, n = {}, None, None
        gflop_at: dict[float, list[float]] = {}  # kimg -> the GFLOP each seed had spent there (train curve)
        for _, run in group.iterrows():
            curve = read_json(root / run["curve"])
            if not curve.get("metric"):
                continue
            metric, n = curve["metric"], curve["n"]
            seeds[str(int(run["seed"]))] = [[p["kimg"], p[metric]] for p in curve["points"]
                                            if p.get(metric) is not None]
            for point in read_json(root / run["losses"]).get("points", []):
                if point.get("gflop") is not None:
                    gflop_at.setdefault(round(point["kimg"], 6), []).append(point["gflop"])
        if not seeds:
            continue
        by_kimg: dict[float, list[float]] = {}
        for points in seeds.values():
            for kimg, value in points:
                by_kimg.setdefault(round(kimg, 6), []).append(value)
        kimg = group["kimg"].astype(float)
        flops_per_kimg = float((group["flops_total"].astype(float) / kimg).mean())
        points = [{"kimg": k, "mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                   "min": float(np.min(v)), "max": float(np.max(v)), "n": len(v),
                   # counted per step where the train curve has it (growing and lazy steps change the rate)
                   "gflop": float(np.mean(gflop_at[k])) if k in gflop_at else k * flops_per_kimg / 1e9}
                  for k, v in sorted(by_kimg.items())]
        out[f"{study}/{dataset}/{variant}"] = {
            "study": study, "dataset": dataset, "variant": variant, "metric": metric, "n": n,
            "lower_is_better": _lower_is_better(metric), "seeds": seeds, "points": points,
            "wall_s_per_kimg": float((group["wall_s"].astype(float) / kimg).mean()),
            "flops_per_kimg": flops_per_kimg,
        }
    return out


def comparison_tables(runs: pd.DataFrame, variants: dict, kinds: dict) -> dict:
    """Every variant that is not built in, against the built-in variants of the same table studies
    (the leaderboards; sweeps compare hyperparameters, not methods)."""
    tables = runs[[kinds.get(s, {}).get("kind", "table") == "table" for s in runs["study"]]]
    builtin = {name: info["builtin"] for name, info in variants.items()}
    out = {}
    for name in sorted(n for n in set(tables["variant"]) if not builtin.get(n, False)):
        against = compare.baselines_of(tables, name, builtin)
        try:
            out[name] = compare.compare(tables, name, against)
        except CompareError:  # no baseline shares a dataset and a measured metric with it
            continue
    return out
