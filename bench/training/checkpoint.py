"""The train stage's checkpoint file: written atomically, read with `weights_only=True`.

It holds everything a resume restores (the task kind's networks, optimizers and random streams, the
loop's progress) and the config hash of the run it belongs to; `finished` marks the run's last one.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from bench.protocol.io import write_bytes

CHECKPOINT = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def finished_checkpoint(train_dir: Path, config_hash: str) -> dict[str, Any]:
    """The finished checkpoint of the run whose configuration hashes to `config_hash`, or an error saying
    how to get one."""
    path = train_dir / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run the train stage first (`dvc repro`)")
    saved = load_checkpoint(path)
    if saved.get("config_hash") != config_hash or not saved.get("finished"):
        raise RuntimeError(f"{train_dir} holds no finished checkpoint for this run's configuration "
                           f"({config_hash}); re-run the train stage (`dvc repro`)")
    return saved
