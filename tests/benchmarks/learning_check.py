"""Benchmark: does every image run learn measurably? Final FID vs the FID of the same generator at
initialisation, with the same N, the same evaluation latents and the same reference features.

Run after `dvc repro` from the repository root: `python tests/benchmarks/learning_check.py`.
The initial generator is rebuilt exactly as the train stage builds it (seed stream 'weights').
"""

from __future__ import annotations

from pathlib import Path

import torch

from bench.measurement.inception import InceptionFeatures
from bench.measurement.metrics.fid import frechet_distance_features
from bench.measurement.reference import load_reference
from bench.protocol.io import read_json
from bench.protocol.resolve import Protocol
from bench.protocol.runs import RunId
from bench.protocol.seeding import stream_seed
from bench.training.snapshots import quantize
from bench.training.tasks import task_of


def init_fid(protocol: Protocol, run_id: str, n_gen: int, backbone: InceptionFeatures) -> float:
    run = protocol.resolve(RunId.parse(run_id))
    torch.manual_seed(stream_seed(run.run.seed, "weights"))
    g, _ = run.build_models()
    samples, _ = task_of(run.task).evaluation_samples(run, g.eval(), n_gen, torch.device("cpu"))
    reference, _ = load_reference(Path("."), run.run.dataset, "inception")
    return frechet_distance_features(backbone(quantize(samples)), reference["features"])


def main() -> None:
    backbone, protocol = InceptionFeatures(), Protocol.load(Path("."))
    print(f"{'run':<40} {'N':>5} {'FID init':>9} {'FID final':>9} {'ratio':>6}")
    for metrics_path in sorted(Path("results").glob("*/*/*/s*/eval/metrics.json")):
        record = read_json(metrics_path)
        if "fid" not in record["metrics"]:
            continue
        start = init_fid(protocol, record["run"], record["spec"]["n_gen"], backbone)
        final = record["metrics"]["fid"]
        print(f"{record['run']:<40} {record['spec']['n_gen']:>5} {start:>9.1f} {final:>9.1f} {final / start:>6.2f}")


if __name__ == "__main__":
    main()
