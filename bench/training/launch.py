"""`gbench train`: one run in this process, or on N ranks that it starts and watches.

The ranks are `gbench train` processes with torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR=127.0.0.1, a free MASTER_PORT); a process that finds that environment set (by this launcher
or by torchrun itself) is a rank and trains its share (bench/training/distributed.py). The launcher holds
the run's lock for its ranks, refuses a run whose micro-batches N ranks cannot share before starting any,
and stops every rank as soon as one fails, so a dead rank never leaves the others waiting in a collective.
Every rank dies with its parent (bench/protocol/process.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.protocol.errors import UserError
from bench.training.distributed import check_ranks, ranks_from_environment

LOCKED_BY_LAUNCHER = "GBENCH_RUN_LOCKED"  # set for the ranks a launcher started: it holds the run's lock


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_or_train(run_text: str, root: Path, protocol, device: str | None, restart: bool,
                    nproc: int | None) -> int:
    """`gbench train`: train the run here, or start `nproc` ranks of it and wait for them."""
    from bench.protocol.process import die_with_parent, run_lock
    from bench.protocol.resolve import resolve
    from bench.protocol.runs import RunId
    from bench.training.loop import train

    run = RunId.parse(run_text)
    die_with_parent()
    started_as_rank = "WORLD_SIZE" in os.environ
    if started_as_rank:
        ranks = ranks_from_environment()
        if nproc is not None and nproc != ranks.world:
            raise UserError(f"--nproc {nproc} disagrees with WORLD_SIZE={ranks.world} of the launcher that "
                            "started this rank; leave --nproc out under torchrun")
        lock = (run_lock(root, str(run), "train") if ranks.rank == 0 and not os.environ.get(LOCKED_BY_LAUNCHER)
                else contextlib.nullcontext())
        with lock:
            out = train(run, root, device, protocol, restart, ranks=ranks)
        if ranks.writes and not os.environ.get(LOCKED_BY_LAUNCHER):
            print(f"trained into {out}")
        return 0
    params = protocol.params if protocol is not None else {}
    n = nproc if nproc is not None else int(params.get("nproc", 1))
    if n < 1:
        raise UserError(f"--nproc {n}: the number of ranks must be an integer >= 1")
    check_ranks(resolve(run, root, protocol), n)
    with run_lock(root, str(run), "train"):
        if n == 1:
            out = train(run, root, device, protocol, restart)
            print(f"trained into {out}")
            return 0
        code = _start_ranks(run_text, root, device, restart, n)
    if code == 0:
        print(f"trained into {run.folder(root) / 'train'} on {n} ranks")
    return code


def _start_ranks(run_text: str, root: Path, device: str | None, restart: bool, n: int) -> int:
    """Start n rank processes of `gbench train` with torchrun's environment; the first to fail stops the rest."""
    base = {**os.environ, "WORLD_SIZE": str(n), "LOCAL_WORLD_SIZE": str(n), "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(_free_port()), LOCKED_BY_LAUNCHER: "1"}
    argv = [sys.executable, "-m", "bench.cli", "--root", str(root), "train", run_text,
            *(["--device", device] if device else []), *(["--restart"] if restart else [])]
    procs = [subprocess.Popen(argv, env={**base, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in range(n)]
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [c for c in codes if c not in (None, 0)]
            if failed or all(c == 0 for c in codes):
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait()
    return failed[0] if failed else 0
