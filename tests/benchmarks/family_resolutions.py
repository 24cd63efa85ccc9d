"""Benchmark: every image family at every resolution, two ways.

`--counts` prints, for each registered image variant and each square size (16 ... 256, and 48), the parameter
counts of G and D at width 1 with 3 channels and 10 classes (built on the meta device: nothing is allocated),
or the reason the family refuses that size. Beside them, the reference implementation's counts where a test
checks them (the tables in tests/models/: those tests assert equality, this only prints them side by side).

`--smoke` trains and evaluates one variant of every image family on a dataset it writes itself: `--n` images
of three labeled shapes at `--size` px, 3 channels, converted by `gbench dataset-tool` and declared in
params.yaml (the path a user's own data takes), smoke profile, `--kimg` images at width `--width` (the growing
families' and R3GAN's family width is the smoke profile's), Inception FID on `--n-gen` samples. It prints one
JSON line per family (G/D parameters as trained, train and evaluate seconds, FID) and a table.

    python tests/benchmarks/family_resolutions.py --counts
    python tests/benchmarks/family_resolutions.py --smoke --size 64
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SIZES = (16, 32, 48, 64, 128, 256, 1024)
SMOKE_VARIANTS = ("dcgan", "cgan", "acgan", "sngan", "sngan-proj", "sagan", "biggan", "progan", "stylegan",
                  "stylegan2", "stylegan3-t", "r3gan")


def _n(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def reference_counts() -> dict[tuple[str, int], tuple[int, int]]:
    """(variant, size) -> the reference's (G, D) at width 1, 3 channels, 10 classes (unconditional for the
    unconditional families), from the tables the tests in tests/models/ check against."""
    from tests.models import (
        test_acgan_resolutions,
        test_biggan_resolutions,
        test_r3gan_resolutions,
        test_sngan_resolutions,
        test_stylegan_resolutions,
        test_zoo,
    )

    counts = {(name, 32): gd for name, gd in test_zoo.PUBLISHED_COUNTS.items()}
    counts[("dcgan", 64)] = (3_576_704, 2_765_568)  # tests/models/test_architectures.py (pytorch/examples)
    counts[("acgan", 128)] = (test_acgan_resolutions.REF_128_G, test_acgan_resolutions.REF_128_D[10])
    r3gan = test_r3gan_resolutions.REFERENCE_COUNTS
    counts.update({("r3gan", side): r3gan[(preset, 10)]
                   for side, preset in ((32, "CIFAR10"), (64, "FFHQ-64"), (256, "FFHQ-256"))})
    counts.update(test_sngan_resolutions.REFERENCE_COUNTS)
    counts.update(test_biggan_resolutions.REFERENCE_COUNTS)  # at the reference's z (see REFERENCE_Z there)
    counts.update(test_stylegan_resolutions.REFERENCE_COUNTS)
    counts.update({("progan", side): gd for side, gd in test_stylegan_resolutions.PROGAN_TF.items()})
    counts.update({("stylegan", side): gd for side, gd in test_stylegan_resolutions.STYLEGAN_TF.items()})
    return counts


def print_counts() -> None:
    from bench.protocol import variants
    from bench.training.objective import build_discriminator

    variants.load([], None)
    from tests.models.test_biggan_resolutions import REFERENCE_Z

    reference = reference_counts()
    reference_z = {("biggan", side): z for side, z in REFERENCE_Z.items()}  # BigGAN-PyTorch shortens z per size
    print(f"{'variant':13s}" + "".join(f"{s:>24d}" for s in SIZES))
    for name in SMOKE_VARIANTS:
        v = variants.compose(name)
        cells = []
        for size in SIZES:
            shape, kw = (3, size, size), ({"n_classes": 10} if v.conditional else {})
            try:
                with torch.device("meta"):
                    g = v.generator(shape, reference_z.get((name, size), v.z_dim), width=1.0, **kw, **v.arch)
                    d = build_discriminator(v.discriminator(shape, width=1.0, **kw, **v.arch), v.recipe)
            except (ValueError, NotImplementedError) as exc:
                cells.append("-")
                print(f"  {name} {size}: {exc}", file=sys.stderr)
                continue
            ours = (_n(g), _n(d))
            ref = reference.get((name, size))
            mark = "" if ref is None else (" =" if ref == ours else " !=")
            cells.append(f"{ours[0] / 1e6:.2f}M/{ours[1] / 1e6:.2f}M{mark}")
        print(f"{name:13s}" + "".join(f"{c:>24s}" for c in cells))
    print("(G/D parameters at width 1, 3 channels, 10 classes for the conditional variants; '=' the reference's "
          "count, which a test in tests/models/ checks; '!=' differs; '-' refused; BigGAN at 64/128/256 with the "
          "reference's z of 125/120/140)")


def smoke(size: int, n: int, kimg: float, width: float, n_gen: int) -> None:
    from bench.cli import main
    from bench.data import datasets
    from bench.measurement.evaluate import evaluate
    from bench.protocol.runs import RunId
    from bench.training.loop import train
    from tests.bench.data.test_declared import _declare

    settings = {"train": {"kimg": kimg, "width": width, "curve_every_kimg": kimg, "checkpoint_every_kimg": kimg,
                          "curve_n": 16},
                "evaluate": {"n_gen": n_gen, "backbones": ["inception"]}, "reference": {"n_ref": n}}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root, name = Path(tmp), f"shapes{size}"
        _declare(root, name, size, list(SMOKE_VARIANTS), n=n)
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["profiles"]["smoke"][name] = settings
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        (root / "results").mkdir()
        started = time.perf_counter()
        assert main(["--root", str(root), "prepare", name]) == 0
        assert main(["--root", str(root), "reference", name]) == 0
        print(json.dumps({"stage": "prepare+reference", "s": round(time.perf_counter() - started, 1)}), flush=True)
        for variant in SMOKE_VARIANTS:
            run = RunId.parse(f"mine/{name}/{variant}/s0")
            t0 = time.perf_counter()
            folder = train(run, root)
            t1 = time.perf_counter()
            metrics = json.loads((evaluate(run, root) / "metrics.json").read_text())
            t2 = time.perf_counter()
            config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
            row = {"variant": variant, "size": size, "width": config.get("train", {}).get("width"),
                   "train_s": round(t1 - t0, 1), "evaluate_s": round(t2 - t1, 1),
                   "fid": metrics["metrics"].get("fid"), "n_gen": n_gen, "kimg": kimg}
            rows.append(row)
            print(json.dumps(row), flush=True)
        datasets.declare(None)
    print(f"\n{'variant':13s} {'width':>8s} {'train s':>8s} {'eval s':>7s} {'FID':>8s}   ({size}x{size}x3, "
          f"{kimg} kimg, N = {n_gen}, profile {params['profile']})")
    for r in rows:
        print(f"{r['variant']:13s} {r['width']!s:>8s} {r['train_s']:8.1f} {r['evaluate_s']:7.1f} {r['fid']:8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n", type=int, default=48, help="images in the generated dataset (and reference N)")
    parser.add_argument("--kimg", type=float, default=0.128)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--n-gen", type=int, default=48)
    args = parser.parse_args()
    if args.counts or not args.smoke:
        print_counts()
    if args.smoke:
        smoke(args.size, args.n, args.kimg, args.width, args.n_gen)
