"""Benchmark: does every image run learn measurably? Each run's final FID against the FID of the same
generator at initialisation, with the same N, the same latents and the same reference; a run "learns" when
the ratio is at most 0.5.

Run after `dvc repro` from the repository root: `python tests/benchmarks/learning_check.py`.

- Domain backbone, every image run that has one: the train stage keeps the samples of fixed curve latents at
  kimg 0 (the generator as initialised) and at every curve point, and evaluate scores them on the domain
  features (eval/curve.json, N = curve_n); the ratio is the last point's FID over the first's.
- Inception (`--inception`), runs whose metrics have `fid`: the initial generator is rebuilt exactly as the
  train stage builds it (seed stream 'weights') and scored on the run's N evaluation samples against the
  Inception reference, beside the final FID of metrics.json. Inception runs at ~6 images/s on a 2-core CPU,
  so `--seeds 0` limits it to one seed per variant.

Prints a table and, per family of runs (study, dataset, variant over seeds), the worst ratio; `--json` writes it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.protocol.io import read_json

LEARNS = 0.5


def domain_ratio(eval_dir: Path) -> dict | None:
    """The domain-FID curve's first and last point (the same N and latents), or None without one."""
    if not (eval_dir / "curve.json").is_file():
        return None
    curve = read_json(eval_dir / "curve.json")
    points = [p for p in curve.get("points", []) if p.get("fid_domain") is not None]
    if curve.get("metric") != "fid_domain" or len(points) < 2 or points[0]["kimg"] != 0:
        return None
    return {"n": curve["n"], "init": points[0]["fid_domain"], "final": points[-1]["fid_domain"],
            "kimg": points[-1]["kimg"], "ratio": points[-1]["fid_domain"] / points[0]["fid_domain"]}


def inception_init_fid(protocol, run_id: str, n_gen: int, backbone) -> float:
    import torch

    from bench.measurement.metrics.fid import frechet_distance_features
    from bench.measurement.reference import load_reference
    from bench.protocol.runs import RunId
    from bench.protocol.seeding import stream_seed
    from bench.training.snapshots import quantize
    from bench.training.tasks import task_of

    run = protocol.resolve(RunId.parse(run_id))
    torch.manual_seed(stream_seed(run.run.seed, "weights"))
    g, _ = run.build_models()
    torch.manual_seed(stream_seed(run.run.seed, "eval-noise"))  # as evaluate draws its samples
    samples, _ = task_of(run.task).evaluation_samples(run, g.eval(), n_gen, torch.device("cpu"))
    reference, _ = load_reference(Path("."), run.run.dataset, "inception")
    return frechet_distance_features(backbone(quantize(samples)), reference["features"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inception", action="store_true", help="also the Inception FID ratio (slow on a CPU)")
    parser.add_argument("--seeds", default=None, help="only these seeds, e.g. 0 or 0,1 (default: all)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    seeds = {int(s) for s in args.seeds.split(",")} if args.seeds else None
    protocol = backbone = None
    if args.inception:
        from bench.measurement.inception import InceptionFeatures
        from bench.protocol.resolve import Protocol

        protocol, backbone = Protocol.load(Path(".")), InceptionFeatures()
    rows = []
    print(f"{'run':<52} {'domain N':>8} {'init':>7} {'final':>7} {'ratio':>6}" +
          (f"  {'Inc. N':>6} {'init':>7} {'final':>7} {'ratio':>6}" if args.inception else ""))
    for metrics_path in sorted(Path("results").glob("*/*/*/s*/eval/metrics.json")):
        record = read_json(metrics_path)
        if record["spec"].get("kind") != "images" or (seeds is not None and record["seed"] not in seeds):
            continue
        row = {"run": record["run"], "study": record["study"], "dataset": record["dataset"],
               "variant": record["variant"], "domain": domain_ratio(metrics_path.parent)}
        line = f"{record['run']:<52} "
        line += ("{n:>8} {init:>7.1f} {final:>7.1f} {ratio:>6.2f}".format(**row["domain"]) if row["domain"]
                 else f"{'-':>8} {'':>7} {'':>7} {'':>6}")
        if args.inception and record["metrics"].get("fid") is not None:
            n = record["spec"]["n_gen"]
            init = inception_init_fid(protocol, record["run"], n, backbone)
            row["inception"] = {"n": n, "init": init, "final": record["metrics"]["fid"],
                                "ratio": record["metrics"]["fid"] / init}
            line += "  {n:>6} {init:>7.1f} {final:>7.1f} {ratio:>6.2f}".format(**row["inception"])
        rows.append(row)
        print(line, flush=True)
    families: dict[tuple, list[dict]] = {}
    for row in rows:
        families.setdefault((row["study"], row["dataset"], row["variant"]), []).append(row)
    print(f"\nper variant: the worst ratio over its seeds (learns: <= {LEARNS})")
    for (study, dataset, variant), members in families.items():
        parts = []
        for backbone_name in ("domain", "inception"):
            ratios = [m[backbone_name]["ratio"] for m in members if m.get(backbone_name)]
            if ratios:
                verdict = "learns" if max(ratios) <= LEARNS else f"misses by {max(ratios) / LEARNS:.2f}x"
                parts.append(f"{backbone_name} {max(ratios):.2f} ({verdict})")
        print(f"  {study + '/' + dataset + '/' + variant:<50} " + "; ".join(parts))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
