"""The train stage: a budgeted, seeded, resumable training run, the same loop for every task kind.

Budget is counted in images shown to D (kimg) over every D step. Every random stream comes from the
run seed (weights, data order, latents). The run works in its resume folder, results/.resume/<run>/,
outside every DVC output (DVC removes a stage's outputs before running it, and a stage with `persist`
outputs cannot be run-cached): a checkpoint with the task kind's networks, optimisers and RNG states and
the progress so far is written there atomically every `checkpoint_every_kimg`, and starting the stage
again continues from it, bit-identical to an uninterrupted run. When the run ends, its files are
published into results/<run>/train/, the stage's output. A finished run of the same inputs (config,
data checksum, code) is published again rather than retrained, which is what DVC needs when it re-runs
a stage it could not record (e.g. `dvc` was killed). A run whose losses or weights stop being finite has
diverged: it stops there, and the kimg and the reason are recorded as its result. Wall-clock figures live
outside the checkpoint (progress.json, cost.json), so same seed => same checkpoint bytes. What one step
does is the task kind's (bench/training/tasks). A kind's later stages (the tokenizer's prior: `TaskKind.stages`)
run through the same loop into results/<run>/<stage>/, each with its own config, settings and resume folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from bench.data.datasets import load_prepared
from bench.protocol.dependencies import closure, module_file
from bench.protocol.io import read_json, remove_partial_writes, write_bytes, write_json
from bench.protocol.params import images_of
from bench.protocol.resolve import Protocol, ResolvedRun, resolve
from bench.protocol.runs import RunId
from bench.protocol.seeding import make_deterministic, resolve_device
from bench.training.budget import Budget, run_budget
from bench.training.checkpoint import CHECKPOINT, CHECKSUM, CorruptCheckpoint, load_checkpoint, save_checkpoint
from bench.training.distributed import SINGLE, Ranks, check_ranks, join, leave, rank_device
from bench.training.live import LiveCurve
from bench.training.tasks import TRAIN, Stage, Trainer, run_stage, task_module, train_stage

PUBLISHED = ("config.json", CHECKPOINT, CHECKSUM, "progress.json", "curve_samples.npz", "curve.json", "cost.json")


def resume_dir(root: Path, run: RunId, stage: str = TRAIN) -> Path:
    """Where a run trains: its checkpoints and progress, kept across stage runs and outside DVC's outputs (a later
    stage's beside the run's: `s0-prior`)."""
    folder = root / "results" / ".resume" / str(run)
    return folder if stage == TRAIN else folder.with_name(f"{folder.name}-{stage}")


def _saved_state(work: Path, run: ResolvedRun) -> dict[str, Any] | None:
    """The run's last checkpoint, or None (none yet, or corrupt: reported, and training starts afresh)."""
    if not (work / CHECKPOINT).exists():
        return None
    try:
        return load_checkpoint(work / CHECKPOINT)
    except CorruptCheckpoint as exc:
        print(f"warning: {exc}; starting {run.run} afresh", file=sys.stderr)
        return None


def _publish(work: Path, out: Path) -> None:
    """Copy the finished run's files, its dvclive view included, into the stage's output (files already
    identical are left alone)."""
    for name in (*PUBLISHED, *LiveCurve(work).files()):
        data = (work / name).read_bytes()
        if not (out / name).is_file() or (out / name).read_bytes() != data:
            write_bytes(out / name, data)


def inputs_hash(run: ResolvedRun, root: Path, stage: Stage | None = None) -> str:
    """A hash of everything a finished stage's outputs follow from: its config (a later stage's names the checkpoint
    it starts from), its dataset's checksum and the code the train stage executes (the same import closure its DVC
    stage depends on)."""
    stage = stage or train_stage(run)
    files = closure([module_file("bench.training.loop"), module_file(task_module(run.task)),
                     *(Path(f) for f in run.variant.code_files())])
    digest = hashlib.sha256(stage.config_hash.encode())
    digest.update(read_json(root / "results" / "data" / run.run.dataset / "meta.json")["sha256"].encode())
    for path in files:
        digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def train(run_id: RunId, root: Path, device_name: str | None = None, protocol: Protocol | None = None,
          restart: bool = False, ranks: Ranks = SINGLE, stage: str = TRAIN) -> Path:
    """Train one run's `stage` into results/<run>/<stage>/, resuming from its checkpoint in the resume folder when
    one matches (`restart`: never). On several `ranks` (bench/training/distributed.py) every rank trains its
    share of each step and rank 0 alone writes."""
    make_deterministic()
    run = resolve(run_id, root, protocol)
    check_ranks(run, ranks.world)
    device = rank_device(resolve_device(device_name or run.device))
    joined = join(ranks, device)
    try:
        return _train(run, run_stage(run, root, stage), root, device, restart, ranks)
    finally:
        if joined:
            leave()


def _train(run: ResolvedRun, stage: Stage, root: Path, device: torch.device, restart: bool, ranks: Ranks) -> Path:
    run_id, config_hash = run.run, stage.config_hash
    out, work = run_id.folder(root) / stage.name, resume_dir(root, run_id, stage.name)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    if ranks.writes:
        remove_partial_writes(work)
    inputs = inputs_hash(run, root, stage)
    saved = None if restart else _saved_state(work, run)
    ckpt_path, progress_path = work / CHECKPOINT, work / "progress.json"
    if saved is not None and saved.get("finished"):
        complete = all((work / name).is_file() for name in PUBLISHED)
        if complete and saved.get("config_hash") == config_hash \
                and read_json(progress_path).get("inputs") == inputs:
            if ranks.writes:
                _publish(work, out)
            print(f"{run_id} ({stage.name}) is already trained from these inputs (config, data, code): kept; to train "
                  f"it again, `gbench {stage.name} {run_id} --restart`", file=sys.stderr)
            return out
        print(f"{ckpt_path} is a finished run; training {run_id} again from scratch", file=sys.stderr)
        saved = None
    if saved is not None and saved.get("config_hash") != config_hash:
        print(f"{ckpt_path} belongs to another configuration; starting {run_id} afresh", file=sys.stderr)
        saved = None
    if ranks.writes:
        write_json(work / "config.json", stage.config)

    settings = stage.settings
    trainer = stage.trainer(load_prepared(run_id.dataset, root), device, ranks)
    progress: dict[str, Any] = {"step": 0, "images": 0, "curve": [],
                                "next_curve": images_of(settings["curve_every_kimg"]),
                                "next_ckpt": images_of(settings["checkpoint_every_kimg"])}
    wall_before, clock = 0.0, {"train_s": 0.0}  # stage seconds; seconds inside training steps (both over restarts)
    if saved is not None:
        trainer.load_state_dict(saved)
        progress = json.loads(saved["state"])
        trainer.snapshots.restore(work, len(progress["curve"]))
        if progress_path.exists():
            before = read_json(progress_path)
            wall_before, clock["train_s"] = before.get("wall_s", 0.0), before.get("train_s", 0.0)
        print(f"resuming {run_id} at {progress['images'] / 1000:.2f} kimg", file=sys.stderr)
    budget = run_budget(settings, trainer, progress)
    started = time.perf_counter()

    def wall() -> float:
        return wall_before + time.perf_counter() - started

    def checkpoint(finished: bool) -> None:
        if not ranks.writes:
            return
        trainer.snapshots.save(work)
        save_checkpoint(ckpt_path, {"config_hash": config_hash, **trainer.state_dict(),
                                    # As JSON text: pickling the live dict would memoise shared strings
                                    # differently after a resume, and the same content must give the same bytes.
                                    "state": json.dumps(progress, sort_keys=True),
                                    "finished": finished or "diverged" in progress})
        write_json(progress_path, {"wall_s": wall(), "train_s": clock["train_s"], "kimg": progress["images"] / 1000,
                                   "inputs": inputs})

    trainer.begin(progress, budget.horizon)
    if not progress["curve"]:
        progress["curve"].append({"kimg": 0.0, "step": 0, "gflop": 0.0})
        trainer.snapshots.record(trainer.curve_module(), device, 0.0)
    live = LiveCurve(work) if ranks.writes else None
    if live is not None:
        live.write(progress["curve"])
    _run_steps(trainer, progress, budget, clock, settings, str(run_id), device, checkpoint, ranks, live)
    if not ranks.writes:
        return out
    if not ckpt_path.exists() or progress["step"] == 0:
        checkpoint(True)

    write_json(work / "curve.json", {"run": str(run_id), "points": progress["curve"],
                                     "samples": {"file": "curve_samples.npz", "n": settings["curve_n"],
                                                 "latents": "fixed (seed stream 'curve-latents')"}})
    write_json(work / "cost.json", _cost_record(run, config_hash, progress, read_json(progress_path), device, trainer,
                                                budget, ranks.world))
    _publish(work, out)
    return out


def _run_steps(trainer: Trainer, progress: dict[str, Any], budget: Budget, clock: dict[str, float], settings,
               desc: str, device: torch.device, checkpoint, ranks: Ranks, live: LiveCurve | None) -> None:
    """Step until the budget is spent, recording curve points (with the FLOPs spent and the step's signals, see
    `_window_signals`) and writing checkpoints on schedule. FLOPs are counted per step, at the step's own level of
    detail and lazy phases; `clock` sums the seconds spent inside training steps (a wall-clock budget's measure:
    snapshots, checkpoints and the FLOP count are the harness's time, not the method's)."""
    horizon, show = budget.horizon, ranks.writes
    bar = tqdm(total=horizon, initial=min(progress["images"], horizon), unit="kimg", unit_scale=1e-3, desc=desc,
               bar_format="{desc} {n:.2f}/{total:.2f} kimg |{bar}| {elapsed}<{remaining} {postfix}",
               mininterval=2.0, file=sys.stderr, disable=not show)
    progress.setdefault("flops", 0)

    def spent() -> bool:  # on a wall-clock budget the ranks' clocks differ: the first to run out stops them all
        done = budget.done(progress, clock["train_s"])
        return ranks.agree(done, device) if budget.unit == "device_seconds" else done

    done = spent()
    while not done:
        flops = trainer.step_flops(progress, horizon)
        started = time.perf_counter()
        losses = trainer.step(progress, horizon)
        clock["train_s"] += time.perf_counter() - started
        progress["flops"] += flops
        bar.update(min(progress["images"], horizon) - bar.n)  # tqdm drops its total when n passes it
        bar.set_postfix(losses, refresh=False)
        done = spent()
        curve_point = progress["images"] >= progress["next_curve"] or done
        problem = _divergence(losses, trainer.non_finite() if curve_point or done else [])
        if problem:
            progress["diverged"] = {"kimg": progress["images"] / 1000, "step": progress["step"], "reason": problem}
            progress["curve"].append({"kimg": progress["images"] / 1000, "step": progress["step"], "diverged": problem})
            if show:
                print(f"{desc} diverged at {progress['images'] / 1000:.3f} kimg ({problem}); recorded as a result",
                      file=sys.stderr)
            checkpoint(True)
            break
        window = progress.setdefault("window", {})
        for name, value in losses.items():
            total, count, _ = window.get(name, (0.0, 0, None))
            window[name] = [total + value, count + 1, value]
        if curve_point:
            progress["curve"].append({"kimg": progress["images"] / 1000, "step": progress["step"],
                                      "gflop": progress["flops"] / 1e9,
                                      **_window_signals(window, trainer.state_signals)})
            progress["window"] = {}
            if live is not None:
                live.log(progress["curve"][-1])
            trainer.snapshots.record(trainer.curve_module(), device, progress["images"] / 1000)
            while progress["next_curve"] <= progress["images"]:
                progress["next_curve"] += images_of(settings["curve_every_kimg"])
        if progress["images"] >= progress["next_ckpt"] or done:
            checkpoint(done)
            while progress["next_ckpt"] <= progress["images"]:
                progress["next_ckpt"] += images_of(settings["checkpoint_every_kimg"])
    bar.close()


def _window_signals(window: dict[str, list[float]], states: tuple[str, ...]) -> dict[str, float]:
    """A curve point's signals from the steps since the previous point (`window`: name -> [sum, count, last]): the
    mean of each loss, accuracy and gradient norm over those steps (one step's values are too noisy to judge a
    run's health by), and the last value of the trainer's state signals (`states`, e.g. ADA's p)."""
    return {name: last if name in states else total / count for name, (total, count, last) in window.items()}


def _divergence(losses: dict[str, float], non_finite_networks: list[str]) -> str | None:
    """Why the run has diverged (a loss that is not finite, or networks with non-finite weights), or None."""
    bad = [f"{name} = {value}" for name, value in losses.items() if not math.isfinite(value)]
    bad += [f"non-finite weights in {name}" for name in non_finite_networks]
    return ", ".join(bad) or None


def _cost_record(run: ResolvedRun, config_hash: str, progress: dict[str, Any], clocks: dict[str, Any],
                 device: torch.device, trainer: Trainer, budget: Budget, nproc: int) -> dict[str, Any]:
    """Measured cost of a run: budget, wall clock (over restarts), device and ranks, peak memory (of rank 0),
    FLOPs."""
    on_cuda = device.type == "cuda"
    final, wall = trainer.phase_flops(), clocks["wall_s"]
    return {
        "run": str(run.run),
        "config_hash": config_hash,
        "kimg": progress["images"] / 1000,
        "steps": progress["step"],
        "wall_s": wall,
        "train_s": clocks["train_s"],
        "img_per_s": progress["images"] / wall if wall > 0 else None,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if on_cuda else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "nproc": nproc,
        "micro_batches": trainer.micro_batches,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if on_cuda else None,
        "budget": budget.record(progress, clocks["train_s"]),
        "flops_per_phase": final,  # at full resolution
        "flops_per_d_step": final["d"],
        "flops_per_g_step": final["g"],
        "flops_total": progress["flops"],
        "diverged": progress.get("diverged"),
        # pretrained networks the training saw (a D on their features): metrics on them are marked (issue 18)
        "pretrained_networks": trainer.pretrained_networks(),
        "torch": torch.__version__,
    }
