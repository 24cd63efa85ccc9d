"""Seeds and determinism: every random stream of a run derives from its seed and a stream name."""

from __future__ import annotations

import hashlib
import os

import torch


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for one named random stream (weights, data, latents, eval, ...) of a run."""
    digest = hashlib.sha256(f"{seed}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def generator(seed: int, stream: str) -> torch.Generator:
    return torch.Generator().manual_seed(stream_seed(seed, stream))


def make_deterministic() -> None:
    """Same seed + same machine type => identical outputs (DESIGN.md, Protocol)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
