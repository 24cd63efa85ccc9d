"""The pretrained weight files the networks read: their checksums (each checked before it is loaded) and the
TorchScript loading some of them need."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def load_torchscript(path: Path, device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """TorchScript archives hold tensors and TorchScript code, not pickles; load one only after its sha256 check."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # jit.load's deprecation notice
        return torch.jit.load(str(path), map_location=device).eval()
