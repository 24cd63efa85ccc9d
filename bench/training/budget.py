"""A run's budget in the unit its study chose: images shown to D (`kimg`), training FLOPs (`gflop`) or
wall-clock seconds on the run's device (`device_seconds`).

- `kimg`: the run trains until `kimg` thousand images have been shown to D (whole steps).
- `gflop`: deterministic and device-independent. FLOPs are counted as the train stage counts them
  (forward + backward of every phase, penalties, unrolling and lazy steps at the steps they run, each at
  the level of detail the schedule gives that step: Trainer.step_flops). Before the first step the budget
  is turned into an image horizon: the most whole steps whose schedule, stretched over exactly those
  steps, spends at most the budget. The run then trains that horizon, so its schedules (progressive growing,
  noise annealing) end where they would for a `kimg` budget of that size. The horizon is kept in the
  run's progress, so a resumed run continues against the same one.
- `device_seconds`: the run stops at the first step boundary after that many wall-clock seconds spent
  inside its training steps (summed over restarts; curve snapshots, checkpoints and the FLOP count are the
  harness's time and do not count), whatever the device does. Not bit-reproducible, and every table of
  such runs says so. Its schedules run on the `kimg` horizon; the run may stop before or after it.

The amount spent is recorded in the unit (cost.json `budget`). Runs with different units are never
pooled in one table (bench/tables/aggregate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.protocol.params import images_of

UNITS = ("kimg", "gflop", "device_seconds")


@dataclass(frozen=True)
class Budget:
    unit: str
    amount: float  # in the unit
    horizon: int  # images the schedules are laid out over

    def spent(self, progress: dict[str, Any], train_s: float) -> float:
        """What the run has used so far, in the unit."""
        if self.unit == "kimg":
            return progress["images"] / 1000
        if self.unit == "gflop":
            return progress.get("flops", 0) / 1e9
        return train_s

    def done(self, progress: dict[str, Any], train_s: float) -> bool:
        if self.unit == "device_seconds":
            return train_s >= self.amount
        return progress["images"] >= self.horizon

    def record(self, progress: dict[str, Any], train_s: float) -> dict[str, Any]:
        return {"unit": self.unit, "amount": self.amount, "spent": self.spent(progress, train_s),
                "horizon_kimg": self.horizon / 1000, "reproducible": self.unit != "device_seconds"}


def run_budget(settings, trainer, progress: dict[str, Any]) -> Budget:
    """The run's budget from its train settings; a FLOP budget's horizon is derived once and kept in `progress`."""
    unit = settings.get("budget_unit", "kimg")
    if unit == "kimg":
        return Budget("kimg", settings["kimg"], images_of(settings["kimg"]))
    if unit == "device_seconds":
        return Budget("device_seconds", settings["device_seconds"], images_of(settings["kimg"]))
    if "horizon" not in progress:
        progress["horizon"] = horizon_for_flops(trainer, round(settings["gflop"] * 1e9))
    return Budget("gflop", settings["gflop"], progress["horizon"])


def flops_over(trainer, steps: int) -> int:
    """FLOPs of `steps` steps whose schedule is laid out over exactly those steps."""
    per_step = trainer.images_per_step
    horizon = steps * per_step
    return sum(trainer.step_flops({"images": k * per_step, "step": k}, horizon) for k in range(steps))


def horizon_for_flops(trainer, flops: int) -> int:
    """The image horizon of the most whole steps that spend at most `flops` (bisection: the FLOPs of a
    schedule grow with its length). At least one step."""
    low, high = 1, 2
    while flops_over(trainer, high) <= flops:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if flops_over(trainer, middle) <= flops:
            low = middle
        else:
            high = middle
    return low * trainer.images_per_step


def flops_per_image(run) -> float:
    """Training FLOPs per image shown to D of a run at full resolution, the lazy phases at their frequency (what
    a budget buys; a growing run spends less per image before it reaches full size). Measured on a batch of
    zeros of the dataset's shape: FLOPs do not depend on the values."""
    from bench.training.tasks import task_of

    recipe, shape = run.variant.recipe, tuple(run.dataset.shape)
    dtype = np.uint8 if run.dataset.kind == "images" else np.float32
    data = {"train_x": np.zeros((recipe.batch, *shape), dtype), "train_y": np.zeros(recipe.batch, np.int64)}
    with torch.random.fork_rng(devices=[]):
        trainer = task_of(run.task).trainer(run, data, torch.device("cpu"))
        parts = trainer.phase_flops()
    per_step = (recipe.n_critic * (parts["d"] + parts.get("d_reg", 0) / max(1, recipe.reg_every))
                + parts["g"] + parts.get("g_reg", 0) / max(1, recipe.pl_every))
    return per_step / trainer.images_per_step
