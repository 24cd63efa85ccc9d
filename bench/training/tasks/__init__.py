"""Task kinds: the seam between the shared train loop / evaluate stage and what differs per kind of run.

The train loop (bench/training/loop.py) owns the budget, seeding, checkpoint/resume, cost and curve
snapshots for every run. A task kind supplies the rest: the networks a run builds, a `Trainer` that
performs one training step, and for the evaluate stage the module it samples, the N samples it scores
and which metric groups apply beyond the per-backbone ones (bench/measurement/evaluate.py computes
them). A new kind is one module here, named in `KINDS`; neither the loop nor evaluate changes. The module
is imported by name, so a run's DVC stage depends on its own kind's module only
(bench/protocol/dependencies.py).

A kind may train in more than one stage: `stages` names those after the `train` stage (the tokenizer's prior), each
a `Stage` the same loop runs into its own output folder, and `evaluated_stage` the one whose checkpoint evaluate
reads.

Today's kinds: `unconditional` and `class-conditional` generation (generation.py), `translation` (translation.py)
and `tokenizer` (tokenizer.py: a tokenizer, then a prior over its codes).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import torch
    import torch.nn as nn

    from bench.protocol.resolve import ResolvedRun
    from bench.training.distributed import Ranks
    from bench.training.snapshots import CurveSnapshots


class Trainer(ABC):
    """One run's networks, optimizers and random streams, stepped by the shared loop.

    `progress` is the loop's record of the run (`images` shown to D, G `step`s, curve points); a step
    adds the images it showed and may keep schedule state of its own there (e.g. the level of detail
    of progressive growing), so a resumed run continues exactly where it stopped."""

    snapshots: CurveSnapshots  # the samples of fixed inputs kept at every curve point
    # logged signals that are states, not per-step measurements (e.g. ADA's p): a curve point keeps their last
    # value instead of their mean since the previous point
    state_signals: tuple[str, ...] = ()

    @abstractmethod
    def begin(self, progress: dict[str, Any], budget: int) -> None:
        """Before the first step of this process (fresh or resumed)."""

    @abstractmethod
    def step(self, progress: dict[str, Any], budget: int) -> dict[str, float]:
        """One training step; returns the losses to log."""

    @abstractmethod
    def non_finite(self) -> list[str]:
        """The networks whose weights are no longer all finite (the loop then records the run as diverged)."""

    @abstractmethod
    def curve_module(self) -> nn.Module:
        """The network the curve snapshots sample (the one evaluation reports)."""

    @abstractmethod
    def step_flops(self, progress: dict[str, Any], budget: int) -> int:
        """FLOPs of the step that starts at `progress` (`images`, `step`) of a `budget` of images, its lazy and
        periodic phases at the steps they run (measured on copies: no state changes). Also the budget
        module's cost model: it simulates steps with it (bench/training/budget.py)."""

    @property
    @abstractmethod
    def images_per_step(self) -> int:
        """Images shown to the discriminator(s) in one step."""

    @abstractmethod
    def phase_flops(self, lod: float = 0.0) -> dict[str, int]:
        """FLOPs of each phase of a step (`d`, `g`, ...) at a level of detail (0: full resolution)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint must restore, as tensors and plain data (loadable with weights_only)."""

    @abstractmethod
    def load_state_dict(self, saved: dict[str, Any]) -> None: ...

    def networks(self) -> list[nn.Module]:
        """Every network the run trains with (default: none named; a kind lists its own)."""
        return []

    @property
    def micro_batches(self) -> int:
        """Micro-batches each optimizer step accumulates (1: the plain step)."""
        return 1

    def pretrained_networks(self) -> list[str]:
        """The pretrained networks the training sees, by name: every module of `networks()` that declares
        `pretrained_networks` (e.g. a projected or vision-aided D's frozen feature network). A metric computed on
        one of them is marked where the run is shown (a method can lower a metric by training against its
        network without better images: Kynkaanniemi et al. 2023)."""
        return sorted({name for net in self.networks() for module in net.modules()
                       for name in getattr(module, "pretrained_networks", ())})


TRAIN = "train"


@dataclass(frozen=True)
class Stage:
    """A training stage of a run after its `train` stage (e.g. the tokenizer's prior): the loop trains `trainer`'s
    result into results/<run>/<name>/, resuming in its own resume folder, under `settings` (kimg, curve and
    checkpoint intervals, curve_n) and `config` (config.json, hashed: `config["config_hash"]`; it names whatever
    else the result follows from besides the dataset and the code, e.g. an earlier stage's checkpoint's sha256)."""

    name: str
    config: dict[str, Any]
    settings: Mapping[str, Any]
    trainer: Callable[[dict[str, np.ndarray], torch.device, Ranks], Trainer]

    @property
    def config_hash(self) -> str:
        return self.config["config_hash"]


class TaskKind(ABC):
    name: str
    evaluated_stage: str = "train"  # the stage whose finished checkpoint evaluate reads

    def stages(self, run: ResolvedRun, root: Path) -> dict[str, Stage]:
        """The run's training stages after `train`, by name (default: none)."""
        return {}

    @abstractmethod
    def build_networks(self, run: ResolvedRun) -> tuple[nn.Module, ...]:
        """The run's networks, drawn from the global torch RNG."""

    @abstractmethod
    def trainer(self, run: ResolvedRun, data: dict[str, np.ndarray], device: torch.device,
                ranks: Ranks) -> Trainer:
        """The run's trainer on this rank (`ranks`: bench/training/distributed.py; rank 0 of 1 alone)."""

    @abstractmethod
    def evaluated_module(self, run: ResolvedRun, saved: dict[str, Any]) -> nn.Module:
        """The network evaluation reports, from a finished checkpoint, in eval mode."""

    @abstractmethod
    def evaluation_samples(self, run: ResolvedRun, module: nn.Module, n: int, device: torch.device,
                           data: dict[str, np.ndarray]) -> tuple[torch.Tensor, dict[str, Any]]:
        """The N samples every backbone scores, and how they were drawn (for the metric spec); `data`: the run's
        prepared dataset (a translation G's inputs)."""

    @abstractmethod
    def metric_groups(self, run: ResolvedRun, module: nn.Module) -> tuple[str, ...]:
        """Metric groups that apply beyond the per-backbone metrics (bench/measurement/evaluate.py GROUPS)."""


KINDS = {  # task kind -> (module, attribute)
    "unconditional": ("bench.training.tasks.generation", "UNCONDITIONAL"),
    "class-conditional": ("bench.training.tasks.generation", "CLASS_CONDITIONAL"),
    "translation": ("bench.training.tasks.translation", "TRANSLATION"),
    "tokenizer": ("bench.training.tasks.tokenizer", "TOKENIZER"),
}
LATER_STAGES = {"tokenizer": ("prior",)}  # the kinds' stages after `train`, by name (pipelines generate them)


def task_module(name: str) -> str:
    if name not in KINDS:
        raise KeyError(f"unknown task kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[name][0]


def task_of(name: str) -> TaskKind:
    module, attribute = task_module(name), KINDS[name][1]
    return getattr(importlib.import_module(module), attribute)


def train_stage(run: ResolvedRun) -> Stage:
    """The `train` stage every run has: the task kind's trainer under the run's train settings and config."""
    return Stage(TRAIN, run.config, run.train, lambda data, device, ranks: task_of(run.task).trainer(
        run, data, device, ranks))


def run_stage(run: ResolvedRun, root: Path, name: str) -> Stage:
    """The run's stage called `name`: `train`, or one of its task kind's later stages."""
    if name == TRAIN:
        return train_stage(run)
    stages = task_of(run.task).stages(run, root)
    if name not in stages:
        raise ValueError(f"{run.run} ({run.task}) has no stage {name!r}; its stages: {', '.join([TRAIN, *stages])}")
    return stages[name]
