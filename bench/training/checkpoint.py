"""The train stage's checkpoint file: written atomically with its sha256 beside it, read with
`weights_only=True` after the checksum is verified.

It holds everything a resume restores (the task kind's networks, optimizers and random streams, the
loop's progress) and the config hash of the run it belongs to; `finished` marks the run's last one (the
budget spent, or the run diverged). A file that does not match its checksum, or does not load, is corrupt
(a truncated copy, a disk fault): training starts afresh with a warning, evaluation refuses it.

The checkpoint and its checksum are two files, each replaced atomically, so replacing them is a small
protocol: the checksum file first lists the new hash and the old one (the new one alone before a run's first
checkpoint), then the checkpoint is replaced, then the old hash is dropped. A process killed, or a disk full,
at any point leaves either no checkpoint or one whose hash is listed: the old one or the new one, never neither.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from bench.protocol.errors import ResultsError
from bench.protocol.io import write_bytes, write_text

CHECKPOINT = "checkpoint.pt"
CHECKSUM = CHECKPOINT + ".sha256"


class CorruptCheckpoint(ResultsError):
    """A checkpoint that does not match its checksum or cannot be loaded."""


def _listed(checksum: Path) -> list[str]:
    return checksum.read_text().split() if checksum.is_file() else []


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    checksum, new = path.with_name(path.name + ".sha256"), hashlib.sha256(data).hexdigest()
    if path.is_file():
        old = hashlib.sha256(path.read_bytes()).hexdigest()
        if old in _listed(checksum):
            write_text(checksum, f"{new}\n{old}\n")
    else:  # the first one too: never a checkpoint without its checksum (a kill there lost a run's first interval)
        write_text(checksum, new + "\n")
    write_bytes(path, data)
    write_text(checksum, new + "\n")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint after its checksum is verified; CorruptCheckpoint says what is wrong with it."""
    checksum = path.with_name(path.name + ".sha256")
    data = path.read_bytes()
    if not checksum.is_file():
        raise CorruptCheckpoint(f"{path} has no checksum file {checksum.name} beside it")
    if hashlib.sha256(data).hexdigest() not in _listed(checksum):
        raise CorruptCheckpoint(f"{path} does not match its checksum in {checksum.name} (truncated or corrupt)")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (any unreadable file is the same fault for the user)
        raise CorruptCheckpoint(f"{path} cannot be loaded ({type(exc).__name__}: {exc})") from None


def finished_checkpoint(train_dir: Path, config_hash: str) -> dict[str, Any]:
    """The finished checkpoint of the run whose configuration hashes to `config_hash`, or an error saying
    how to get one."""
    path = train_dir / CHECKPOINT
    fix = "train the run again (`gbench train RUN --restart`, or `dvc repro --force` of its train stage)"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run the train stage first (`dvc repro`)")
    try:
        saved = load_checkpoint(path)
    except CorruptCheckpoint as exc:
        raise CorruptCheckpoint(f"{exc}; {fix}") from None
    if saved.get("config_hash") != config_hash or not saved.get("finished"):
        raise ResultsError(f"{train_dir} holds no finished checkpoint for this run's configuration "
                           f"({config_hash}); {fix}")
    return saved
