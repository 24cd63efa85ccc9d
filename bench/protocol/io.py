"""Atomic file writes and checksums.

Every stage writes its outputs through these helpers so that a crash or a SIGKILL never leaves a
half-written file behind: the content goes to a temporary file in the same folder and is renamed over
the target, which POSIX guarantees to be atomic.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)
TEMPORARY = ".*.tmp"  # what atomic_write leaves behind when a process dies mid-write


class DiskFull(OSError):
    """A write that found no space left on its device: the target is untouched and the partial file removed."""

    def __init__(self, path: Path):
        super().__init__(errno.ENOSPC, f"no space left on device writing {path}", str(path))

    def __str__(self) -> str:
        return self.strerror


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(path) from exc
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def remove_partial_writes(folder: Path) -> None:
    """Delete the temporary files of writes that a killed process never renamed into place (call it only while
    holding the lock of the stage that writes `folder`)."""
    for leftover in Path(folder).glob(TEMPORARY):
        leftover.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def json_safe(obj: Any) -> Any:
    """`obj` with every non-finite float as None: JSON has no NaN or Infinity (an undefined statistic, such as
    the std of one seed, is null). Whether a value may be undefined is decided where it is computed."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Valid JSON (non-finite floats as null), sorted keys, written atomically."""
    return write_text(path, json.dumps(json_safe(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def stable_hash(obj: Any, length: int = 12) -> str:
    """Short sha256 of a JSON-serialisable object with sorted keys (a config hash)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
