"""Benchmark: does every image run learn measurably? Final FID vs the FID of the same generator at
initialisation, with the same N, the same evaluation latents and the same reference features.

Run after `dvc repro` from the repository root: `python tests/benchmarks/learning_check.py`.
The initial generator is rebuilt exactly as the train stage builds it (seed stream 'weights').
"""

from __future__ import annotations

from pathlib import Path

import torch

from bench.evaluate import generate
from bench.inception import InceptionFeatures
from bench.io import read_json
from bench.metrics.fid import frechet_distance_features
from bench.reference import load_reference
from bench.seeding import generator, stream_seed
from bench.snapshots import quantize
from bench.train import build_models


def init_fid(run_dir: Path, n_gen: int, backbone: InceptionFeatures) -> float:
    config = read_json(run_dir / "train" / "config.json")
    torch.manual_seed(stream_seed(config["seed"], "weights"))
    g, _ = build_models(config)
    latents = torch.randn(n_gen, config["variant"]["z_dim"], generator=generator(config["seed"], "eval-latents"))
    features = backbone(quantize(generate(g, latents, torch.device("cpu"))))
    reference, _ = load_reference(Path("."), config["dataset"], "inception")
    return frechet_distance_features(features, reference["features"])


def main() -> None:
    backbone = InceptionFeatures()
    print(f"{'run':<40} {'N':>5} {'FID init':>9} {'FID final':>9} {'ratio':>6}")
    for metrics_path in sorted(Path("results").glob("*/*/*/s*/eval/metrics.json")):
        record = read_json(metrics_path)
        if "fid" not in record["metrics"]:
            continue
        run_dir = metrics_path.parent.parent
        start = init_fid(run_dir, record["spec"]["n_gen"], backbone)
        final = record["metrics"]["fid"]
        print(f"{record['run']:<40} {record['spec']['n_gen']:>5} {start:>9.1f} {final:>9.1f} {final / start:>6.2f}")


if __name__ == "__main__":
    main()
