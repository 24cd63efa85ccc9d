"""Benchmark: what the health signals cost a training step (README "Training health").

One run's trainer, built as its train stage builds it, is stepped in alternating blocks with the health signals
on and off (off: D's accuracies and real-fake gap not computed, the gradient norms not taken), so that drift of
the machine's speed falls on both alike; prints the median step of each and their ratio.

    python tests/benchmarks/health_logging_cost.py --root . leaderboard/fmnist32/dcgan/s0

`--root`: a repository root whose results/data holds the run's prepared dataset (e.g. after `dvc repro`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from bench.data.datasets import load_prepared
from bench.protocol.resolve import resolve
from bench.protocol.runs import RunId
from bench.training import distributed, objective
from bench.training.tasks import task_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run ids, e.g. leaderboard/fmnist32/dcgan/s0")
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--blocks", type=int, default=80, help="alternating blocks (the first 4 warm up)")
    parser.add_argument("--steps", type=int, default=3, help="steps per block (the first of each not timed)")
    args = parser.parse_args()
    on = {"health": objective.d_health, "norm": distributed._gradient_norm}
    off = {"health": lambda *a: {}, "norm": lambda optimizer: 0.0}
    for name in args.runs:
        run = resolve(RunId.parse(name), args.root)
        trainer = task_of(run.task).trainer(run, load_prepared(run.run.dataset, args.root), torch.device("cpu"))
        progress = {"step": 0, "images": 0, "curve": []}
        horizon = 10**9
        trainer.begin(progress, horizon)
        times: dict[str, list[float]] = {"on": [], "off": []}
        try:
            for block in range(args.blocks):
                mode = "on" if block % 2 == 0 else "off"
                chosen = on if mode == "on" else off
                objective.d_health, distributed._gradient_norm = chosen["health"], chosen["norm"]
                for i in range(args.steps):
                    started = time.perf_counter()
                    trainer.step(progress, horizon)
                    if block >= 4 and i >= 1:
                        times[mode].append(time.perf_counter() - started)
        finally:
            objective.d_health, distributed._gradient_norm = on["health"], on["norm"]
        with_, without = statistics.median(times["on"]), statistics.median(times["off"])
        print(f"{name}: median step with the health signals {with_ * 1e3:.2f} ms, without {without * 1e3:.2f} ms, "
              f"ratio {with_ / without:.3f} (n = {len(times['on'])} + {len(times['off'])} steps)")


if __name__ == "__main__":
    main()
