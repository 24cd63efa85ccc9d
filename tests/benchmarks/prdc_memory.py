"""Benchmark: precision/recall/density/coverage of 50k x 50k feature sets in bounded memory.

A dense 50k x 50k float64 distance matrix would need 20 GB; the batched implementation keeps one tile
(<= 2**23 distances, 64 MiB) at a time. Prints wall time and the process's peak RSS growth.
Run: `python tests/benchmarks/prdc_memory.py [--n 50000] [--dim 64]`.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from bench.measurement.metrics.prdc import precision_recall_density_coverage


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    real = rng.standard_normal((args.n, args.dim))
    fake = rng.standard_normal((args.n, args.dim)) * 1.1 + 0.05
    before = peak_rss_mb()
    start = time.perf_counter()
    values = precision_recall_density_coverage(real, fake)
    seconds = time.perf_counter() - start
    dense_gb = args.n * args.n * 8 / 1e9
    print(f"n = m = {args.n}, d = {args.dim}: {seconds:.1f} s, peak RSS {before:.0f} -> {peak_rss_mb():.0f} MB "
          f"(+{peak_rss_mb() - before:.0f} MB; a dense distance matrix alone would be {dense_gb:.0f} GB)")
    print(", ".join(f"{k} {v:.4f}" for k, v in values.items()))


if __name__ == "__main__":
    main()
