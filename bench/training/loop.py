"""The train stage: a budgeted, seeded, resumable training run, the same loop for every task kind.

Budget is counted in images shown to D (kimg) over every D step. Every random stream comes from the
run seed (weights, data order, latents). A checkpoint with the task kind's networks, optimisers and RNG
states and the progress so far is written atomically every `checkpoint_every_kimg`; starting the stage
again continues from it (unless it is finished: then DVC re-runs the stage because its code or inputs
changed, and it trains anew), and the finished run is bit-identical to an uninterrupted one. Wall-clock
figures live outside the checkpoint (progress.json, cost.json), so same seed => same checkpoint bytes.
What one step does is the task kind's (bench/training/tasks).
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
from bench.protocol.io import read_json, write_json
from bench.protocol.params import images_of
from bench.protocol.resolve import Protocol, ResolvedRun, resolve
from bench.protocol.runs import RunId
from bench.protocol.seeding import make_deterministic, resolve_device
from bench.training.checkpoint import CHECKPOINT, CorruptCheckpoint, load_checkpoint, save_checkpoint
from bench.training.tasks import Trainer, task_module, task_of


def _resumable(ckpt_path: Path, run: ResolvedRun) -> dict[str, Any] | None:
    """The checkpoint to continue from, or None: a finished run is never resumed (DVC only re-runs
    a finished stage when its code or inputs changed), nor one of another configuration, nor a corrupt one
    (it is reported and training starts afresh)."""
    if not ckpt_path.exists():
        return None
    try:
        saved = load_checkpoint(ckpt_path)
    except CorruptCheckpoint as exc:
        print(f"warning: {exc}; starting {run.run} afresh", file=sys.stderr)
        return None
    if saved.get("finished"):
        print(f"{ckpt_path} is a finished run; training {run.run} again from scratch", file=sys.stderr)
        return None
    if saved.get("config_hash") != run.config_hash:
        print(f"{ckpt_path} belongs to another configuration; starting {run.run} afresh", file=sys.stderr)
        return None
    return saved


def inputs_hash(run: ResolvedRun, root: Path) -> str:
    """A hash of everything a finished run's outputs follow from: its config, its dataset's checksum and the
    code the train stage executes (the same import closure its DVC stage depends on)."""
    files = closure([module_file("bench.training.loop"), module_file(task_module(run.task)),
                     *(Path(f) for f in run.variant.code_files())])
    digest = hashlib.sha256(run.config_hash.encode())
    digest.update(read_json(root / "results" / "data" / run.run.dataset / "meta.json")["sha256"].encode())
    for path in files:
        digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _already_trained(out: Path, run: ResolvedRun, inputs: str) -> bool:
    """A finished, intact run of these inputs is in `out` (DVC re-runs such a stage when it could not record it,
    e.g. after `dvc` itself was killed): it is kept, not trained again."""
    needed = [out / name for name in (CHECKPOINT, "progress.json", "curve.json", "cost.json", "curve_samples.npz")]
    if not all(p.is_file() for p in needed) or read_json(out / "progress.json").get("inputs") != inputs:
        return False
    try:
        saved = load_checkpoint(out / CHECKPOINT)
    except CorruptCheckpoint:
        return False
    return bool(saved.get("finished")) and saved.get("config_hash") == run.config_hash


def train(run_id: RunId, root: Path, device_name: str | None = None, protocol: Protocol | None = None,
          restart: bool = False) -> Path:
    """Train one run into results/<run>/train/, resuming from its checkpoint when one matches (`restart`:
    never)."""
    make_deterministic()
    run = resolve(run_id, root, protocol)
    device = resolve_device(device_name or run.device)
    out = run_id.folder(root) / "train"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", run.config)

    inputs = inputs_hash(run, root)
    if not restart and _already_trained(out, run, inputs):
        print(f"{run_id} is already trained from these inputs (config, data, code): kept; to train it again, "
              f"`gbench train {run_id} --restart`", file=sys.stderr)
        return out
    settings = run.train
    trainer = task_of(run.task).trainer(run, load_prepared(run_id.dataset, root), device)
    progress: dict[str, Any] = {"step": 0, "images": 0, "curve": [],
                                "next_curve": images_of(settings["curve_every_kimg"]),
                                "next_ckpt": images_of(settings["checkpoint_every_kimg"])}
    ckpt_path, progress_path = out / CHECKPOINT, out / "progress.json"
    wall_before = 0.0
    saved = None if restart else _resumable(ckpt_path, run)
    if saved is not None:
        trainer.load_state_dict(saved)
        progress = json.loads(saved["state"])
        trainer.snapshots.restore(out, len(progress["curve"]))
        if progress_path.exists():
            wall_before = read_json(progress_path).get("wall_s", 0.0)
        print(f"resuming {run_id} at {progress['images'] / 1000:.2f} kimg", file=sys.stderr)
    budget = int(round(settings["kimg"] * 1000))
    started = time.perf_counter()

    def checkpoint() -> None:
        trainer.snapshots.save(out)
        save_checkpoint(ckpt_path, {"config_hash": run.config_hash, **trainer.state_dict(),
                                    # As JSON text: pickling the live dict would memoise shared strings
                                    # differently after a resume, and the same content must give the same bytes.
                                    "state": json.dumps(progress, sort_keys=True),
                                    "finished": progress["images"] >= budget or "diverged" in progress})
        write_json(progress_path, {"wall_s": wall_before + time.perf_counter() - started,
                                   "kimg": progress["images"] / 1000, "inputs": inputs})

    trainer.begin(progress, budget)
    if not progress["curve"]:
        progress["curve"].append({"kimg": 0.0, "step": 0})
        trainer.snapshots.record(trainer.curve_module(), device, 0.0)
    flops = trainer.step_flops()
    _run_steps(trainer, progress, budget, settings, str(run_id), device, checkpoint)
    if not ckpt_path.exists() or progress["step"] == 0:
        checkpoint()

    write_json(out / "curve.json", {"run": str(run_id), "points": progress["curve"],
                                    "samples": {"file": "curve_samples.npz", "n": settings["curve_n"],
                                                "latents": "fixed (seed stream 'curve-latents')"}})
    write_json(out / "cost.json", _cost_record(run, progress, read_json(progress_path)["wall_s"], device, flops))
    return out


def _run_steps(trainer: Trainer, progress: dict[str, Any], budget: int, settings, desc: str,
               device: torch.device, checkpoint) -> None:
    """Step until the budget is spent, recording curve points and writing checkpoints on schedule."""
    bar = tqdm(total=budget, initial=progress["images"], unit="kimg", unit_scale=1e-3, desc=desc,
               bar_format="{desc} {n:.2f}/{total:.2f} kimg |{bar}| {elapsed}<{remaining} {postfix}",
               mininterval=2.0, file=sys.stderr)
    while progress["images"] < budget:
        before = progress["images"]
        losses = trainer.step(progress, budget)
        bar.update(min(progress["images"] - before, budget - bar.n))  # tqdm drops its total when n > total
        bar.set_postfix(losses, refresh=False)
        done = progress["images"] >= budget
        curve_point = progress["images"] >= progress["next_curve"] or done
        problem = _divergence(losses, trainer.non_finite() if curve_point or done else [])
        if problem:
            progress["diverged"] = {"kimg": progress["images"] / 1000, "step": progress["step"], "reason": problem}
            progress["curve"].append({"kimg": progress["images"] / 1000, "step": progress["step"], "diverged": problem})
            print(f"{desc} diverged at {progress['images'] / 1000:.3f} kimg ({problem}); recorded as a result",
                  file=sys.stderr)
            checkpoint()
            break
        if curve_point:
            progress["curve"].append({"kimg": progress["images"] / 1000, "step": progress["step"], **losses})
            trainer.snapshots.record(trainer.curve_module(), device, progress["images"] / 1000)
            while progress["next_curve"] <= progress["images"]:
                progress["next_curve"] += images_of(settings["curve_every_kimg"])
        if progress["images"] >= progress["next_ckpt"] or done:
            checkpoint()
            while progress["next_ckpt"] <= progress["images"]:
                progress["next_ckpt"] += images_of(settings["checkpoint_every_kimg"])
    bar.close()


def _divergence(losses: dict[str, float], non_finite_networks: list[str]) -> str | None:
    """Why the run has diverged (a loss that is not finite, or networks with non-finite weights), or None."""
    bad = [f"{name} = {value}" for name, value in losses.items() if not math.isfinite(value)]
    bad += [f"non-finite weights in {name}" for name in non_finite_networks]
    return ", ".join(bad) or None


def _cost_record(run: ResolvedRun, progress: dict[str, Any], wall: float, device: torch.device,
                 flops: dict[str, int]) -> dict[str, Any]:
    """Measured cost of a run: budget, wall clock (over restarts), device, peak memory, FLOPs."""
    on_cuda = device.type == "cuda"
    return {
        "run": str(run.run),
        "config_hash": run.config_hash,
        "kimg": progress["images"] / 1000,
        "steps": progress["step"],
        "wall_s": wall,
        "img_per_s": progress["images"] / wall if wall > 0 else None,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if on_cuda else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if on_cuda else None,
        "flops_per_d_step": flops.get("d_step"),
        "flops_per_g_step": flops.get("g_step"),
        "flops_total": progress["step"] * flops["per_step"],
        "diverged": progress.get("diverged"),
        "torch": torch.__version__,
    }
