"""Warm start for stage processes: one server per environment keeps torch and friends imported, and forks a
worker for each `gbench` stage that DVC starts.

Every stage is its own process (DVC's model). Importing torch, torchvision, scipy, pandas, clean-fid and
matplotlib costs a stage 2-5 s of a 2-core CPU before it does any work (4.6 s for all of them), and tearing
them down at exit another ~1.4 s: minutes over a default `dvc repro` of ~140 stages.
Here the first stage of a `dvc repro` runs cold and starts a server in the background; the later ones connect
to it over a Unix socket, pass their argv, cwd, environment and standard streams (the file descriptors
themselves), and the server forks a worker that runs `bench.cli.main` exactly as the process would have.
The stage's exit status (or the signal that ended it) comes back to the `gbench` process DVC waits on.

What keeps a forked worker equal to a cold process:
- The server imports third-party packages only, never the harness's own modules (bench/, models/), so the
  code a stage runs is read from disk when the stage starts, as in a cold process. Before every fork the
  server checks that no file it imported has changed since (a `pip install`, an edited file), and when one
  has it exits and the stage runs cold.
- One server per interpreter, import path, interpreter flags and environment (minus the variables DVC and
  the shell set per stage), so nothing read at import time differs from what a cold stage would read.
- The server is single-threaded apart from BLAS's own pool, which re-initialises after fork; torch's
  intra-op pool and CUDA are never started in the server.
- A stage that is killed (SIGKILL, or its `dvc repro` dying) takes its worker with it before the server
  accepts another stage, so the run's lock (bench/protocol/process.py) is free again when the next `gbench`
  of the same run starts, as with a cold process. Signals sent to the `gbench` process are forwarded to the
  worker's process group.

Used only for processes DVC starts as stages (DVC sets DVC_STAGE) and never for a train stage's rank
processes; `GBENCH_WARM=0` turns it off (the cluster sweep does, its stages run in per-stage checkouts).
The server exits after IDLE_S seconds without a stage.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import hashlib
import json
import os
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

IDLE_S = 120.0
PRELOAD = ("numpy", "torch", "torch.nn.functional", "torchvision", "scipy.stats", "scipy.linalg", "pandas",
           "PIL.Image", "yaml", "jinja2", "cleanfid.fid", "matplotlib", "matplotlib.pyplot")
ENTRY = "bench.cli:main"
PER_STAGE_VARIABLES = frozenset({"DVC_STAGE", "DVC_ROOT", "PWD", "OLDPWD", "SHLVL", "_"})
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
_PR_SET_PDEATHSIG = 1
_in_worker = False


def wanted(environ: dict[str, str] | None = None) -> bool:
    """Whether this `gbench` process should ask a warm server to run it: a DVC stage, not a rank, not off."""
    env = os.environ if environ is None else environ
    return (not _in_worker and "DVC_STAGE" in env and env.get("GBENCH_WARM", "1") != "0"
            and "WORLD_SIZE" not in env and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds"))


def server_key(environ: dict[str, str], path: list[str]) -> str:
    """What a worker inherits from its server at import time: interpreter, flags, import path, environment."""
    kept = {k: v for k, v in environ.items() if k not in PER_STAGE_VARIABLES}
    text = json.dumps([sys.executable, sys.version, list(sys.flags), sys.warnoptions, sys._xoptions, path, kept],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def socket_path(key: str) -> Path:
    """The server's socket, in a directory only this user can enter."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"gbench-warm-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    info = base.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{base} is not private to this user")
    return base / f"{key}.sock"


# ---------------------------------------------------------------------------------------------------- client

def run(argv: list[str], path: Path | None = None) -> int | None:
    """Run this stage in the warm server (this process's own, or the one at `path`); its exit code, or None
    when it must run cold here (no server yet, a stale one, or any failure to hand it over)."""
    try:
        path = path or socket_path(server_key(dict(os.environ), sys.path))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
        except OSError:
            sock.close()
            _start_server(path)
            return None
        with sock:
            request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
            socket.send_fds(sock, [_frame(request)], [0, 1, 2])
            reply = _read_message(sock)
            if not reply or "pid" not in reply:
                return None
            return _wait_for_worker(sock, reply["pid"])
    except (OSError, ValueError):
        return None


def _wait_for_worker(sock: socket.socket, pid: int) -> int:
    """Forward signals to the worker until the server reports how it ended; end the same way."""
    def forward(signum, _frame):
        _kill_group(pid, signum)
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    _die_with_parent(signal.SIGTERM)
    try:
        result = _read_message(sock)
    except OSError:
        result = None
    if result is None:  # the server is gone; the stage must not outlive this process (it is never re-run cold)
        _kill_group(pid, signal.SIGKILL)
        print("gbench: the warm server stopped during the stage; run it again", file=sys.stderr)
        return 1
    if "signal" in result:
        signal.signal(result["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), result["signal"])
        return 128 + result["signal"]  # a signal whose default is to be ignored
    return result["exit"]


def _start_server(path: Path) -> None:
    """Start a server in the background unless one is starting; this stage does not wait for it."""
    if _locked(path.with_suffix(".lock")):
        return
    code = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
            "from bench.protocol.warm import serve; serve(sys.argv[2])")
    subprocess.Popen([sys.executable, *_interpreter_options(), "-c", code, json.dumps(sys.path), str(path)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
                     start_new_session=True, close_fds=True)


def _interpreter_options() -> list[str]:
    return [f"-W{w}" for w in sys.warnoptions] + [f"-X{k}" if v is True else f"-X{k}={v}"
                                                  for k, v in sys._xoptions.items()]


def _locked(lock_path: Path) -> bool:
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


# ---------------------------------------------------------------------------------------------------- server

def serve(path_text: str, preload: tuple[str, ...] = PRELOAD, idle_s: float = IDLE_S, entry: str = ENTRY) -> None:
    """Hold the key's lock, import `preload`, then fork a worker per stage until idle for `idle_s` seconds."""
    import importlib

    path = Path(path_text)
    lock = open(path.with_suffix(".lock"), "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another server for this key is starting or running
    with open(path.with_suffix(".log"), "w") as log:  # this server's stages, one line each
        os.dup2(log.fileno(), 2)
    for name in preload:
        module = importlib.import_module(name)
        if name == "matplotlib":  # the stages draw on the file-only backend and say so before importing pyplot
            module.use("Agg")
    _Server(path, lock, entry).loop(idle_s)


class _Server:
    """The listening socket and the stages in flight: pidfd -> (client connection, worker pid)."""

    def __init__(self, path: Path, lock, entry: str):
        self.path, self.lock, self.entry, self.pid = path, lock, entry, os.getpid()
        self.imported = _imported_files()
        self.stages: dict[int, tuple[socket.socket, int]] = {}
        path.unlink(missing_ok=True)
        self.listener: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        os.chmod(path, 0o600)
        self.listener.listen(64)

    def loop(self, idle_s: float) -> None:
        last_active = time.monotonic()
        try:
            while self.listener is not None or self.stages:
                busy = bool(self.stages)
                timeout = None if busy else max(0.0, last_active + idle_s - time.monotonic())
                ready = set(select.select(self._watched() + ([self.listener] if self.listener else []), [], [],
                                          timeout)[0])
                if busy:  # idle time counts from the end of the last stage, however long it ran
                    last_active = time.monotonic()
                if not ready and not self.stages:
                    break  # idle
                self._settle(ready)
                if self.listener is not None and self.listener in ready:
                    self._settle(set(select.select(self._watched(), [], [], 0)[0]))  # a client that died just now
                    self._accept()
                    last_active = time.monotonic()
        finally:
            if os.getpid() == self.pid and self.listener is not None:
                self.path.unlink(missing_ok=True)

    def _watched(self) -> list[int]:
        return [*self.stages, *(conn.fileno() for conn, _ in self.stages.values())]

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        try:
            request, fds = _receive_request(conn)
        except (OSError, ValueError, KeyError, struct.error):  # a client that died or was not one of ours
            conn.close()
            return
        if _changed(self.imported):  # this server's imports are not what a cold stage would import now
            for fd in fds:
                os.close(fd)
            _send(conn, {"stale": True})
            conn.close()
            self.listener.close()
            self.listener = None
            self.path.unlink(missing_ok=True)
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._become_worker(conn, request, fds)
        print(f"warm: stage {pid}: {shlex.join(request['argv'][1:])} (in {request['cwd']})", file=sys.stderr,
              flush=True)
        for fd in fds:
            os.close(fd)
        _send(conn, {"pid": pid})
        self.stages[os.pidfd_open(pid)] = (conn, pid)

    def _settle(self, ready: set) -> None:
        """Report workers that ended to their clients; kill and reap workers whose client is gone."""
        for pidfd, (conn, pid) in list(self.stages.items()):
            if pidfd in ready:
                _, status = os.waitpid(pid, 0)
                if os.WIFSIGNALED(status):
                    _send(conn, {"signal": os.WTERMSIG(status)})
                else:
                    _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            elif conn.fileno() in ready:  # the client hung up (killed) before its worker ended
                _kill_group(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            else:
                continue
            conn.close()
            os.close(pidfd)
            del self.stages[pidfd]

    def _become_worker(self, conn: socket.socket, request: dict, fds: list[int]) -> None:
        """In the forked child: drop the server's files, run the stage, exit as the interpreter would."""
        code = 1
        try:
            self.listener.close()
            self.lock.close()
            for pidfd, (other, _) in self.stages.items():
                os.close(pidfd)
                other.close()
            conn.close()
            code = _run_stage(request, fds, self.entry)
        except SystemExit as exc:
            code = exc.code
        except KeyboardInterrupt:  # the interpreter reports it, then ends by SIGINT
            sys.excepthook(*sys.exc_info())
            _exit_like_the_interpreter(1, by_signal=signal.SIGINT)
        except BaseException:  # noqa: BLE001 - reported as the interpreter would, then the exit status 1
            sys.excepthook(*sys.exc_info())
            code = 1
        _exit_like_the_interpreter(code)


def _exit_like_the_interpreter(code, by_signal: int | None = None) -> None:
    """End the worker as a cold process ends, less the teardown of every module: non-daemon threads joined,
    atexit handlers run, the streams flushed, SystemExit's code turned into a status. Tearing down torch's
    modules takes ~1.4 s here, and Python does not promise to finalise objects still alive at exit anyway."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    try:
        threading._shutdown()  # what the interpreter calls first at exit
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        if by_signal is not None:
            signal.signal(by_signal, signal.SIG_DFL)
            os.kill(os.getpid(), by_signal)
        os._exit(status & 0xFF)


def _receive_request(conn: socket.socket) -> tuple[dict, list[int]]:
    """The request and the client's three standard streams (file descriptors) that came with it."""
    message, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    try:
        length = struct.unpack("!I", message[:4])[0]
        rest = _read_exactly(conn, 4 + length - len(message)) if len(message) < 4 + length else b""
        if rest is None or len(fds) != 3:
            raise ValueError("an incomplete request")
        request = json.loads((message[4:] + rest).decode())
        if not {"argv", "cwd", "env"} <= request.keys():
            raise ValueError("a request without argv, cwd and env")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return request, list(fds)


def _run_stage(request: dict, fds: list[int], entry: str) -> int | str | None:
    import importlib

    global _in_worker
    _in_worker = True
    os.setsid()
    for signum in FORWARDED_SIGNALS:  # the interpreter's own: SIGINT raises KeyboardInterrupt, the rest default
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
    _die_with_parent(signal.SIGTERM)
    for target, fd in enumerate(fds):  # received descriptors are >= 3: the server's own 0-2 are open
        os.dup2(fd, target)
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.stdin, sys.stdout, sys.stderr = (_text_stream(fd, like) for fd, like in
                                         enumerate((sys.stdin, sys.stdout, sys.stderr)))
    sys.argv = request["argv"]
    module, function = entry.split(":")
    return getattr(importlib.import_module(module), function)()


def _text_stream(fd: int, like):
    """A standard stream on fd, buffered as the interpreter buffers it for this file (a tty or stderr: by
    line; PYTHONUNBUFFERED: not at all)."""
    import io

    if fd == 0:
        return io.TextIOWrapper(open(0, "rb", closefd=False), encoding=like.encoding, errors=like.errors)
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    raw = open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False)
    return io.TextIOWrapper(raw, encoding=like.encoding, errors=like.errors, newline="\n",
                            line_buffering=os.isatty(fd) or fd == 2, write_through=unbuffered)


def _kill_group(pid: int, signum: int) -> None:
    """Signal the worker's process group, or the worker alone if it has not made its group yet."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signum)
            return
        except ProcessLookupError:
            continue


def _imported_files() -> dict[str, tuple[int, int]]:
    files = {}
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if name and os.path.exists(name):
            info = os.stat(name)
            files[name] = (info.st_mtime_ns, info.st_size)
    return files


def _changed(imported: dict[str, tuple[int, int]]) -> bool:
    for name, (mtime, size) in imported.items():
        try:
            info = os.stat(name)
        except OSError:
            return True
        if (info.st_mtime_ns, info.st_size) != (mtime, size):
            return True
    return False


def _die_with_parent(signum: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)
        except (OSError, AttributeError):
            pass


def _frame(message: dict) -> bytes:
    data = json.dumps(message).encode()
    return struct.pack("!I", len(data)) + data


def _send(conn: socket.socket, message: dict) -> None:
    try:
        conn.sendall(_frame(message))
    except OSError:
        pass  # the client is gone


def _read_message(sock: socket.socket) -> dict | None:
    header = _read_exactly(sock, 4)
    if header is None:
        return None
    body = _read_exactly(sock, struct.unpack("!I", header)[0])
    return None if body is None else json.loads(body.decode())


def _read_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < n:
        try:
            chunk = sock.recv(n - len(chunks))
        except InterruptedError:
            continue
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)

