"""The train stage: a budgeted, seeded, resumable GAN training run.

Budget is counted in images shown to D (kimg) over every D step. Every random stream comes from the
run seed (weights, data order, latents). A checkpoint with G, D, EMA-G, both optimisers, the RNG
states and the curve so far is written atomically every `checkpoint_every_kimg`; starting the stage
again continues from it (unless it is finished: then DVC re-runs the stage because its code or inputs
changed, and it trains anew), and the finished run is bit-identical to an uninterrupted one. Wall-clock
figures live outside the checkpoint (cost.json), so same seed => same checkpoint bytes.
"""

from __future__ import annotations

import copy
import io
import json
import math
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from bench import registry
from bench.config import RunId, family_width, load_params, run_settings
from bench.datasets import load_prepared, spec
from bench.io import read_json, stable_hash, write_bytes, write_json
from bench.objective import Batch, Objective, build_discriminator, conditioned
from bench.seeding import generator, make_deterministic, resolve_device, stream_seed
from bench.snapshots import CurveSnapshots
from models.growing import Growing, blend_reals, lod_at, set_lod

CHECKPOINT = "checkpoint.pt"


def resolve_run_config(run: RunId, root: Path) -> dict[str, Any]:
    """Everything that determines a training run; its hash names the run's configuration."""
    params = load_params(root)
    variant = resolve_variant(run, root)
    ds = spec(run.dataset)
    if ds.kind not in variant.data_kinds:
        raise registry.RegistryError(
            f"variant {variant.name!r} handles {list(variant.data_kinds)} data, but {run.dataset!r} is "
            f"{ds.kind!r}; remove it from that dataset in the study file")
    if variant.conditional and not ds.n_labels:
        raise registry.RegistryError(
            f"variant {variant.name!r} is class-conditional, but {run.dataset!r} has no class labels; "
            "run it on a labeled dataset (e.g. fmnist32)")
    train = family_width(run_settings(params, run, "train"), variant.family)
    config = {
        "run": str(run),
        "dataset": run.dataset,
        "data_shape": list(ds.shape),
        "data_kind": ds.kind,
        "seed": run.seed,
        "profile": params["profile"],
        "train": train,
        "variant": variant.describe(),
        "n_classes": ds.n_labels if variant.conditional else 0,
    }
    config["config_hash"] = stable_hash(config)
    return config


def resolve_variant(run: RunId, root: Path) -> registry.Variant:
    """The run's variant: a registry name (`dcgan+hinge+sn`), or a sweep sample (`...~h03`) whose recipe
    values are written in its study file."""
    name, _, sample = run.variant.partition("~")
    variant = registry.get(name)
    if not sample:
        return variant
    from bench.sweep import sample_recipe

    return variant_with_recipe(variant, run.variant, sample_recipe(root, run.study, name, sample))


def variant_with_recipe(variant: registry.Variant, name: str, changes: dict[str, Any]) -> registry.Variant:
    recipe = {**asdict(variant.recipe), **changes}
    try:
        return replace(variant, name=name, recipe=registry.Recipe(**recipe))
    except ValueError as exc:
        raise registry.RegistryError(f"variant {name!r}: {exc}") from None


def recipe_of(config: dict[str, Any]) -> registry.Recipe:
    return registry.Recipe(**config["variant"]["recipe"])


def build_models(config: dict[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    """G and D as the run's config describes them (architecture of the registry, recipe of the config)."""
    variant = registry.get(config["variant"]["name"].partition("~")[0])
    shape = tuple(config["data_shape"])
    width, arch = config["train"]["width"], dict(config["variant"]["arch"])
    if config["n_classes"]:
        arch["n_classes"] = config["n_classes"]
    g = variant.generator(shape, config["variant"]["z_dim"], width=width, **arch)
    d = variant.discriminator(shape, width=width, **arch)
    return g, build_discriminator(d, recipe_of(config))


def _as_training_tensor(data: dict, kind: str) -> torch.Tensor:
    x = torch.from_numpy(data["train_x"])
    return x.float() / 127.5 - 1.0 if kind == "images" else x.float()


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks reject the double backward of
    gradient penalties; totals are all we report."""

    parents = ("Global",)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        fn()
    return counter.get_total_flops()


def _count_flops(g: torch.nn.Module, d: torch.nn.Module, recipe: registry.Recipe, real: torch.Tensor,
                 z: torch.Tensor, y: torch.Tensor | None, budget: int) -> tuple[int, int]:
    """FLOPs of one D step and one G step (forward + backward, penalties and unrolling included),
    measured on throwaway copies with a throwaway random stream; a lazy regularizer counts 1/N of its
    cost per step."""
    g, d = copy.deepcopy(g), copy.deepcopy(d)
    objective = Objective(recipe, g, d, budget, torch.Generator().manual_seed(0))
    opt_d = torch.optim.Adam(d.parameters(), lr=recipe.lr_d, betas=recipe.betas)

    def d_step() -> None:
        with torch.no_grad():
            fake = conditioned(g, y)(z)
        objective.d_loss(d, real, fake, 0, y, y)[0].backward()

    def g_step() -> None:
        objective.g_loss(g, d, opt_d, z, lambda: (real, y), lambda: (z, y), 0, y).backward()

    def amortised(step, counter: str, every: int) -> int:
        setattr(objective, counter, 0)  # step 0 regularizes
        with_reg = _flops(step)
        if every == 1:
            return with_reg
        setattr(objective, counter, 1)
        plain = _flops(step)
        return plain + round((with_reg - plain) / every)

    return amortised(d_step, "d_steps", recipe.reg_every), amortised(g_step, "g_steps", recipe.pl_every)


class EmaDecay:
    """The decay of G's EMA at the current step, as `AveragedModel`'s averaging function: a fixed beta, or
    StyleGAN's half-life of `ema_kimg` thousand images (beta = 0.5^(batch / half-life)). With `ema_rampup`
    the half-life is at most that fraction of the images shown so far (StyleGAN2-ADA), so a short
    benchmark budget does not average over mostly untrained weights."""

    def __init__(self, recipe: registry.Recipe) -> None:
        self.recipe = recipe
        self.value = recipe.ema_beta if recipe.ema_beta is not None else 0.0

    @property
    def enabled(self) -> bool:
        return self.recipe.ema_beta is not None or self.recipe.ema_kimg > 0

    def at(self, images: int) -> float:
        r = self.recipe
        if not r.ema_kimg and not r.ema_rampup:
            return self.value
        half_life = r.ema_kimg * 1000 if r.ema_kimg else r.batch * math.log(0.5) / math.log(r.ema_beta)
        if r.ema_rampup:
            half_life = min(half_life, images * r.ema_rampup)
        self.value = 0.5 ** (r.batch / max(half_life, 1e-8))
        return self.value

    @torch.no_grad()
    def __call__(self, averaged: list[torch.Tensor], current: list[torch.Tensor], _n: torch.Tensor) -> None:
        for avg, now in zip(averaged, current, strict=True):
            if avg.is_floating_point():
                avg.lerp_(now, 1.0 - self.value)
            else:
                avg.copy_(now)


def lazy_adam(lr: float, betas: tuple[float, float], every: int) -> tuple[float, tuple[float, float]]:
    """StyleGAN2's Adam settings under lazy regularization every N steps (N > 1): with c = N / (N + 1),
    lr x c and both betas ^ c, so the regularization steps folded into the schedule keep the effective
    averaging."""
    if every <= 1:
        return lr, betas
    c = every / (every + 1)
    return lr * c, (betas[0] ** c, betas[1] ** c)


@torch.no_grad()
def update_ema(ema: AveragedModel, g: torch.nn.Module, averaging: bool) -> None:
    """One EMA step after a G step; before the recipe's `ema_start` the EMA copies G (BigGAN's warm-up:
    an average over the first, random-looking weights would lag far behind G)."""
    if averaging:
        ema.update_parameters(g)
        return
    for target, source in zip(ema.module.state_dict().values(), g.state_dict().values(), strict=True):
        target.copy_(source)


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


@dataclass
class _TrainingState:
    """Everything a checkpoint restores: networks, optimisers, EMA, RNG streams and progress."""

    g: torch.nn.Module
    d: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    ema: AveragedModel | None
    ema_decay: EmaDecay
    data_rng: torch.Generator
    latent_rng: torch.Generator
    objective: Objective
    progress: dict[str, Any]

    def snapshot(self, config_hash: str, finished: bool) -> dict[str, Any]:
        return {
            "config_hash": config_hash,
            "G": self.g.state_dict(), "D": self.d.state_dict(),
            "ema_G": self.ema.state_dict() if self.ema is not None else None,
            "opt_G": self.opt_g.state_dict(), "opt_D": self.opt_d.state_dict(),
            "rng": {"data": self.data_rng.get_state(), "latents": self.latent_rng.get_state(),
                    "torch": torch.get_rng_state()},
            "objective": self.objective.state_dict(),
            # As JSON text: pickling the live dict would memoise shared strings differently after a
            # resume, and the same content must give the same bytes.
            "state": json.dumps(self.progress, sort_keys=True),
            "finished": finished,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        self.g.load_state_dict(saved["G"])
        self.d.load_state_dict(saved["D"])
        self.opt_g.load_state_dict(saved["opt_G"])
        self.opt_d.load_state_dict(saved["opt_D"])
        if self.ema is not None:
            self.ema.load_state_dict(saved["ema_G"])
        self.data_rng.set_state(saved["rng"]["data"])
        self.latent_rng.set_state(saved["rng"]["latents"])
        torch.set_rng_state(saved["rng"]["torch"])
        self.objective.load_state_dict(saved["objective"])
        self.progress = json.loads(saved["state"])


def _fresh_state(run: RunId, config: dict[str, Any], device: torch.device) -> _TrainingState:
    recipe = recipe_of(config)
    torch.manual_seed(stream_seed(run.seed, "weights"))
    g, d = build_models(config)
    g, d = g.to(device), d.to(device)
    decay = EmaDecay(recipe)
    ema = AveragedModel(g, multi_avg_fn=decay, use_buffers=True) if decay.enabled else None
    settings = config["train"]
    lr_g, betas_g = lazy_adam(recipe.lr_g, recipe.betas, recipe.pl_every)
    lr_d, betas_d = lazy_adam(recipe.lr_d, recipe.betas, recipe.reg_every)
    return _TrainingState(
        g=g, d=d, ema=ema, ema_decay=decay,
        opt_g=torch.optim.Adam(g.parameters(), lr=lr_g, betas=betas_g),
        opt_d=torch.optim.Adam(d.parameters(), lr=lr_d, betas=betas_d),
        data_rng=generator(run.seed, "data"), latent_rng=generator(run.seed, "latents"),
        objective=Objective(recipe, g, d, _images(settings["kimg"]), generator(run.seed, "regularizers")),
        progress={"step": 0, "images": 0, "curve": [],
                  "next_curve": _images(settings["curve_every_kimg"]),
                  "next_ckpt": _images(settings["checkpoint_every_kimg"])},
    )


def grow(ts: _TrainingState, images: int, budget: int) -> None:
    """Set the networks' level of detail for the next step; when a resolution starts or stops fading in,
    reset both Adam states, as ProGAN and StyleGAN2 do at every lod boundary. The lod of the last step
    is part of the progress, so a resumed run resets exactly where an uninterrupted one does."""
    lod = lod_at(images, budget, ts.g.max_lod)
    set_lod([ts.g, ts.d] + ([ts.ema.module] if ts.ema is not None else []), lod)
    before = ts.progress.get("lod")
    if before is not None and (math.floor(lod), math.ceil(lod)) != (math.floor(before), math.ceil(before)):
        for opt in (ts.opt_g, ts.opt_d):
            opt.state.clear()
    ts.progress["lod"] = lod


def _images(kimg: float) -> int:
    return max(1, int(round(kimg * 1000)))


def _resumable(ckpt_path: Path, config: dict[str, Any], run: RunId) -> dict[str, Any] | None:
    """The checkpoint to continue from, or None: a finished run is never resumed (DVC only re-runs
    a finished stage when its code or inputs changed), nor one of another configuration."""
    if not ckpt_path.exists():
        return None
    saved = load_checkpoint(ckpt_path)
    if saved.get("finished"):
        print(f"{ckpt_path} is a finished run; training {run} again from scratch", file=sys.stderr)
        return None
    if saved.get("config_hash") != config["config_hash"]:
        print(f"{ckpt_path} belongs to another configuration; starting {run} afresh", file=sys.stderr)
        return None
    return saved


def train(run: RunId, root: Path, device_name: str | None = None) -> Path:
    """Train one run into results/<run>/train/ (resuming from its checkpoint when one matches)."""
    make_deterministic()
    config = resolve_run_config(run, root)
    device = resolve_device(device_name or load_params(root).get("device", "auto"))
    out = run.folder(root) / "train"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config)

    recipe, settings, z_dim = recipe_of(config), config["train"], config["variant"]["z_dim"]
    data = load_prepared(run.dataset, root)
    x = _as_training_tensor(data, config["data_kind"])
    n_classes = config["n_classes"]
    labels = torch.from_numpy(data["train_y"]).long() if n_classes else None
    snapshots = CurveSnapshots(config["data_kind"], settings["curve_n"], z_dim, n_classes)

    ts = _fresh_state(run, config, device)
    ckpt_path, progress_path = out / CHECKPOINT, out / "progress.json"
    wall_before = 0.0
    saved = _resumable(ckpt_path, config, run)
    if saved is not None:
        ts.restore(saved)
        snapshots.restore(out, len(ts.progress["curve"]))
        if progress_path.exists():
            wall_before = read_json(progress_path).get("wall_s", 0.0)
        print(f"resuming {run} at {ts.progress['images'] / 1000:.2f} kimg", file=sys.stderr)
    state, g, d = ts.progress, ts.g, ts.d
    eval_g = ts.ema.module if ts.ema is not None else g
    batch, budget = recipe.batch, int(round(settings["kimg"] * 1000))
    started = time.perf_counter()

    def checkpoint() -> None:
        snapshots.save(out)
        _save_checkpoint(ckpt_path, ts.snapshot(config["config_hash"], finished=state["images"] >= budget))
        write_json(progress_path, {"wall_s": wall_before + time.perf_counter() - started,
                                   "kimg": state["images"] / 1000})

    growing = isinstance(g, Growing)
    if growing:
        grow(ts, state["images"], budget)
    if not state["curve"]:
        state["curve"].append({"kimg": 0.0, "step": 0})
        snapshots.record(eval_g, device, 0.0)
    flops_d, flops_g = _count_flops(g, d, recipe, x[:batch].to(device), torch.zeros(batch, z_dim, device=device),
                                    labels[:batch].to(device) if n_classes else None, budget)
    objective = ts.objective

    def next_real() -> Batch:
        index = torch.randint(x.shape[0], (batch,), generator=ts.data_rng)
        real = x[index].to(device)
        if growing:
            real = blend_reals(real, g.lod, g.levels)
        return real, labels[index].to(device) if n_classes else None

    def next_z() -> Batch:
        z = torch.randn(batch, z_dim, generator=ts.latent_rng).to(device)
        y = torch.randint(n_classes, (batch,), generator=ts.latent_rng).to(device) if n_classes else None
        return z, y

    bar = tqdm(total=budget, initial=state["images"], unit="kimg", unit_scale=1e-3, desc=str(run),
               bar_format="{desc} {n:.2f}/{total:.2f} kimg |{bar}| {elapsed}<{remaining} {postfix}",
               mininterval=2.0, file=sys.stderr)
    while state["images"] < budget:
        if growing:
            grow(ts, state["images"], budget)
        d.requires_grad_(True)
        for _ in range(recipe.n_critic):
            (real, y_real), (z, y_fake) = next_real(), next_z()
            with torch.no_grad():
                fake = conditioned(g, y_fake)(z)
            loss_d, logs = objective.d_loss(d, real, fake, state["images"], y_real, y_fake)
            ts.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            ts.opt_d.step()
            objective.after_d_step(d)
            state["images"] += batch
        d.requires_grad_(False)
        z, y_fake = next_z()
        loss_g = objective.g_loss(g, d, ts.opt_d, z, next_real, next_z, state["images"], y_fake)
        ts.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        ts.opt_g.step()
        objective.after_g_step(g)
        state["step"] += 1
        if ts.ema is not None:
            ts.ema_decay.at(state["images"])
            update_ema(ts.ema, g, averaging=state["step"] > recipe.ema_start)
        losses = {**logs, "loss_g": loss_g.item()}
        bar.update(min(batch * recipe.n_critic, budget - bar.n))  # tqdm drops its total when n > total
        bar.set_postfix(losses, refresh=False)
        done = state["images"] >= budget
        if state["images"] >= state["next_curve"] or done:
            state["curve"].append({"kimg": state["images"] / 1000, "step": state["step"], **losses})
            snapshots.record(eval_g, device, state["images"] / 1000)
            while state["next_curve"] <= state["images"]:
                state["next_curve"] += _images(settings["curve_every_kimg"])
        if state["images"] >= state["next_ckpt"] or done:
            checkpoint()
            while state["next_ckpt"] <= state["images"]:
                state["next_ckpt"] += _images(settings["checkpoint_every_kimg"])
    bar.close()
    if not ckpt_path.exists() or state["step"] == 0:
        checkpoint()

    write_json(out / "curve.json", {"run": str(run), "points": state["curve"],
                                    "samples": {"file": "curve_samples.npz", "n": settings["curve_n"],
                                                "latents": "fixed (seed stream 'curve-latents')"}})
    flops_per_step = recipe.n_critic * flops_d + flops_g
    write_json(out / "cost.json", _cost_record(run, config, state, read_json(progress_path)["wall_s"],
                                               device, flops_d, flops_g, flops_per_step))
    return out


def _cost_record(run: RunId, config: dict[str, Any], state: dict[str, Any], wall: float,
                 device: torch.device, flops_d: int, flops_g: int, flops_per_step: int) -> dict[str, Any]:
    """Measured cost of a run: budget, wall clock (over restarts), device, peak memory, FLOPs."""
    on_cuda = device.type == "cuda"
    return {
        "run": str(run),
        "config_hash": config["config_hash"],
        "kimg": state["images"] / 1000,
        "steps": state["step"],
        "wall_s": wall,
        "img_per_s": state["images"] / wall if wall > 0 else None,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if on_cuda else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if on_cuda else None,
        "flops_per_d_step": flops_d,
        "flops_per_g_step": flops_g,
        "flops_total": state["step"] * flops_per_step,
        "torch": torch.__version__,
    }


def load_generator(train_dir: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The generator a finished run reports: EMA-G where the recipe keeps one, else G (eval mode)."""
    config = read_json(train_dir / "config.json")
    saved = load_checkpoint(train_dir / CHECKPOINT)
    if saved.get("config_hash") != config["config_hash"] or not saved.get("finished"):
        raise RuntimeError(f"{train_dir} holds no finished checkpoint for its config; re-run the train "
                           "stage (`dvc repro`)")
    g, _ = build_models(config)
    if saved["ema_G"] is not None:
        ema = AveragedModel(g, use_buffers=True)
        ema.load_state_dict(saved["ema_G"])
        g = ema.module
    else:
        g.load_state_dict(saved["G"])
    return g.eval(), config

