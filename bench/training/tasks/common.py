"""Pieces the image-to-image task kinds (translation, tokenizer) share: building a network from a factory with the
settings it takes, images as tensors, one optimizer step, and the refusal of ranks and micro-batches for kinds whose
state is per process."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn as nn

from bench.protocol.errors import ConfigError
from bench.training.distributed import Ranks, micro_batches

if TYPE_CHECKING:
    from bench.protocol.resolve import ResolvedRun


def build(factory, **settings) -> nn.Module:
    """A network from its factory with the settings it takes (a variant's arch holds both networks' keys)."""
    accepted = inspect.signature(factory).parameters
    return factory(**{k: v for k, v in settings.items() if k in accepted})


def as_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 images -> float in [-1, 1]."""
    return torch.from_numpy(images).float() / 127.5 - 1.0


def minimise(optimizer: torch.optim.Optimizer, loss: torch.Tensor, optimise: bool = True) -> None:
    """Backward `loss` into fresh gradients and step (`optimise` False: gradients only, for a FLOP count)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if optimise:
        optimizer.step()


def require_one_process(run: ResolvedRun, ranks: Ranks, micro_batch: int | None, kind: str, why: str) -> None:
    """Refuse several ranks or micro-batches for a kind whose training state is per process (`why`)."""
    if ranks.world > 1 or micro_batches(run.variant.recipe.batch, micro_batch) > 1:
        raise ConfigError(f"{run.run}: {kind} runs train in one process without micro-batches ({why}); drop nproc "
                          "and micro_batch for it")
