"""One run on several ranks: the ranks' collectives, and the micro-batched optimizer phase that makes the result
independent of the number of ranks (bench/training/launch.py starts the ranks).

A run's global batch is the recipe's `batch`; `train.micro_batch` in params.yaml splits it into M micro-batches
whose gradients are accumulated before each optimizer step. `gbench train --nproc N` (or params.yaml `nproc`)
shares those M micro-batches out among N ranks (contiguous shares, M divisible by N). Nothing that happens
inside a micro-batch depends on which rank runs it:

- every rank draws the global batch's data indices and latents from the run's streams and keeps its slices
  (`SharedDraws`), so the streams advance the same on every rank;
- each micro-batch draws its random numbers (noise inputs, DiffAugment, penalties) from generators seeded by
  the phase and the micro-batch's index, not from a stream that another micro-batch advanced;
- state that forward passes update (BatchNorm running statistics, spectral norm's power iteration vectors,
  StyleGAN's tracked mean w, the path length target) starts every micro-batch from its value at the start
  of the phase and ends the phase as the last micro-batch left it (on N ranks: broadcast from the last rank);
- gradients are summed over micro-batches (each loss / M) and, across ranks, by one all-reduce.

So 1 process x M micro-batches and N ranks x M/N differ only in how the M gradient terms are added up: with
M = 2 (one micro-batch per rank on two ranks, or two in one process) the sums are the same two terms and
the checkpoints are bitwise identical (tested on gloo); with more terms the order of the additions may
differ in the last bits. BatchNorm statistics are per micro-batch (as on one GPU of a multi-GPU run), not
synchronised across ranks: SyncBatchNorm would make them depend on N. Gradients are reduced by hand after
the accumulation, as NVlabs' StyleGAN2-ADA does, rather than by the DDP wrapper: the phases of a GAN step
(D, lazy R1, G, lazy path length) use different parameter subsets, growing networks leave some unused, and
D runs without gradients in the G phase, none of which needs DDP's unused-parameter search or `no_sync`.

With M = 1 a phase is the plain zero_grad / backward / step, so runs without `micro_batch` keep their bytes.
Ranks start with torch.distributed's `env://` variables (torchrun's); bench/training/launch.py sets them and
starts the ranks itself when `gbench train` is asked for more than one. NCCL on CUDA (device
cuda:LOCAL_RANK), gloo on CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn

from bench.protocol.errors import ConfigError
from bench.protocol.params import micro_batches


@dataclass(frozen=True)
class Ranks:
    """This process's place among the run's ranks (rank 0 of 1 when training alone)."""

    rank: int = 0
    world: int = 1

    @property
    def writes(self) -> bool:
        """Only rank 0 writes files (checkpoints, curves, cost) and shows progress."""
        return self.rank == 0

    def share(self, n_micro: int) -> range:
        """The micro-batches of a phase this rank computes."""
        per_rank = n_micro // self.world
        return range(self.rank * per_rank, (self.rank + 1) * per_rank)

    def sum_gradients(self, parameters: Sequence[torch.Tensor]) -> None:
        """Sum the accumulated gradients over the ranks, in one flat all-reduce per dtype."""
        if self.world > 1:
            _flat_collective([p.grad for p in parameters if p.grad is not None], dist.all_reduce)

    def take_from_last(self, tensors: Sequence[torch.Tensor]) -> None:
        """Every rank's copy of `tensors` becomes the last rank's (who ran the phase's last micro-batch)."""
        if self.world > 1:
            _flat_collective(list(tensors), lambda flat: dist.broadcast(flat, src=self.world - 1))

    def agree(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if it is on any (a wall-clock budget is spent when the first rank says so)."""
        if self.world == 1:
            return flag
        value = torch.tensor([int(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def gather_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Each rank's rows (one per micro-batch it ran), concatenated in rank order = micro-batch order."""
        if self.world == 1:
            return rows
        parts = [torch.empty_like(rows) for _ in range(self.world)]
        dist.all_gather(parts, rows)
        return torch.cat(parts)


SINGLE = Ranks()


def _flat_collective(tensors: list[torch.Tensor], collective: Callable[[torch.Tensor], Any]) -> None:
    by_dtype: dict[tuple, list[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault((t.dtype, t.device), []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        collective(flat)
        offset = 0
        for t in group:
            t.copy_(flat[offset: offset + t.numel()].view_as(t))
            offset += t.numel()


class SharedDraws:
    """A stream of global batches (data or latents), sliced into micro-batches.

    `part(m, n)` is the function micro-batch m of n calls for its next batch: the j-th call of any
    micro-batch returns its slice of the j-th global batch, drawn from the stream when first asked for. A
    rank that computes only some micro-batches draws the same global batches as one that computes them all."""

    def __init__(self, draw: Callable[[], tuple[torch.Tensor, torch.Tensor | None]]) -> None:
        self.draw, self.batches = draw, []

    def part(self, m: int, n: int) -> Callable[[], tuple[torch.Tensor, torch.Tensor | None]]:
        calls = iter(range(sys.maxsize))

        def next_part() -> tuple[torch.Tensor, torch.Tensor | None]:
            j = next(calls)
            while len(self.batches) <= j:
                self.batches.append(self.draw())
            x, y = self.batches[j]
            size = x.shape[0] // n
            part = slice(m * size, (m + 1) * size)
            return x[part], (y[part] if y is not None else None)

        return next_part


def _gradient_norm(optimizer: torch.optim.Optimizer) -> float:
    """The L2 norm of every gradient the optimizer holds, as one vector (one fused pass over them)."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    return float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0


def _derived_seed(phase_seed: int, m: int, stream: str) -> int:
    digest = hashlib.sha256(f"{phase_seed}:{m}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class Phase:
    """One optimizer step over the global batch: `loss_of(m, n)` is micro-batch m's loss (its mean over the
    micro-batch) and logs; the step minimises their mean over the n = M micro-batches.

    `networks` are the modules whose buffers forward passes may update; `objective` the state holder whose
    random stream seeds the micro-batches (`rng`) and whose `pl_mean` is updated by forward passes too."""

    def __init__(self, ranks: Ranks, n_micro: int, networks: Sequence[nn.Module], objective: Any,
                 device: torch.device) -> None:
        if n_micro % ranks.world:
            raise ValueError(f"{n_micro} micro-batches cannot be shared among {ranks.world} ranks")
        self.ranks, self.n_micro, self.objective, self.device = ranks, n_micro, objective, device
        # `.data`: aliases outside autograd's version counters, so that restoring the buffers between micro-batches
        # (and taking the last rank's) leaves valid the graphs of earlier micro-batches that saved them: G's
        # graph from the D phase lives until G's step under g_on_d_fakes, and BatchNorm saves its running
        # statistics, which its training-mode backward never reads
        self.buffers = [b.data for net in networks for b in net.buffers()]

    def run(self, optimizer: torch.optim.Optimizer,
            loss_of: Callable[[int, int], tuple[torch.Tensor, dict[str, float]]],
            grad_norm: str | None = None) -> dict[str, float]:
        """The step; its logs are the micro-batches' means, plus under the key `grad_norm` (if given) the L2 norm of
        the whole gradient the optimizer steps with (a health signal: exploding or vanishing updates)."""
        if self.n_micro == 1:
            loss, logs = loss_of(0, 1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_norm:
                logs[grad_norm] = _gradient_norm(optimizer)
            optimizer.step()
            return logs
        objective, n = self.objective, self.n_micro
        phase_seed = int(torch.randint(2**62, (1,), generator=objective.rng))
        start = [b.clone() for b in self.buffers]
        start_pl_mean = objective.pl_mean
        optimizer.zero_grad(set_to_none=True)
        rows, keys = [], None
        for i, m in enumerate(self.ranks.share(n)):
            if i:
                for b, value in zip(self.buffers, start, strict=True):
                    b.copy_(value)
                objective.pl_mean = start_pl_mean
            with self._micro_batch_random_streams(phase_seed, m):
                loss, logs = loss_of(m, n)
                (loss / n).backward()
            keys = keys or sorted(logs)
            rows.append([float(logs[k]) for k in keys])
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        self.ranks.sum_gradients(parameters)
        pl_mean = torch.tensor([objective.pl_mean], dtype=torch.float64, device=self.device)
        self.ranks.take_from_last([*self.buffers, pl_mean])
        objective.pl_mean = float(pl_mean.item())
        norm = _gradient_norm(optimizer) if grad_norm else None  # of the summed gradient: the same on every rank
        optimizer.step()
        every = self.ranks.gather_rows(torch.tensor(rows, dtype=torch.float64, device=self.device)).tolist()
        means = []
        for column in zip(*every, strict=True):
            total = 0.0
            for value in column:  # in micro-batch order, whatever the ranks
                total += value
            means.append(total / n)
        logs = dict(zip(keys or [], means, strict=True))
        if grad_norm:
            logs[grad_norm] = norm
        return logs

    @contextlib.contextmanager
    def _micro_batch_random_streams(self, phase_seed: int, m: int) -> Iterator[None]:
        """Torch's global stream and the objective's stream, seeded by (phase, micro-batch) for its duration;
        the global stream is left where it was."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        saved_rng = self.objective.rng
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(_derived_seed(phase_seed, m, "global"))
            self.objective.rng = torch.Generator().manual_seed(_derived_seed(phase_seed, m, "objective"))
            try:
                yield
            finally:
                self.objective.rng = saved_rng


# --- starting the ranks


def ranks_from_environment() -> Ranks:
    """The ranks torchrun (or our launcher) describes in the environment; rank 0 of 1 without them."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Ranks(rank=int(os.environ.get("RANK", "0")), world=world)


def rank_device(device: torch.device) -> torch.device:
    """A rank's device: cuda:LOCAL_RANK for CUDA runs."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def join(ranks: Ranks, device: torch.device) -> bool:
    """Join the process group of a run on several ranks (NCCL on CUDA, gloo on CPU); False when there is
    nothing to join (one rank, or a group the caller made)."""
    if ranks.world == 1 or dist.is_initialized():
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:
        threads = os.environ.get("OMP_NUM_THREADS")
        local = int(os.environ.get("LOCAL_WORLD_SIZE", ranks.world))
        torch.set_num_threads(int(threads) if threads else max(1, (os.cpu_count() or 1) // local))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ranks.rank, world_size=ranks.world)
    return True


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def check_ranks(run, n: int) -> None:
    """A run can be shared among n ranks when its micro-batches can (refused before any rank starts)."""
    if n == 1:
        return
    batch, micro_batch = run.variant.recipe.batch, run.train.get("micro_batch")
    m = micro_batches(batch, micro_batch)
    where = f"profiles.{run.profile}.{run.run.dataset}.train.micro_batch"
    if m % n:
        hint = f"set {where} to {batch // n} or another divisor of {batch} that gives a multiple of {n} micro-batches"
        raise ConfigError(f"params.yaml: {where}: {run.run} trains batches of {batch} in {m} micro-batch"
                          f"{'es' if m > 1 else ''}, which {n} ranks cannot share; {hint} (the micro-batch, not "
                          "the number of ranks, decides the result)")
