"""Task kind `tokenizer`: VQ-GAN and ViT-VQGAN, an image tokenizer (stage 1) and a prior over its codes (stage 2),
each its own DVC stage, so that a change to the prior never retrains the tokenizer.

Stage 1, the `train` stage (`TokenizerTrainer`): the autoencoder with its codebook (models/vqgan.py,
models/vit_vqgan.py) and a discriminator train on the train split, the shared loop counting the images shown. One
step, as CompVis/taming-transformers' VQModel.training_step (its two optimizer passes) and VQLPIPSWithDiscriminator
(bench/training/tokenizer_objective.py):
- the autoencoder: L_rec (pixel terms + perceptual distance) + lambda x f(step) x L_GAN + codebook_weight x L_VQ,
  with lambda the adaptive weight (`adaptive_weight`) or the fixed `adversarial_weight` (ViT-VQGAN), f 0 before
  `disc_start` (a share of the budget) and 1 after;
- D: f(step) x `d_loss_scale` x the recipe's GAN loss on the real batch and the detached reconstructions. D steps
  from the first step with f = 0 before the start, as the reference does (no update then: zero gradients).
The curve snapshots are the reconstructions of the first `curve_n` test images, so the evaluate stage's quality
curve is a reconstruction FID along training; the curve points also log lambda, L_rec and f, to show what happens
to reconstructions when D starts.

Stage 2, the `prior` stage (`PriorTrainer`): the finished tokenizer encodes the train split once (frozen, eval
mode); models/vq_prior.py's transformer learns the code sequences (raster order) with a class token where the
dataset has labels, the loop counting the sequences shown. Its settings are the profile's `prior` block; its
config names the tokenizer checkpoint's sha256, so a retrained tokenizer retrains the prior and nothing else does.
Evaluation reads the prior stage's checkpoint, which carries the tokenizer's weights: the prior samples codes
(temperature, top-k, top-p: evaluate settings), the tokenizer decodes them, and those are the run's N samples.
One process, no micro-batches (the quantizer's EMA and the batch norm of D are per process).
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn as nn

from bench.protocol.io import sha256_file, stable_hash
from bench.protocol.seeding import generator, stream_seed
from bench.training.distributed import SINGLE, Ranks
from bench.training.flops import count_flops
from bench.training.losses import get_loss
from bench.training.snapshots import CurveSnapshots
from bench.training.tasks import Stage, TaskKind, Trainer
from bench.training.tasks.common import as_tensor, build, minimise, require_one_process
from bench.training.tokenizer_objective import adaptive_weight, gan_factor, reconstruction_loss

if TYPE_CHECKING:
    from pathlib import Path

    from bench.protocol.resolve import ResolvedRun

PRIOR = "prior"
ENCODE_BATCH = 256
PRIOR_BETAS = (0.9, 0.95)  # taming's GPT optimiser (AdamW), as minGPT


class Reconstructor(nn.Module):
    """A tokenizer seen as image -> reconstruction (what the curve snapshots and `generate` call)."""

    def __init__(self, autoencoder: nn.Module) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.autoencoder(x).images


class PriorSampler(nn.Module):
    """Stage 2's generator: sample ids -> images. The prior draws a code sequence per id (class `id % n_classes`
    when conditional) from a generator seeded by (`seed`, the batch's first id), so a batch's draw is fixed by its
    ids; the tokenizer decodes it."""

    def __init__(self, autoencoder: nn.Module, prior: nn.Module, grid: tuple[int, int], seed: int,
                 n_classes: int = 0, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None) -> None:
        super().__init__()
        self.autoencoder, self.prior, self.grid, self.seed = autoencoder, prior, grid, seed
        self.n_classes, self.temperature, self.top_k, self.top_p = n_classes, temperature, top_k, top_p

    @torch.no_grad()
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long().reshape(-1)
        rng = torch.Generator(device=ids.device).manual_seed(stream_seed(self.seed, f"prior-sample-{int(ids[0])}"))
        labels = ids % self.n_classes if self.n_classes else None
        codes = self.prior.sample(len(ids), labels, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                                  generator=rng)
        return self.autoencoder.decode_indices(codes.reshape(len(ids), *self.grid))


def build_tokenizer(run: ResolvedRun) -> nn.Module:
    channels, size = run.dataset.shape[0], run.dataset.shape[1]
    return build(run.variant.generator, in_channels=channels, resolution=size, width=run.train["width"],
                  **run.variant.arch)


def build_prior(run: ResolvedRun, autoencoder: nn.Module) -> nn.Module:
    from models.vq_prior import CodePrior

    settings = run.prior
    h, w = autoencoder.grid(run.dataset.shape[1])
    return CodePrior(autoencoder.n_codes, h * w, n_classes=run.dataset.n_labels, width=settings["width"],
                     depth=settings["depth"], heads=settings["heads"], dropout=settings.get("dropout", 0.0))


class TokenizerTrainer(Trainer):
    """Stage 1: the autoencoder and D (no D when `adversarial_weight` is 0)."""

    def __init__(self, run: ResolvedRun, data: dict[str, np.ndarray], device: torch.device) -> None:
        recipe, seed = run.variant.recipe, run.run.seed
        self.recipe, self.device, self.batch = recipe, device, recipe.batch
        self.loss = get_loss(recipe.loss)
        self.x = as_tensor(data["train_x"])
        self.snapshots = CurveSnapshots("images", run.train["curve_n"], 0,
                                        inputs=as_tensor(data["eval_x"][: run.train["curve_n"]]))
        torch.manual_seed(stream_seed(seed, "weights"))
        self.nets = [net.to(device) for net in TOKENIZER.build_networks(run)]
        self.autoencoder = self.nets[0]
        self.d = self.nets[1] if len(self.nets) > 1 else None
        self.opt_ae = torch.optim.Adam(self.autoencoder.parameters(), lr=recipe.lr_g, betas=recipe.betas)
        self.opt_d = (torch.optim.Adam(self.d.parameters(), lr=recipe.lr_d, betas=recipe.betas)
                      if self.d is not None else None)
        self.perceptual = None
        if recipe.perceptual_weight:
            from bench.training.perceptual import perceptual_distance

            self.perceptual = perceptual_distance(recipe.perceptual).to(device)
        self.data_rng = generator(seed, "data")
        self.disc_start = 0
        self._flops: dict[str, int] | None = None

    # --- the shared loop's interface

    def begin(self, progress: dict[str, Any], budget: int) -> None:
        self.disc_start = int(self.recipe.disc_start * budget) // self.batch  # in steps, as the reference counts

    def curve_module(self) -> nn.Module:
        return Reconstructor(self.autoencoder)

    def networks(self) -> list[nn.Module]:
        return [*self.nets, *([self.perceptual] if self.perceptual is not None else [])]

    @torch.no_grad()
    def non_finite(self) -> list[str]:
        names = ["autoencoder", "D"]
        return [name for name, net in zip(names, self.nets, strict=False)
                if not all(torch.isfinite(t).all() for t in (*net.parameters(), *net.buffers())
                           if t.is_floating_point())]

    def step(self, progress: dict[str, Any], budget: int) -> dict[str, float]:
        i = torch.randint(len(self.x), (self.batch,), generator=self.data_rng)
        logs = self._step(self.x[i].to(self.device), progress["step"])
        progress["images"] += self.batch
        progress["step"] += 1
        return logs

    def step_flops(self, progress: dict[str, Any], budget: int) -> int:
        return sum(self.phase_flops().values())

    @property
    def images_per_step(self) -> int:
        return self.batch

    def phase_flops(self, lod: float = 0.0) -> dict[str, int]:
        """FLOPs of the autoencoder's and D's passes of one step after D's start (forward and backward, the adaptive
        weight's gradients included), measured once on copies of the networks."""
        if self._flops is None:
            with torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []):
                saved = self.nets
                try:
                    self.nets = [copy.deepcopy(net) for net in saved]
                    self.autoencoder, self.d = self.nets[0], (self.nets[1] if len(self.nets) > 1 else None)
                    x = self.x[: self.batch].to(self.device)
                    total = count_flops(lambda: self._step(x, self.disc_start, optimise=False))
                    d = count_flops(lambda: self._d_phase(x)) if self.d is not None else 0
                    self._flops = {"d": d, "g": total - d}
                finally:
                    self.nets = saved
                    self.autoencoder, self.d = saved[0], (saved[1] if len(saved) > 1 else None)
        return dict(self._flops)

    def state_dict(self) -> dict[str, Any]:
        return {"nets": [net.state_dict() for net in self.nets], "opt_G": self.opt_ae.state_dict(),
                "opt_D": self.opt_d.state_dict() if self.opt_d is not None else None,
                "rng": {"data": self.data_rng.get_state(), "torch": torch.get_rng_state()}}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        for net, state in zip(self.nets, saved["nets"], strict=True):
            net.load_state_dict(state)
        self.opt_ae.load_state_dict(saved["opt_G"])
        if self.opt_d is not None:
            self.opt_d.load_state_dict(saved["opt_D"])
        self.data_rng.set_state(saved["rng"]["data"])
        torch.set_rng_state(saved["rng"]["torch"])

    # --- one step

    def _reconstruction_loss(self, x: torch.Tensor, out) -> tuple[torch.Tensor, torch.Tensor | None]:
        r = self.recipe
        return reconstruction_loss(x, out.images, self.perceptual, r.perceptual_weight, l1_weight=r.l1_weight,
                                   l2_weight=r.l2_weight, logit_laplace_weight=r.logit_laplace_weight,
                                   reconstruction=out)

    def _step(self, x: torch.Tensor, step: int, optimise: bool = True) -> dict[str, float]:
        r, ae, d = self.recipe, self.autoencoder, self.d
        out = ae(x)
        rec, perceptual = self._reconstruction_loss(x, out)
        logs: dict[str, float] = {"rec": rec.item(), "vq": out.loss.item()}
        if perceptual is not None:
            logs["perceptual"] = perceptual.item()
        loss = rec + r.codebook_weight * out.loss
        factor = gan_factor(step, self.disc_start) if d is not None else 0.0
        if d is not None:
            d.requires_grad_(False)
            gan = self.loss.g_loss(None, d(out.images))
            lam = (adaptive_weight(rec, gan, ae.last_layer(), r.adversarial_weight) if r.adaptive_weight
                   else torch.tensor(r.adversarial_weight))
            loss = loss + lam * factor * gan
            logs.update({"gan_g": gan.item(), "lambda": float(lam), "gan_factor": factor})
        minimise(self.opt_ae, loss, optimise)
        logs["loss_ae"] = loss.item()
        if d is not None:
            d.requires_grad_(True)
            d_loss = factor * r.d_loss_scale * self.loss.d_loss(d(x), d(out.images.detach()))
            minimise(self.opt_d, d_loss, optimise)
            logs["loss_d"] = d_loss.item()
        return logs

    def _d_phase(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            fake = self.autoencoder(x).images
        self.d.requires_grad_(True)
        (self.recipe.d_loss_scale * self.loss.d_loss(self.d(x), self.d(fake))).backward()



@torch.no_grad()
def encode_split(autoencoder: nn.Module, images: np.ndarray, device: torch.device,
                 batch: int = ENCODE_BATCH) -> torch.Tensor:
    """The code indices (N x h*w, raster order) of uint8 images under a frozen tokenizer in eval mode."""
    autoencoder = autoencoder.to(device).eval()
    codes = [autoencoder.encode(as_tensor(images[i: i + batch]).to(device)).indices.flatten(1).cpu()
             for i in range(0, len(images), batch)]
    return torch.cat(codes)


def tokenizer_from(run: ResolvedRun, saved: dict[str, Any]) -> nn.Module:
    """The stage-1 autoencoder of a checkpoint (the train stage's, or the copy a prior checkpoint carries)."""
    autoencoder = build_tokenizer(run)
    autoencoder.load_state_dict(saved["nets"][0])
    return autoencoder.eval()


class PriorTrainer(Trainer):
    """Stage 2: the prior on the frozen tokenizer's codes of the train split (its first `n_train` images when the
    prior settings give that number)."""

    def __init__(self, run: ResolvedRun, data: dict[str, np.ndarray], device: torch.device,
                 tokenizer: dict[str, Any]) -> None:
        settings, seed = run.prior, run.run.seed
        self.device, self.batch = device, settings["batch"]
        self.tokenizer_state = tokenizer["nets"][0]
        self.autoencoder = tokenizer_from(run, tokenizer).to(device)
        for p in self.autoencoder.parameters():
            p.requires_grad_(False)
        n_train = settings.get("n_train") or len(data["train_x"])
        self.codes = encode_split(self.autoencoder, data["train_x"][:n_train], device)
        self.n_classes = run.dataset.n_labels
        self.labels = torch.from_numpy(data["train_y"][:n_train]).long() if self.n_classes else None
        self.grid = self.autoencoder.grid(run.dataset.shape[1])
        torch.manual_seed(stream_seed(seed, "prior-weights"))
        self.prior = build_prior(run, self.autoencoder).to(device)
        self.opt = torch.optim.AdamW(self.prior.parameters(), lr=settings["lr"], betas=PRIOR_BETAS,
                                     weight_decay=settings.get("weight_decay", 0.01))
        self.snapshots = CurveSnapshots("images", settings["curve_n"], 0, inputs=torch.arange(settings["curve_n"]))
        self.sampler = PriorSampler(self.autoencoder, self.prior, self.grid, seed, self.n_classes)
        self.data_rng = generator(seed, "prior-data")
        self._flops: int | None = None

    def begin(self, progress: dict[str, Any], budget: int) -> None:
        pass

    def curve_module(self) -> nn.Module:
        return self.sampler

    def networks(self) -> list[nn.Module]:
        return [self.prior]

    @torch.no_grad()
    def non_finite(self) -> list[str]:
        return [] if all(torch.isfinite(p).all() for p in self.prior.parameters()) else ["prior"]

    def step(self, progress: dict[str, Any], budget: int) -> dict[str, float]:
        i = torch.randint(len(self.codes), (self.batch,), generator=self.data_rng)
        self.prior.train()
        loss = self._loss(i)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        progress["images"] += self.batch
        progress["step"] += 1
        return {"loss": loss.item()}

    def _loss(self, i: torch.Tensor) -> torch.Tensor:
        labels = self.labels[i].to(self.device) if self.labels is not None else None
        return self.prior.loss(self.codes[i].to(self.device), labels)

    def step_flops(self, progress: dict[str, Any], budget: int) -> int:
        return self.phase_flops()["g"]

    @property
    def images_per_step(self) -> int:
        return self.batch

    def phase_flops(self, lod: float = 0.0) -> dict[str, int]:
        """The prior's forward and backward on one batch (no D: `d` is 0)."""
        if self._flops is None:
            prior, self.prior = self.prior, copy.deepcopy(self.prior)
            try:
                self._flops = count_flops(lambda: self._loss(torch.arange(self.batch) % len(self.codes)).backward())
            finally:
                self.prior = prior
        return {"d": 0, "g": self._flops}

    def state_dict(self) -> dict[str, Any]:
        # the tokenizer's weights travel with the prior: evaluation reads this one checkpoint
        return {"nets": [self.prior.state_dict()], "tokenizer": {"nets": [self.tokenizer_state]},
                "opt_G": self.opt.state_dict(),
                "rng": {"data": self.data_rng.get_state(), "torch": torch.get_rng_state()}}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.prior.load_state_dict(saved["nets"][0])
        self.opt.load_state_dict(saved["opt_G"])
        self.data_rng.set_state(saved["rng"]["data"])
        torch.set_rng_state(saved["rng"]["torch"])


class TokenizerTask(TaskKind):
    name = "tokenizer"
    evaluated_stage = PRIOR

    def build_networks(self, run: ResolvedRun) -> tuple[nn.Module, ...]:
        """The autoencoder, and D unless the recipe has no GAN term."""
        autoencoder = build_tokenizer(run)
        if run.variant.recipe.adversarial_weight == 0:
            return (autoencoder,)
        channels, size = run.dataset.shape[0], run.dataset.shape[1]
        d = build(run.variant.discriminator, in_channels=channels, size=size, width=run.train["width"],
                   **run.variant.arch)
        return autoencoder, d

    def trainer(self, run: ResolvedRun, data: dict[str, np.ndarray], device: torch.device,
                ranks: Ranks = SINGLE) -> TokenizerTrainer:
        require_one_process(run, ranks, run.train.get("micro_batch"), "tokenizer", ONE_PROCESS)
        return TokenizerTrainer(run, data, device)

    def stages(self, run: ResolvedRun, root: Path) -> dict[str, Stage]:
        """The prior, after the train stage: its config names the tokenizer checkpoint it learns the codes of."""
        from bench.training.checkpoint import CHECKPOINT, finished_checkpoint

        tokenizer_file = run.run.folder(root) / "train" / CHECKPOINT
        config = {"run": str(run.run), "stage": PRIOR, "seed": run.run.seed, "profile": run.profile,
                  "prior": dict(run.prior), "n_classes": run.dataset.n_labels,
                  "tokenizer": {"config_hash": run.config_hash,
                                "sha256": sha256_file(tokenizer_file) if tokenizer_file.is_file() else None}}
        config["config_hash"] = stable_hash(config)

        def trainer(data: dict[str, np.ndarray], device: torch.device, ranks: Ranks) -> PriorTrainer:
            require_one_process(run, ranks, None, "tokenizer", ONE_PROCESS)
            return PriorTrainer(run, data, device, finished_checkpoint(tokenizer_file.parent, run.config_hash))

        return {PRIOR: Stage(PRIOR, config, run.prior, trainer)}

    def evaluated_module(self, run: ResolvedRun, saved: dict[str, Any]) -> PriorSampler:
        """The prior stage's checkpoint as a sampler: its prior and the tokenizer it carries, sampling with the
        evaluate settings' temperature, top-k and top-p."""
        autoencoder = tokenizer_from(run, saved["tokenizer"])
        prior = build_prior(run, autoencoder)
        prior.load_state_dict(saved["nets"][0])
        settings = run.evaluate
        return PriorSampler(autoencoder, prior.eval(), autoencoder.grid(run.dataset.shape[1]),
                            stream_seed(run.run.seed, "eval-prior"), run.dataset.n_labels,
                            settings.get("temperature", 1.0), settings.get("top_k"), settings.get("top_p")).eval()

    def evaluation_samples(self, run: ResolvedRun, module: PriorSampler, n: int, device: torch.device,
                           data: dict[str, np.ndarray] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """N prior samples decoded (class i % n_classes for the i-th when conditional: equal per class), timed."""
        module = module.to(device).eval()
        started = time.perf_counter()
        images = torch.cat([module(ids.to(device)).cpu() for ids in torch.arange(n).split(ENCODE_BATCH)])
        seconds = time.perf_counter() - started  # a result (evaluate's sample_ms_per_image), not how it was measured
        return images, {"sampling": {"n": n, "ms_per_image": 1000 * seconds / n,
                                     "device": device.type, "batch": ENCODE_BATCH,
                                     "temperature": module.temperature, "top_k": module.top_k, "top_p": module.top_p,
                                     "labels": "i % n_classes" if module.n_classes else None}}

    def metric_groups(self, run: ResolvedRun, module: nn.Module) -> tuple[str, ...]:
        return ("tokenizer",)


ONE_PROCESS = "the codebook's EMA and D's batch norm are per process"


TOKENIZER = TokenizerTask()
