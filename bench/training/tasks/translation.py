"""Task kind `translation`: G maps an input image (domain A) to an output image (domain B), on a translation task's
arrays (bench/data/translation.py).

Two recipes, as their references train them (junyanz/pytorch-CycleGAN-and-pix2pix@9bcef69 models/pix2pix_model.py,
cycle_gan_model.py; its GANLoss):
- paired, pix2pix (Isola et al. 2017): D scores the (input, output) pair. D's step: the GAN criterion on (A, B) as
  real and on (A, G(A)) as fake, summed, x `d_loss_scale` (0.5). G's step: the criterion on (A, G(A)) as real x
  `adversarial_weight`, + `l1_weight` x |G(A) - B|. With `adversarial_weight` 0 there is no D (the L1-only ablation).
- unpaired, CycleGAN (Zhu et al. 2017; `cycle_weight` > 0): G_AB, G_BA and D_B (judges domain B), D_A (judges A).
  G's step (both Gs, one optimizer): the criterion on D_B(G_AB(a)) and D_A(G_BA(b)) as real, + `cycle_weight` x
  (|G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|), + `identity_weight` x `cycle_weight` x (|G_AB(b) - b| +
  |G_BA(a) - a|). Then D's step (both Ds): each D's criterion on reals and on fakes drawn through an image pool
  of the last `image_pool` fakes, x `d_loss_scale`.
The criterion is the reference's: binary cross-entropy with logits (`ns`) or the mean squared error to 1 / 0
(`lsgan`), on every patch of a PatchGAN's output. Both learning rates decay linearly to 0 from `lr_decay_from` of the
budget on (the references' 100 + 100 epochs). A step shows one batch of B images (and A images) to the Ds: the
budget counts those. Evaluation translates the test split's inputs (G in eval mode; a U-Net keeps its dropout on,
as pix2pix does at test time). One process, no micro-batches (an image pool per process would make the result
depend on the rank count); checkpoints and resume are the shared loop's.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.protocol.seeding import generator, stream_seed
from bench.training.distributed import SINGLE, Ranks
from bench.training.flops import count_flops
from bench.training.image_pool import ImagePool
from bench.training.snapshots import CurveSnapshots, generate
from bench.training.tasks import TaskKind, Trainer
from bench.training.tasks.common import as_tensor, build, minimise, require_one_process

if TYPE_CHECKING:
    from bench.protocol.resolve import ResolvedRun

CRITERIA = ("ns", "lsgan")


def gan_term(outputs: torch.Tensor, real: bool, loss: str) -> torch.Tensor:
    """The references' GANLoss: every patch's logit against the target 1 (real) or 0 (fake), by binary
    cross-entropy (`ns`, their "vanilla") or squared error (`lsgan`), averaged."""
    target = torch.full_like(outputs, 1.0 if real else 0.0)
    if loss == "ns":
        return F.binary_cross_entropy_with_logits(outputs, target)
    if loss == "lsgan":
        return F.mse_loss(outputs, target)
    raise ValueError(f"translation trains with the GAN criteria {CRITERIA}, not {loss!r}")


def cycle_terms(g_ab: nn.Module, g_ba: nn.Module, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
    """CycleGAN's reconstruction terms, unweighted: the fakes, both cycles' L1 and both identity L1s."""
    fake_b, fake_a = g_ab(a), g_ba(b)
    return {"fake_b": fake_b, "fake_a": fake_a,
            "cycle_a": F.l1_loss(g_ba(fake_b), a), "cycle_b": F.l1_loss(g_ab(fake_a), b),
            "identity_a": F.l1_loss(g_ba(a), a), "identity_b": F.l1_loss(g_ab(b), b)}


def lr_factor(images: int, budget: int, decay_from: float) -> float:
    """The references' linear policy on the image axis: 1 until `decay_from` of the budget, then down to 0 at it."""
    if not decay_from or budget <= 0:
        return 1.0
    start = decay_from * budget
    return 1.0 if images <= start else max(0.0, 1.0 - (images - start) / (budget - start))


class TranslationTrainer(Trainer):
    def __init__(self, run: ResolvedRun, data: dict[str, np.ndarray], device: torch.device,
                 ranks: Ranks = SINGLE) -> None:
        require_one_process(run, ranks, run.train.get("micro_batch"), "translation", "the image pool is per process")
        recipe, seed = run.variant.recipe, run.run.seed
        self.recipe, self.device, self.batch, self.loss = recipe, device, recipe.batch, recipe.loss
        self.cycle = recipe.cycle_weight > 0
        self.a, self.b = as_tensor(data["train_a"]), as_tensor(data["train_x"])
        inputs = as_tensor(data["eval_a"][: run.train["curve_n"]])
        self.snapshots = CurveSnapshots("images", run.train["curve_n"], 0, inputs=inputs)
        torch.manual_seed(stream_seed(seed, "weights"))
        self.nets = [net.to(device) for net in TRANSLATION.build_networks(run)]
        self.gs, self.ds = self.nets[: 1 + self.cycle], self.nets[1 + self.cycle:]
        self.opt_g = torch.optim.Adam([p for g in self.gs for p in g.parameters()], lr=recipe.lr_g, betas=recipe.betas)
        self.opt_d = (torch.optim.Adam([p for d in self.ds for p in d.parameters()], lr=recipe.lr_d,
                                       betas=recipe.betas) if self.ds else None)
        self.data_rng = generator(seed, "data")
        pool_rng = generator(seed, "image-pool")
        self.pools = [ImagePool(recipe.image_pool, generator=pool_rng) for _ in self.ds] if self.cycle else []
        self.budget = 0
        self._flops: dict[str, int] | None = None

    # --- the shared loop's interface

    def begin(self, progress: dict[str, Any], budget: int) -> None:
        self.budget = budget

    def curve_module(self) -> nn.Module:
        return self.gs[0]

    def networks(self) -> list[nn.Module]:
        return list(self.nets)

    @torch.no_grad()
    def non_finite(self) -> list[str]:
        names = ["G_AB", "G_BA", "D_B", "D_A"] if self.cycle else ["G", "D"]
        tensors = {name: [t for t in (*net.parameters(), *net.buffers()) if t.is_floating_point()]
                   for name, net in zip(names, self.nets, strict=False)}
        return [name for name, ts in tensors.items() if not all(torch.isfinite(t).all() for t in ts)]

    def step(self, progress: dict[str, Any], budget: int) -> dict[str, float]:
        factor = lr_factor(progress["images"], budget, self.recipe.lr_decay_from)
        for opt, lr in ((self.opt_g, self.recipe.lr_g), (self.opt_d, self.recipe.lr_d)):
            for group in opt.param_groups if opt is not None else ():
                group["lr"] = lr * factor
        a, b = self._next_batch()
        logs = self._cycle_step(a, b) if self.cycle else self._paired_step(a, b)
        progress["images"] += self.batch
        progress["step"] += 1
        return logs

    def step_flops(self, progress: dict[str, Any], budget: int) -> int:
        return sum(self.phase_flops().values())

    @property
    def images_per_step(self) -> int:
        return self.batch

    def phase_flops(self, lod: float = 0.0) -> dict[str, int]:
        """FLOPs of G's and D's phases of one step (forward and backward), measured once on copies of the networks
        and a batch of the first training images, with throwaway pools and the global RNG left as it was."""
        if self._flops is None:
            with torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []):
                saved = self.nets, self.pools  # the trained networks (the optimizers hold their parameters)
                try:
                    self.nets = [copy.deepcopy(net) for net in saved[0]]
                    self.gs, self.ds = self.nets[: 1 + self.cycle], self.nets[1 + self.cycle:]
                    self.pools = [ImagePool(self.recipe.image_pool, generator=torch.Generator().manual_seed(0))
                                  for _ in self.ds] if self.cycle else []
                    a, b = self.a[: self.batch].to(self.device), self.b[: self.batch].to(self.device)
                    step = self._cycle_step if self.cycle else self._paired_step
                    total = count_flops(lambda: step(a, b, optimise=False))
                    d = count_flops(lambda: self._d_phase(a, b)) if self.ds else 0
                    self._flops = {"d": d, "g": total - d}  # G's phase: every forward and backward but D's update
                finally:
                    self.nets = saved[0]
                    self.gs, self.ds = self.nets[: 1 + self.cycle], self.nets[1 + self.cycle:]
                    self.pools = saved[1]
        return dict(self._flops)

    def _d_phase(self, a: torch.Tensor, b: torch.Tensor) -> None:
        """D's update alone, on fakes drawn without autograd (what D's step adds to G's), for the FLOP count."""
        r = self.recipe
        with torch.no_grad():
            fakes = [g(x) for g, x in zip(self.gs, (a, b), strict=False)]
        for d in self.ds:
            d.requires_grad_(True)
        if self.cycle:
            pairs = [(self.ds[0], b, fakes[0]), (self.ds[1], a, fakes[1])]
        else:
            pairs = [(self.ds[0], torch.cat([a, b], 1), torch.cat([a, fakes[0]], 1))]
        loss = sum(r.d_loss_scale * (gan_term(d(real), True, self.loss) + gan_term(d(fake), False, self.loss))
                   for d, real, fake in pairs)
        loss.backward()

    def state_dict(self) -> dict[str, Any]:
        return {"nets": [net.state_dict() for net in self.nets], "opt_G": self.opt_g.state_dict(),
                "opt_D": self.opt_d.state_dict() if self.opt_d is not None else None,
                "pools": [pool.state_dict() for pool in self.pools],
                "rng": {"data": self.data_rng.get_state(), "torch": torch.get_rng_state()}}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        for net, state in zip(self.nets, saved["nets"], strict=True):
            net.load_state_dict(state)
        self.opt_g.load_state_dict(saved["opt_G"])
        if self.opt_d is not None:
            self.opt_d.load_state_dict(saved["opt_D"])
        for pool, state in zip(self.pools, saved["pools"], strict=True):
            pool.load_state_dict(state)
        self.data_rng.set_state(saved["rng"]["data"])
        torch.set_rng_state(saved["rng"]["torch"])

    # --- one step's parts

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of inputs and targets: pix2pix's pairs (its variants train on paired tasks only), CycleGAN's
        drawn independently (it ignores the pairs of a paired task)."""
        i = torch.randint(len(self.a), (self.batch,), generator=self.data_rng)
        j = torch.randint(len(self.b), (self.batch,), generator=self.data_rng) if self.cycle else i
        return self.a[i].to(self.device), self.b[j].to(self.device)

    def _paired_step(self, a: torch.Tensor, b: torch.Tensor, optimise: bool = True) -> dict[str, float]:
        r, g = self.recipe, self.gs[0]
        fake = g(a)
        logs: dict[str, float] = {}
        if self.ds:
            d = self.ds[0]
            d.requires_grad_(True)
            d_loss = r.d_loss_scale * (gan_term(d(torch.cat([a, b], 1)), True, self.loss)
                                       + gan_term(d(torch.cat([a, fake.detach()], 1)), False, self.loss))
            minimise(self.opt_d, d_loss, optimise)
            d.requires_grad_(False)
            logs["loss_d"] = d_loss.item()
        l1 = F.l1_loss(fake, b)
        g_loss = r.l1_weight * l1
        if self.ds:
            adversarial = gan_term(self.ds[0](torch.cat([a, fake], 1)), True, self.loss)
            g_loss = g_loss + r.adversarial_weight * adversarial
            logs["loss_g_gan"] = adversarial.item()
        minimise(self.opt_g, g_loss, optimise)
        return {**logs, "loss_g": g_loss.item(), "l1": l1.item()}

    def _cycle_step(self, a: torch.Tensor, b: torch.Tensor, optimise: bool = True) -> dict[str, float]:
        r, (g_ab, g_ba), (d_b, d_a) = self.recipe, self.gs, self.ds
        for d in self.ds:
            d.requires_grad_(False)
        terms = cycle_terms(g_ab, g_ba, a, b)
        adversarial = gan_term(d_b(terms["fake_b"]), True, self.loss) + gan_term(d_a(terms["fake_a"]), True, self.loss)
        cycle = terms["cycle_a"] + terms["cycle_b"]
        identity = terms["identity_a"] + terms["identity_b"]
        g_loss = (r.adversarial_weight * adversarial + r.cycle_weight * cycle
                  + r.identity_weight * r.cycle_weight * identity)
        minimise(self.opt_g, g_loss, optimise)
        for d in self.ds:
            d.requires_grad_(True)
        d_loss = 0.0
        for d, real, fake, pool in ((d_b, b, terms["fake_b"], self.pools[0]), (d_a, a, terms["fake_a"], self.pools[1])):
            shown = pool.query(fake.detach())
            terms_d = gan_term(d(real), True, self.loss) + gan_term(d(shown), False, self.loss)
            d_loss = d_loss + r.d_loss_scale * terms_d
        minimise(self.opt_d, d_loss, optimise)
        return {"loss_g": g_loss.item(), "loss_g_gan": adversarial.item(), "cycle": cycle.item(),
                "identity": identity.item(), "loss_d": d_loss.item()}



class TranslationTask(TaskKind):
    name = "translation"

    def build_networks(self, run: ResolvedRun) -> tuple[nn.Module, ...]:
        """pix2pix: G, and D on the (input, output) pair unless the recipe has no GAN term. CycleGAN: G_AB, G_BA,
        D_B (on domain B), D_A."""
        variant, recipe = run.variant, run.variant.recipe
        channels, size = run.dataset.shape[0], run.dataset.shape[1]
        settings = {**variant.arch, "width": run.train["width"], "size": size}
        if recipe.cycle_weight > 0:
            gs = [build(variant.generator, in_channels=channels, out_channels=channels, **settings) for _ in range(2)]
            ds = [build(variant.discriminator, in_channels=channels, **settings) for _ in range(2)]
            return (*gs, *ds)
        g = build(variant.generator, in_channels=channels, out_channels=channels, **settings)
        if recipe.adversarial_weight == 0:
            return (g,)
        return g, build(variant.discriminator, in_channels=2 * channels, **settings)

    def trainer(self, run: ResolvedRun, data: dict[str, np.ndarray], device: torch.device,
                ranks: Ranks = SINGLE) -> TranslationTrainer:
        return TranslationTrainer(run, data, device, ranks)

    def evaluated_module(self, run: ResolvedRun, saved: dict[str, Any]) -> nn.Module:
        """G (G_AB for CycleGAN) in eval mode."""
        g = self.build_networks(run)[0]
        g.load_state_dict(saved["nets"][0])
        return g.eval()

    def evaluation_samples(self, run: ResolvedRun, module: nn.Module, n: int, device: torch.device,
                           data: dict[str, np.ndarray] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """The first `n` test inputs translated (in the split's order: pairs stay aligned with eval_x); a U-Net's
        test-time dropout draws from the global stream, which evaluate seeds."""
        inputs = as_tensor(data["eval_a"][:n])
        return generate(module, inputs, device), {"inputs": f"the first {len(inputs)} of the test split's inputs"}

    def metric_groups(self, run: ResolvedRun, module: nn.Module) -> tuple[str, ...]:
        return ("translation",)


TRANSLATION = TranslationTask()
