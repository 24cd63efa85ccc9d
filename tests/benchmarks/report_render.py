"""Benchmark: aggregate and render the report for 1,000 synthetic runs; every page must stay under 5 MB.

The runs are written as the train and evaluate stages write them (metrics.json with one metric spec per
dataset, config.json, cost.json, both curves, an 8x8 sample grid of 32x32 noise images): half on an
image dataset (fmnist32, every image metric on both backbones), half on a 2-D set (ring8), 3 seeds per
variant, variants built from registered variants and options plus two unregistered "new methods" that
get comparison pages. Prints the wall time of `aggregate` and of `render` (the part the 30 s target is
about), the number of pages and the largest page.
Run: `python tests/benchmarks/report_render.py [--runs 1000] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.protocol import variants
from bench.protocol.io import write_json
from bench.report.render import render
from bench.tables.aggregate import aggregate
from models.registry import RegistryError

SPECS = {
    "fmnist32": {"kind": "images", "n_gen": 500, "profile": "bench", "device": "cpu",
                 "libraries": {"clean-fid": "0.1.35", "torch": "2.14.1"},
                 "backbones": {name: {"backbone": name, "n_gen": 500, "weights_sha256": "0" * 64,
                                      "reference": {"dataset": "fmnist32", "split": "eval", "n_ref": 2000},
                                      "kid": {"subsets": 100, "max_subset_size": 1000, "seed": 1}}
                               for name in ("inception", "domain")}},
    "ring8": {"kind": "points", "n_gen": 2500, "profile": "bench", "device": "cpu", "libraries": {"torch": "2.14.1"},
              "backbones": {"points": {"backbone": "points", "high_quality_threshold": "3 sigma",
                                       "reverse_kl": "KL"}}},
}
IMAGE_METRICS = ["fid", "kid", "precision", "recall", "density", "coverage"]


def variant_names(base: str, count: int) -> list[str]:
    """`count` distinct valid names: the base variant with one loss and up to two regularizers."""
    losses = [o.name for o in variants.all_options() if o.kind == "loss"]
    tricks = [o.name for o in variants.all_options() if o.kind == "regularizer"]
    names = []
    for loss, extra in itertools.product(losses, [(), *((t,) for t in tricks), *itertools.combinations(tricks, 2)]):
        name = "+".join([base, loss, *extra])
        try:
            variants.compose(name)
        except RegistryError:
            continue
        names.append(name)
        if len(names) == count - 2:
            break
    return [base, *names, f"new-method-{base}"][:count]


def write_run(root: Path, dataset: str, variant: str, seed: int, rng: np.random.Generator, grid: Path) -> None:
    run = f"leaderboard/{dataset}/{variant}/s{seed}"
    folder = root / "results" / run
    if dataset == "fmnist32":
        quality = float(rng.uniform(20, 300))
        metrics = {m: float(rng.uniform(0, 1)) for m in IMAGE_METRICS}
        metrics.update({f"{m}_domain": float(rng.uniform(0, 1)) for m in IMAGE_METRICS})
        metrics.update({"fid": quality, "fid_domain": quality * 2, "kid": quality / 1e3, "modes_covered": 10,
                        "reverse_kl": 0.1, "n_modes": 10})
        curve_metric = "fid_domain"
    else:
        quality = float(rng.integers(1, 9))
        metrics = {"modes_covered": quality, "high_quality": float(rng.uniform()), "reverse_kl": float(rng.uniform()),
                   "n_modes": 8}
        curve_metric = "modes_covered"
    write_json(folder / "eval" / "metrics.json", {
        "run": run, "study": "leaderboard", "dataset": dataset, "variant": variant, "seed": seed,
        "metrics": metrics, "spec": {**SPECS[dataset], "latent_seed": seed, "config_hash": f"{seed:012x}"}})
    write_json(folder / "train" / "config.json", {"variant": {"name": variant, "paper": "bench", "recipe": {
        "loss": "ns", "lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999], "n_critic": 1}, "arch": {}}})
    write_json(folder / "train" / "cost.json", {"wall_s": float(rng.uniform(10, 300)), "kimg": 10.0,
                                                "flops_total": 3e11, "peak_rss_mb": 1200.0, "device": "cpu"})
    write_json(folder / "train" / "curve.json", {"points": [{"kimg": k, "loss_d": 1.0} for k in range(0, 11, 2)]})
    write_json(folder / "eval" / "curve.json", {"metric": curve_metric, "n": 1000, "points": [
        {"kimg": float(k), curve_metric: quality * (1 + (10 - k) / 10)} for k in range(0, 11, 2)]})
    shutil.copyfile(grid, folder / "eval" / "samples.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep it (default: a temp dir)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="report-bench-"))
    rng = np.random.default_rng(0)
    grid = root / "grid.png"
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (8 * 34, 8 * 34), dtype=np.uint8)).save(grid)
    per_dataset = -(-args.runs // 6)  # variants per dataset at 3 seeds, 2 datasets
    n_runs = 0
    for dataset, base in (("fmnist32", "dcgan"), ("ring8", "mlp-gan")):
        for variant in variant_names(base, per_dataset):
            for seed in range(3):
                if n_runs < args.runs:
                    write_run(root, dataset, variant, seed, rng, grid)
                    n_runs += 1
    start = time.perf_counter()
    aggregate(root)
    aggregated = time.perf_counter() - start
    start = time.perf_counter()
    index = render(root)
    rendered = time.perf_counter() - start
    pages = sorted(index.parent.glob("*.html"), key=lambda p: p.stat().st_size)
    print(f"{n_runs} runs ({per_dataset} variants x 3 seeds x 2 datasets): aggregate {aggregated:.1f} s, "
          f"render {rendered:.1f} s; {len(pages)} pages, largest {pages[-1].name} "
          f"{pages[-1].stat().st_size / 1e6:.2f} MB, index {index.stat().st_size / 1e6:.2f} MB, "
          f"reports/ {sum(p.stat().st_size for p in index.parent.rglob('*') if p.is_file()) / 1e6:.1f} MB")
    if pages[-1].stat().st_size > 5e6:
        raise SystemExit(f"{pages[-1].name} is over 5 MB")
    if args.keep is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
