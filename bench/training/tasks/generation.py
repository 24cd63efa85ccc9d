"""Task kinds `unconditional` and `class-conditional`: a generator of images or 2-D points against a
discriminator, G(z) / D(x), or G(z, y) / D(x, y) trained on the dataset's labels.

One step is `n_critic` D steps on fresh real batches and fakes, then one G step (bench/training/objective.py
says what each minimises). Each optimizer step is a `Phase` over the global batch's micro-batches, shared
among the run's ranks (bench/training/distributed.py: one micro-batch = the plain step). Lazy
regularization follows NVlabs' StyleGAN2 loop: every `reg_every`-th D step
is followed by an R1/R2 step of its own, every `pl_every`-th G step by a path length step, on Adam
settings adjusted for the extra steps (regularizers.lazy_adam). A growing G (models/growing.py `Growing`:
`lod`, `lod_after(images, budget)`, `real_images(x)`) gets its level of detail, and D and EMA-G the same,
before each step; both Adam states are reset at every lod boundary, as ProGAN and StyleGAN do. The
trainer reads that interface by name, so runs of other families do not depend on models/growing.py.
Evaluation samples EMA-G where the recipe keeps one: N latents from the run's `eval-latents` stream and,
for the conditional kind, every class in turn.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel

from bench.protocol.params import images_of
from bench.protocol.seeding import generator, stream_seed
from bench.training.distributed import SINGLE, Phase, Ranks, SharedDraws, micro_batches
from bench.training.ema import EmaDecay, update_ema
from bench.training.flops import count_flops
from bench.training.objective import Batch, Objective, build_discriminator, conditioned, d_reg_due_at, g_reg_due_at
from bench.training.regularizers import lazy_adam
from bench.training.snapshots import CurveSnapshots, generate
from bench.training.tasks import TaskKind, Trainer

if TYPE_CHECKING:
    from bench.protocol.resolve import ResolvedRun


def requested_labels(n: int, n_classes: int) -> torch.Tensor | None:
    """The classes a conditional G is asked for: 0, 1, ..., C-1, 0, ... (equal per class, as the eval
    split); None for an unconditional G."""
    return torch.arange(n) % n_classes if n_classes else None


def translatable(g: nn.Module) -> bool:
    """A generator whose input features can be translated (`synthesis(ws, translate=...)`): EQ-T applies."""
    return hasattr(g, "styles") and "translate" in inspect.signature(g.synthesis).parameters


def _as_training_tensor(data: dict[str, np.ndarray], kind: str) -> torch.Tensor:
    x = torch.from_numpy(data["train_x"])
    return x.float() / 127.5 - 1.0 if kind == "images" else x.float()


class GanTrainer(Trainer):
    state_signals = ("ada_p", "ada_rt", "pl_mean")

    def __init__(self, run: ResolvedRun, data: dict[str, np.ndarray], device: torch.device,
                 ranks: Ranks = SINGLE) -> None:
        recipe, seed = run.variant.recipe, run.run.seed
        self.recipe, self.device, self.batch, self.z_dim = recipe, device, recipe.batch, run.variant.z_dim
        self.n_classes = run.n_classes
        self.x = _as_training_tensor(data, run.dataset.kind)
        self.labels = torch.from_numpy(data["train_y"]).long() if self.n_classes else None
        self.snapshots = CurveSnapshots(run.dataset.kind, run.train["curve_n"], self.z_dim, self.n_classes)
        torch.manual_seed(stream_seed(seed, "weights"))
        g, d = run.build_models()
        self.g, self.d = g.to(device), d.to(device)
        self.ema_decay = EmaDecay(recipe)
        self.ema = (AveragedModel(self.g, multi_avg_fn=self.ema_decay, use_buffers=True)
                    if self.ema_decay.enabled else None)
        lr_g, betas_g = lazy_adam(recipe.lr_g, recipe.betas, recipe.pl_every)
        lr_d, betas_d = lazy_adam(recipe.lr_d, recipe.betas, recipe.reg_every)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=lr_g, betas=betas_g)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=lr_d, betas=betas_d)
        self.data_rng, self.latent_rng = generator(seed, "data"), generator(seed, "latents")
        self.objective = Objective(recipe, self.g, self.d, images_of(run.train["kimg"]),
                                   generator(seed, "regularizers"))
        self.growing = hasattr(self.g, "lod_after")
        n_micro = micro_batches(recipe.batch, run.train.get("micro_batch"))
        self.phase = Phase(ranks, n_micro, (self.g, self.d), self.objective, device)
        self._phase_flops: dict[tuple[int, int], dict[str, int]] = {}

    # --- the shared loop's interface

    def begin(self, progress: dict[str, Any], budget: int) -> None:
        self.objective.budget = budget  # the image horizon of the schedules (a FLOP budget's is derived)
        if self.growing:
            self._grow(progress, budget)

    def curve_module(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.g

    def networks(self) -> list[nn.Module]:
        return [self.g, self.d]

    @property
    def micro_batches(self) -> int:
        return self.phase.n_micro

    @torch.no_grad()
    def non_finite(self) -> list[str]:
        networks = {"G": self.g, "D": self.d, **({"EMA-G": self.ema.module} if self.ema is not None else {})}
        tensors = {name: [t for t in (*net.parameters(), *net.buffers()) if t.is_floating_point()]
                   for name, net in networks.items()}
        return [name for name, ts in tensors.items() if not all(torch.isfinite(t).all() for t in ts)]

    def step(self, progress: dict[str, Any], budget: int) -> dict[str, float]:
        recipe, objective, g, d, phase = self.recipe, self.objective, self.g, self.d, self.phase
        if self.growing:
            self._grow(progress, budget)
        d.requires_grad_(True)
        for i in range(recipe.n_critic):
            logs, fakes = self._d_step(progress, keep_g_graph=recipe.g_on_d_fakes and i == recipe.n_critic - 1)
        d.requires_grad_(False)
        latents, reals = SharedDraws(self._next_z), SharedDraws(self._next_real)

        def g_loss_of(m: int, n: int) -> tuple[torch.Tensor, dict]:
            next_z = latents.part(m, n)
            if fakes:
                z, (fake, y_fake) = None, fakes[m]
            else:
                (z, y_fake), fake = next_z(), None
            loss = objective.g_loss(g, d, self.opt_d, z, reals.part(m, n), next_z, progress["images"], y_fake,
                                    fake)
            return loss, {"loss_g": loss.item()}

        logs.update(phase.run(self.opt_g, g_loss_of, grad_norm="grad_g"))
        if objective.g_reg_due:
            path_latents = SharedDraws(self._next_z)
            phase.run(self.opt_g, lambda m, n: (objective.g_reg_loss(g, path_latents.part(m, n)), {}))
        if recipe.path_length:
            logs["pl_mean"] = objective.pl_mean
        objective.after_g_step(g)
        progress["step"] += 1
        if self.ema is not None:
            self.ema_decay.at(progress["images"])
            update_ema(self.ema, g, averaging=progress["step"] > recipe.ema_start)
        return logs

    def _d_step(self, progress: dict[str, Any], keep_g_graph: bool = False) -> tuple[dict[str, float], dict]:
        """One D step on a fresh real batch and fakes, and the lazy R1/R2 step on the same batch when due. With
        `keep_g_graph` G's forward keeps its graph and the fakes come back, per micro-batch, as (fake, labels)
        for G's step; else the second value is empty."""
        objective, g, d = self.objective, self.g, self.d
        reals, latents = SharedDraws(self._next_real), SharedDraws(self._next_z)
        batches: dict[int, tuple] = {}  # micro-batch -> (real, fake, y_real, y_fake), for the lazy R1/R2 step

        def d_loss_of(m: int, n: int) -> tuple[torch.Tensor, dict]:
            (real, y_real), (z, y_fake) = reals.part(m, n)(), latents.part(m, n)()
            with torch.set_grad_enabled(keep_g_graph):
                fake = conditioned(g, y_fake)(z)
            batches[m] = (real, fake, y_real, y_fake)
            return objective.d_loss(d, real, fake, progress["images"], y_real, y_fake)  # on fake.detach()

        def d_reg_loss_of(m: int, n: int) -> tuple[torch.Tensor, dict]:
            real, fake, y_real, y_fake = batches[m]
            return objective.d_reg_loss(d, real, fake, progress["images"], y_real, y_fake)

        logs = self.phase.run(self.opt_d, d_loss_of, grad_norm="grad_d")
        if objective.d_reg_due:
            logs.update(self.phase.run(self.opt_d, d_reg_loss_of))
        objective.after_d_step(d, logs)
        progress["images"] += self.batch
        return logs, {m: (fake, y_fake) for m, (_, fake, _, y_fake) in batches.items()} if keep_g_graph else {}

    def step_flops(self, progress: dict[str, Any], budget: int) -> int:
        """FLOPs of the step that starts at `progress` (its `images` and `step`) of a `budget`: n_critic D steps
        (G's forward for the fakes included), the lazy R1/R2 steps due among them, the G step and a path
        length step if due, each at the level of detail the schedule gives that step, with a vision-aided D's
        terms in each phase that runs after its start (D step i at the images before it, G's after all n_critic).
        The parts are measured once per level of detail (`phase_flops`); the D and G step counters follow from
        `step`."""
        recipe, images = self.recipe, progress["images"]
        lod = self.g.lod_after(images, budget) if self.growing else 0.0

        def parts_at(seen: int) -> dict[str, int]:
            return self.phase_flops(lod, vision=self.objective.vision_on(seen, budget))

        d_steps = progress["step"] * recipe.n_critic
        total = 0
        for i in range(recipe.n_critic):
            parts = parts_at(images + i * self.batch)
            total += parts["d"] + d_reg_due_at(recipe, d_steps + i) * parts.get("d_reg", 0)
        parts = parts_at(images + recipe.n_critic * self.batch)
        return total + parts["g"] + g_reg_due_at(recipe, progress["step"]) * parts.get("g_reg", 0)

    @property
    def images_per_step(self) -> int:
        return self.recipe.n_critic * self.batch

    def phase_flops(self, lod: float = 0.0, vision: bool = True) -> dict[str, int]:
        """FLOPs of each phase of a step at level of detail `lod` (forward + backward, penalties and
        unrolling included), with a vision-aided D's terms if it has joined (`vision`; the default is the
        state at the end of training): `d`, `g`, and the lazy `d_reg`, `g_reg` where the recipe has them.
        Measured on throwaway copies with a throwaway random stream, once per (floor, ceil) of the lod (a
        fade-in runs both resolutions) and vision state; the global torch RNG (StyleGAN's noise inputs and
        style mixing draw from it) is left as it was, since this runs at every start of the process, resumed
        ones included."""
        vision = vision and self.objective.vision is not None
        key = (math.floor(lod), math.ceil(lod), vision)
        if key not in self._phase_flops:
            devices = [self.device.index or 0] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                self._phase_flops[key] = self._count_phase_flops(lod, vision)
        return self._phase_flops[key]

    def _count_phase_flops(self, lod: float, vision: bool) -> dict[str, int]:
        recipe, batch = self.recipe, self.batch
        index = torch.arange(batch) % self.x.shape[0]  # a full batch even from a dataset smaller than one
        real = self.x[index].to(self.device)
        z = torch.zeros(batch, self.z_dim, device=self.device)
        y = self.labels[index].to(self.device) if self.n_classes else None
        g, d = copy.deepcopy(self.g), copy.deepcopy(self.d)
        for network in (g, d):
            network.requires_grad_(True)  # as in the D phase (the copies may be taken while D is frozen)
            if hasattr(network, "lod_after"):
                network.lod = lod
        objective = Objective(recipe, g, d, self.objective.budget, torch.Generator().manual_seed(0))
        images = objective.budget if vision else 0  # a point of the schedule in the vision-aided state asked for
        opt_d = torch.optim.Adam(d.parameters(), lr=recipe.lr_d, betas=recipe.betas)

        def fake() -> torch.Tensor:  # G's forward is part of the D phase, with its graph under g_on_d_fakes
            with torch.set_grad_enabled(recipe.g_on_d_fakes):
                return conditioned(g, y)(z)

        parts = {"d": count_flops(lambda: objective.d_loss(d, real, fake(), images, y, y)[0].backward())}
        if recipe.reg_every > 1 and (recipe.r1 or recipe.r2):
            made = fake()  # the lazy step reuses the D step's fakes
            parts["d_reg"] = count_flops(lambda: objective.d_reg_loss(d, real, made, images, y, y)[0].backward())
        d.requires_grad_(False)  # as in the G phase: no gradients for D's weights
        d_phase_fake = fake() if recipe.g_on_d_fakes else None
        parts["g"] = count_flops(lambda: objective.g_loss(g, d, opt_d, z, lambda: (real, y), lambda: (z, y),
                                                          images, y, d_phase_fake).backward())
        if recipe.pl_every > 1 and recipe.path_length:
            parts["g_reg"] = count_flops(lambda: objective.g_reg_loss(g, lambda: (z, y)).backward())
        return parts

    def state_dict(self) -> dict[str, Any]:
        return {
            "G": self.g.state_dict(), "D": self.d.state_dict(),
            "ema_G": self.ema.state_dict() if self.ema is not None else None,
            "opt_G": self.opt_g.state_dict(), "opt_D": self.opt_d.state_dict(),
            "rng": {"data": self.data_rng.get_state(), "latents": self.latent_rng.get_state(),
                    "torch": torch.get_rng_state()},
            "objective": self.objective.state_dict(),
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
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

    # --- one step's parts

    def _next_real(self) -> Batch:
        index = torch.randint(self.x.shape[0], (self.batch,), generator=self.data_rng)
        real = self.x[index].to(self.device)
        if self.growing:
            real = self.g.real_images(real)
        return real, self.labels[index].to(self.device) if self.n_classes else None

    def _next_z(self) -> Batch:
        z = torch.randn(self.batch, self.z_dim, generator=self.latent_rng).to(self.device)
        y = (torch.randint(self.n_classes, (self.batch,), generator=self.latent_rng).to(self.device)
             if self.n_classes else None)
        return z, y

    def _grow(self, progress: dict[str, Any], budget: int) -> None:
        """Set the networks' level of detail for the next step; when a resolution starts or stops fading in,
        reset both Adam states, as ProGAN and StyleGAN2 do at every lod boundary. The lod of the last step
        is part of the progress, so a resumed run resets exactly where an uninterrupted one does."""
        lod = self.g.lod_after(progress["images"], budget)
        for network in (self.g, self.d, *([self.ema.module] if self.ema is not None else [])):
            if hasattr(network, "lod_after"):
                network.lod = lod
        before = progress.get("lod")
        if before is not None and (math.floor(lod), math.ceil(lod)) != (math.floor(before), math.ceil(before)):
            for opt in (self.opt_g, self.opt_d):
                opt.state.clear()
        progress["lod"] = lod


class GenerationTask(TaskKind):
    def __init__(self, name: str, conditional: bool) -> None:
        self.name, self.conditional = name, conditional

    def build_networks(self, run: ResolvedRun) -> tuple[nn.Module, nn.Module]:
        """G and D as the run's variant describes them (D with the recipe's D-side layers)."""
        variant, arch = run.variant, dict(run.variant.arch)
        if run.n_classes:
            arch["n_classes"] = run.n_classes
        shape, width = tuple(run.dataset.shape), run.train["width"]
        g = variant.generator(shape, variant.z_dim, width=width, **arch)
        d = variant.discriminator(shape, width=width, **arch)
        return g, build_discriminator(d, variant.recipe)

    def trainer(self, run: ResolvedRun, data: dict[str, np.ndarray], device: torch.device,
                ranks: Ranks = SINGLE) -> GanTrainer:
        return GanTrainer(run, data, device, ranks)

    def evaluated_module(self, run: ResolvedRun, saved: dict[str, Any]) -> nn.Module:
        """EMA-G where the recipe keeps one, else G."""
        g, _ = self.build_networks(run)
        if saved["ema_G"] is not None:
            ema = AveragedModel(g, use_buffers=True)
            ema.load_state_dict(saved["ema_G"])
            g = ema.module
        else:
            g.load_state_dict(saved["G"])
        return g.eval()

    def evaluation_samples(self, run: ResolvedRun, module: nn.Module, n: int, device: torch.device,
                           data: dict[str, np.ndarray] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        latents = torch.randn(n, run.variant.z_dim, generator=generator(run.run.seed, "eval-latents"))
        labels = requested_labels(n, run.n_classes)
        return generate(module, latents, device, labels), {
            "latent_seed": stream_seed(run.run.seed, "eval-latents"),
            "labels": "requested classes 0..C-1 in turn (equal per class)" if labels is not None else None}

    def metric_groups(self, run: ResolvedRun, module: nn.Module) -> tuple[str, ...]:
        groups = []
        if self.conditional:
            groups.append("conditional")
        if run.variant.truncation:
            groups.append("truncation")
        if run.dataset.kind == "images" and translatable(module):
            groups.append("equivariance")
        return tuple(groups)


UNCONDITIONAL = GenerationTask("unconditional", conditional=False)
CLASS_CONDITIONAL = GenerationTask("class-conditional", conditional=True)
