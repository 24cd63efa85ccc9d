"""The warm server (bench/protocol/warm.py): a stage forked from it must behave as the cold process would, in
its output, exit status, signals, locks and numbers, and a server whose imports went stale must not be used."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bench.protocol import warm

REPO = Path(__file__).resolve().parents[3]

STAGE = textwrap.dedent("""
    import fcntl, os, signal, sys, time

    def main():
        what = sys.argv[1]
        if what == "echo":
            print("argv", sys.argv[1:], "cwd", os.getcwd(), "X", os.environ.get("X"))
            print("to stderr", file=sys.stderr)
            return int(sys.argv[2])
        if what == "raise":
            raise RuntimeError("boom")
        if what == "exit-message":
            sys.exit("a message")
        if what == "sleep":
            time.sleep(float(sys.argv[2]))
            return 0
        if what == "interrupt":
            raise KeyboardInterrupt
        if what == "die-by-signal":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        if what in ("hold", "trap"):
            handle = open(sys.argv[2], "a")
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if what == "trap":
                signal.signal(signal.SIGTERM, lambda *_: (print("trapped", flush=True), os._exit(7)))
            print("held", flush=True)
            time.sleep(60)
        if what == "try-lock":
            handle = open(sys.argv[2], "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print("busy")
                return 0
            print("free")
            return 0
        if what == "numbers":
            import numpy, torch
            torch.set_num_threads(2)
            g = torch.Generator().manual_seed(0)
            x = torch.randn(64, 16, 32, 32, generator=g)
            w = torch.randn(32, 16, 3, 3, generator=g)
            y = torch.nn.functional.conv2d(x, w).flatten(1) @ torch.randn(32 * 30 * 30, 64, generator=g)
            a = numpy.random.default_rng(0).standard_normal((300, 300))
            print(y.double().sum().item().hex(), (a @ a).sum().hex(), torch.get_num_threads())
            return 0
        return 3
""")

CLIENT = ("import sys; from pathlib import Path; from bench.protocol import warm; "
          "code = warm.run(sys.argv[2:], path=Path(sys.argv[1])); sys.exit(200 if code is None else code)")


def start_server(tmp_path: Path, idle_s: float = 60) -> tuple[Path, subprocess.Popen]:
    """A warm server on a socket in tmp_path whose workers run the tests' `stage_under_test.main`, its imports
    (torch, numpy and a module of the test's) loaded."""
    (tmp_path / "stage_under_test.py").write_text(STAGE)
    (tmp_path / "preloaded_dep.py").write_text("VALUE = 1\n")
    path = tmp_path / "s.sock"
    code = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); from bench.protocol.warm import serve; "
            "serve(sys.argv[2], preload=('numpy', 'torch', 'preloaded_dep'), idle_s=float(sys.argv[3]), "
            "entry='stage_under_test:main')")
    process = subprocess.Popen([sys.executable, "-c", code, json.dumps([str(tmp_path), *sys.path]), str(path),
                                str(idle_s)], cwd="/")
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), "the server did not start"
    return path, process


@pytest.fixture
def server(tmp_path):
    path, process = start_server(tmp_path)
    yield path
    process.kill()
    process.wait()


def client(path: Path, *argv: str, cwd: Path | None = None, env: dict | None = None, **popen):
    return subprocess.Popen([sys.executable, "-c", CLIENT, str(path), "gbench", *argv], cwd=cwd,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def test_the_worker_gets_the_clients_argv_cwd_environment_streams_and_exit_status(server, tmp_path):
    code, out, err = finished(client(server, "echo", "5", cwd=tmp_path, env={"X": "from the client"}))
    assert code == 5
    assert out == f"argv ['echo', '5'] cwd {tmp_path} X from the client\n"
    assert err == "to stderr\n"


def test_an_exception_and_a_message_exit_as_the_interpreter_would_end_them(server):
    code, _, err = finished(client(server, "raise"))
    assert code == 1 and "RuntimeError: boom" in err and err.startswith("Traceback")
    code, _, err = finished(client(server, "exit-message"))
    assert (code, err) == (1, "a message\n")


def test_a_worker_killed_by_a_signal_ends_its_client_by_the_same_signal(server):
    code, _, _ = finished(client(server, "die-by-signal"))
    assert code == -signal.SIGTERM
    code, _, err = finished(client(server, "interrupt"))  # as an uncaught KeyboardInterrupt ends Python
    assert code == -signal.SIGINT and "KeyboardInterrupt" in err


def test_a_stage_longer_than_the_idle_time_does_not_end_the_server(tmp_path):
    """Idle time counts from the end of the last stage: DVC's bookkeeping between two stages takes seconds."""
    path, process = start_server(tmp_path, idle_s=1.5)
    try:
        assert finished(client(path, "sleep", "3"))[0] == 0
        time.sleep(0.5)
        assert finished(client(path, "echo", "0"))[0] == 0  # 200 if the server had gone
        time.sleep(3)
        assert process.poll() == 0  # and it does end when idle
    finally:
        process.kill()
        process.wait()


def test_a_connection_that_is_not_a_stage_leaves_the_server_serving(server):
    import socket

    for payload in (b"", b"\x00\x00\x00\x05{}", b"\xff" * 10):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(server))
            sock.sendall(payload)
    assert finished(client(server, "echo", "4"))[0] == 4


def test_a_signal_to_the_client_reaches_the_worker(server, tmp_path):
    process = client(server, "trap", str(tmp_path / "lock"))
    assert process.stdout.readline() == "held\n"
    process.send_signal(signal.SIGTERM)
    code, out, _ = finished(process)
    assert (code, out) == (7, "trapped\n")


def test_a_killed_clients_worker_is_gone_before_the_next_stage_starts(server, tmp_path):
    """A run's lock (an flock) must be free for the stage that follows a killed one, as with a cold process."""
    lock = tmp_path / "lock"
    for _ in range(3):
        process = client(server, "hold", str(lock))
        assert process.stdout.readline() == "held\n"
        process.kill()
        process.wait()
        code, out, _ = finished(client(server, "try-lock", str(lock)))
        assert (code, out) == (0, "free\n")


def test_a_stage_whose_server_dies_fails_and_does_not_outlive_its_client(tmp_path):
    path, server_process = start_server(tmp_path)
    lock = tmp_path / "lock"
    process = client(path, "hold", str(lock))
    assert process.stdout.readline() == "held\n"
    server_process.kill()
    server_process.wait()
    code, _, err = finished(process)
    assert code == 1 and "warm server stopped" in err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the worker is gone soon after (SIGKILL from the client, SIGTERM from
        cold = subprocess.run([sys.executable, "-c", "import stage_under_test, sys; "  # the kernel)
                               "sys.argv = ['gbench', 'try-lock', sys.argv[1]]; stage_under_test.main()", str(lock)],
                              cwd=tmp_path, capture_output=True, text=True, check=True)
        if cold.stdout == "free\n":
            break
    assert cold.stdout == "free\n"


def test_a_forked_worker_computes_the_same_numbers_as_a_cold_process(server, tmp_path):
    """torch's thread pool and numpy's BLAS after fork from a server that imported both."""
    code, warm_out, _ = finished(client(server, "numbers"))
    assert code == 0
    cold = subprocess.run([sys.executable, "-c", "import stage_under_test, sys; sys.argv = ['gbench', 'numbers']; "
                           "stage_under_test.main()"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert warm_out == cold.stdout and warm_out.split()[-1] == "2"


def test_a_server_whose_imports_changed_refuses_and_exits(server, tmp_path):
    assert finished(client(server, "echo", "0"))[0] == 0
    (tmp_path / "preloaded_dep.py").write_text("VALUE = 22\n")  # as an edit or a pip install would
    assert finished(client(server, "echo", "0"))[0] == 200  # the caller then runs the stage cold
    deadline = time.monotonic() + 10
    while server.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.exists()


def test_only_dvc_stages_ask_for_a_server():
    assert warm.wanted({"DVC_STAGE": "train"})
    assert not warm.wanted({})
    assert not warm.wanted({"DVC_STAGE": "train", "GBENCH_WARM": "0"})
    assert not warm.wanted({"DVC_STAGE": "train", "WORLD_SIZE": "2"})  # a rank of a multi-process train stage


def test_the_server_key_ignores_what_dvc_sets_per_stage_and_nothing_else():
    base = {"PATH": "/bin", "HOME": "/root"}
    key = warm.server_key(base, sys.path)
    assert warm.server_key({**base, "DVC_STAGE": "a", "DVC_ROOT": "/r", "PWD": "/x"}, sys.path) == key
    assert warm.server_key({**base, "OMP_NUM_THREADS": "1"}, sys.path) != key
    assert warm.server_key(base, ["/elsewhere", *sys.path]) != key


def test_a_real_train_stage_run_warm_writes_the_bytes_of_the_cold_run(bench_root, tmp_path_factory):
    """`gbench train` as DVC starts it: cold (which starts the server), then warm in a second root."""
    from tests.conftest import second_root

    def outputs(root: Path) -> dict[str, str]:
        """Every file the stage wrote, by digest; the records of seconds and memory spent, without those."""
        found = {}
        for path in sorted((root / "results").glob("t/ring8/mlp-gan/s0/train/**/*")):
            if path.name in ("cost.json", "progress.json"):
                record = {k: v for k, v in json.loads(path.read_text()).items()
                          if not k.endswith("_s") and k not in ("img_per_s", "peak_rss_mb")}
                found[path.name] = json.dumps(record, sort_keys=True)
            elif path.is_file():
                found[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found

    sockets = tmp_path_factory.mktemp("runtime")  # this test's own server: XDG_RUNTIME_DIR holds its socket
    env = {**os.environ, "DVC_STAGE": "train", "XDG_RUNTIME_DIR": str(sockets)}
    gbench = str(Path(sys.executable).parent / "gbench")
    subprocess.run([gbench, "--root", str(bench_root), "train", "t/ring8/mlp-gan/s0"], env=env, check=True,
                   capture_output=True)
    deadline = time.monotonic() + 120
    while not list(sockets.glob("*/*.sock")) and time.monotonic() < deadline:
        time.sleep(0.1)
    [path] = sockets.glob("*/*.sock")  # the first stage started one server
    other = second_root(bench_root, tmp_path_factory)
    subprocess.run([gbench, "--root", str(other), "train", "t/ring8/mlp-gan/s0"], env=env, check=True,
                   capture_output=True)
    log = path.with_suffix(".log").read_text()
    assert f"--root {other} train t/ring8/mlp-gan/s0" in log, "the second stage did not run warm"
    assert outputs(other) == outputs(bench_root)
    assert {"checkpoint.pt", "curve.json", "curve_samples.npz", "cost.json"} <= set(outputs(other))

