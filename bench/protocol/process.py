"""What a stage process owes the pipeline around it: it dies with its parent, and it is the only one working
on its run.

`die_with_parent()`: on Linux the kernel sends SIGTERM to the stage when the process that started it (dvc,
or a shell) dies, so killing `dvc repro` leaves no trainer behind to race the next one. `run_lock(...)`:
an exclusive lock per run and stage, held for the life of the process (the kernel releases it when the
process dies, even by SIGKILL), so a second `gbench train` of the same run is refused at once. The lock
files live in results/.locks/, outside every DVC output and dependency.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.protocol.errors import UserError

PR_SET_PDEATHSIG = 1


class RunBusy(UserError):
    """Another process holds the run's lock."""


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent dies (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def lock_path(root: Path, run: str, stage: str) -> Path:
    return root / "results" / ".locks" / f"{run}.{stage}.lock"


@contextlib.contextmanager
def run_lock(root: Path, run: str, stage: str) -> Iterator[None]:
    """Hold the exclusive lock of `stage` of `run`; RunBusy names the process that holds it."""
    import fcntl

    path = lock_path(root, run, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise RunBusy(f"another process (pid {holder}) is running the {stage} stage of {run}; wait for it to "
                          f"finish or stop it (`kill {holder}`), then run this again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
