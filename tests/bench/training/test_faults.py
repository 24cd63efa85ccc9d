"""Faults a train or evaluate stage must survive: a corrupt checkpoint, a second process on the same run,
its parent killed, a run that finished but was never recorded. Each case checks the message and that nothing
computed is lost."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from bench.measurement.evaluate import evaluate
from bench.protocol.process import run_lock
from bench.protocol.runs import RunId
from bench.training.checkpoint import CHECKPOINT, CorruptCheckpoint, load_checkpoint
from bench.training.loop import resume_dir, train
from tests.conftest import REPO, write_params

RUN = RunId.parse("t/ring8/mlp-gan/s0")
LONG = {"ring8": {"train": {"kimg": 12, "checkpoint_every_kimg": 2, "curve_every_kimg": 4, "width": 0.25}}}


def _cli(root, *args, **popen):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "bench.cli", "--root", str(root), *args], env=env, **popen)


def _bytes(root):
    folder = RUN.folder(root) / "train"
    return [(folder / name).read_bytes() for name in (CHECKPOINT, "curve.json", "curve_samples.npz")]


def test_a_truncated_checkpoint_is_detected_and_training_starts_afresh_to_the_same_result(bench_root, capsys,
                                                                                           tmp_path_factory):
    write_params(bench_root, ring8={"train": {"kimg": 4, "checkpoint_every_kimg": 2, "curve_every_kimg": 2}})
    train(RUN, bench_root)
    expected = _bytes(bench_root)
    ckpt = resume_dir(bench_root, RUN) / CHECKPOINT  # the state a restarted stage resumes from
    ckpt.write_bytes(ckpt.read_bytes()[: len(ckpt.read_bytes()) // 2])
    with pytest.raises(CorruptCheckpoint, match="does not match its checksum"):
        load_checkpoint(ckpt)
    train(RUN, bench_root)
    err = capsys.readouterr().err
    assert "checkpoint.pt does not match its checksum in checkpoint.pt.sha256 (truncated or corrupt); starting " \
           "t/ring8/mlp-gan/s0 afresh" in err
    assert _bytes(bench_root) == expected


def test_evaluate_refuses_a_corrupt_finished_checkpoint_with_the_fix(bench_root):
    write_params(bench_root, ring8={"train": {"kimg": 1, "checkpoint_every_kimg": 1, "curve_every_kimg": 1}})
    train(RUN, bench_root)
    ckpt = RUN.folder(bench_root) / "train" / CHECKPOINT
    ckpt.write_bytes(ckpt.read_bytes()[:-10])
    with pytest.raises(CorruptCheckpoint, match=r"truncated or corrupt\); train the run again \(`gbench train RUN "
                                                r"--restart`"):
        evaluate(RUN, bench_root)
    process = _cli(bench_root, "evaluate", str(RUN), stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2 and "gbench evaluate: error:" in err and "Traceback" not in err


def test_a_second_process_on_the_same_run_is_refused(bench_root):
    with run_lock(bench_root, str(RUN), "train"):
        process = _cli(bench_root, "train", str(RUN), stderr=subprocess.PIPE, text=True)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert f"another process (pid {os.getpid()}) is running the train stage of {RUN}" in err
    assert not (RUN.folder(bench_root) / "train" / CHECKPOINT).exists()  # it touched nothing
    assert not (resume_dir(bench_root, RUN) / CHECKPOINT).exists()


def test_a_trainer_dies_with_its_parent(bench_root):
    """kill -9 of whatever started the stage must not leave a trainer running on the folder. The launcher starts
    the stage as DVC does, through `sh -c` with the pipeline's `exec gbench ...` command."""
    import shlex

    write_params(bench_root, ring8={"train": {"kimg": 200, "checkpoint_every_kimg": 2, "curve_every_kimg": 50}})
    command = f"exec {shlex.quote(sys.executable)} -m bench.cli --root {shlex.quote(str(bench_root))} train '{RUN}'"
    launcher = (f"import os, subprocess, time\nenv = {{**os.environ, 'PYTHONPATH': {str(REPO)!r}}}\n"
                f"child = subprocess.Popen({command!r}, shell=True, executable='/bin/sh', env=env, "
                "stderr=subprocess.DEVNULL)\nprint(child.pid, flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    ckpt = resume_dir(bench_root, RUN) / CHECKPOINT
    deadline = time.monotonic() + 120
    while not ckpt.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with open(f"/proc/{child}/cmdline", "rb") as cmdline:  # `exec`: the shell became the trainer
        assert b"bench.cli" in cmdline.read()
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the trainer outlived its parent")
    assert not load_checkpoint(ckpt)["finished"]  # stopped mid-run; its last checkpoint is intact


def test_a_finished_run_of_the_same_inputs_is_kept_not_trained_again(bench_root, capsys):
    write_params(bench_root, ring8={"train": {"kimg": 2, "checkpoint_every_kimg": 1, "curve_every_kimg": 1}})
    train(RUN, bench_root)
    state = resume_dir(bench_root, RUN) / CHECKPOINT
    before, mtime = _bytes(bench_root), state.stat().st_mtime_ns
    capsys.readouterr()
    shutil.rmtree(RUN.folder(bench_root) / "train")  # DVC removes a stage's outputs before it runs it again
    train(RUN, bench_root)  # as when dvc was killed after the stage finished, before it recorded it
    assert "is already trained from these inputs (config, data, code): kept" in capsys.readouterr().err
    assert state.stat().st_mtime_ns == mtime and _bytes(bench_root) == before  # published again, not trained
    train(RUN, bench_root, restart=True)
    assert state.stat().st_mtime_ns != mtime and _bytes(bench_root) == before  # retrained: the same bytes again
    write_params(bench_root, ring8={"train": {"kimg": 1, "checkpoint_every_kimg": 1, "curve_every_kimg": 1}})
    train(RUN, bench_root)  # another config: trained
    assert "kept" not in capsys.readouterr().err

