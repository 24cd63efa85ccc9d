"""Benchmark: training throughput of our train step, images shown to D per second, per variant.

Each variant is built exactly as the train stage builds it under a profile (default `quick`: its widths,
family widths and batch), on a dataset (default fmnist32), and stepped in this process by the real trainer:
`--warmup` steps, then `--steps` timed steps, `--repeats` times, reporting the median. Growing variants
(ProGAN, StyleGAN) are timed at several points of their schedule (`--at`, fractions of the budget), since a
step at 8x8 costs a fraction of one at 32x32; the estimated train time takes the harmonic mean of those rates
(each point standing for an equal share of the images). Threads: torch's default, or OMP_NUM_THREADS.

    python tests/benchmarks/training_throughput.py                       # the quick leaderboard's variants
    python tests/benchmarks/training_throughput.py sngan biggan --width sngan=0.125 --width biggan=0.125

`--width FAMILY=W` overrides a family's width (`sngan`, `stylegan2`, ... as in params.yaml's family_width, or
`all`), to plan a profile's widths. Prints one line per variant and a JSON summary with `--json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
STUDY = "throughput"
DEFAULT = ["dcgan", "cgan", "acgan", "sngan", "sngan-proj", "sagan", "biggan", "progan", "stylegan", "stylegan2",
           "stylegan3-t", "r3gan", "stylegan2-a", "stylegan2-f"]


def scratch_root(dest: Path, profile: str, variants: list[str], widths: dict[str, float],
                 dataset: str = "fmnist32") -> Path:
    """A results root: the repository's params.yaml (profile set, widths overridden) and studies, plus a study of
    `variants` on `dataset`, with the prepared data linked from the repository (or prepared here)."""
    (dest / "pipelines").mkdir(parents=True)
    from bench.protocol.studies import study_paths

    for path in study_paths(REPO):  # params.yaml's study blocks name them
        shutil.copy(path, dest / "pipelines" / path.name)
    (dest / "pipelines" / f"{STUDY}.yaml").write_text(yaml.safe_dump(
        {STUDY: {"datasets": {dataset: variants}, "seeds": [0]}}))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = profile
    train = params["profiles"][profile][dataset]["train"]
    for family, width in widths.items():
        if family == "all":
            train["width"] = width
            train.pop("family_width", None)
        else:
            train.setdefault("family_width", {})[family] = width
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    data = REPO / "results" / "data" / dataset
    (dest / "results" / "data").mkdir(parents=True)
    if (data / "meta.json").is_file():
        (dest / "results" / "data" / dataset).symlink_to(data)
    else:
        from bench.data.datasets import prepare

        prepare(dataset, dest)
    return dest


def new_trainer(run, data):
    """The run's trainer as the train stage builds it (seeded, deterministic algorithms on)."""
    import torch

    from bench.protocol.seeding import make_deterministic, stream_seed
    from bench.training.distributed import SINGLE
    from bench.training.tasks import task_of

    make_deterministic()
    torch.manual_seed(stream_seed(run.run.seed, "weights"))
    return task_of(run.task).trainer(run, data, torch.device("cpu"), SINGLE)


def images_per_second(run, data, at: float, warmup: int, steps: int, repeats: int) -> list[float]:
    """Samples of images/s of `steps` consecutive steps, starting at fraction `at` of the budget."""
    from bench.protocol.params import images_of

    trainer = new_trainer(run, data)
    horizon = images_of(run.train["kimg"])
    start = int(at * horizon)
    progress = {"step": 0, "images": start, "curve": [], "next_curve": horizon, "next_ckpt": horizon}
    trainer.begin(progress, horizon)
    for _ in range(warmup):
        trainer.step(progress, horizon)
    rates = []
    for _ in range(repeats):
        before, started = progress["images"], time.perf_counter()
        for _ in range(steps):
            trainer.step(progress, horizon)
        rates.append((progress["images"] - before) / (time.perf_counter() - started))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", default=DEFAULT)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dataset", default="fmnist32")
    parser.add_argument("--width", action="append", default=[], metavar="FAMILY=W")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--at", default="0.1,0.3,0.5,0.7,0.9",
                        help="fractions of the budget where growing variants are timed")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    widths = {k: float(v) for k, v in (item.split("=", 1) for item in args.width)}

    import torch

    from bench.data.datasets import load_prepared
    from bench.protocol.resolve import Protocol
    from bench.protocol.runs import RunId

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = scratch_root(Path(tmp) / "root", args.profile, args.variants, widths, args.dataset)
        protocol, data = Protocol.load(root), load_prepared(args.dataset, root)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, profile {args.profile}; images shown "
              f"to D per second, median of {args.repeats} x {args.steps} steps after {args.warmup}")
        for name in args.variants:
            run = protocol.resolve(RunId(STUDY, args.dataset, name, 0))
            growing = new_trainer(run, data).growing
            points = [float(a) for a in args.at.split(",")] if growing else [0.0]
            medians = [statistics.median(images_per_second(run, data, at, args.warmup, args.steps, args.repeats))
                       for at in points]
            seconds = run.train["kimg"] * 1000 / statistics.harmonic_mean(medians)  # equal images at each point
            row = {"variant": name, "width": run.train["width"], "batch": run.variant.recipe.batch,
                   "img_per_s": dict(zip(map(str, points), medians, strict=True)),
                   "kimg": run.train["kimg"], "est_train_s": seconds}
            rows.append(row)
            rates = ", ".join(f"{m:.1f}" + (f" at {p:g}" if growing else "") for p, m in zip(points, medians,
                                                                                             strict=True))
            print(f"  {name:<14} width {row['width']:<7g} batch {row['batch']:<3} {rates} img/s; "
                  f"{row['kimg']:g} kimg ~ {seconds:.0f} s", flush=True)
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())
