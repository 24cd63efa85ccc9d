"""Faults a train or evaluate stage must survive: a corrupt checkpoint, a second process on the same run,
its parent killed, a run that finished but was never recorded, kill -9 of evaluate, a full disk. Each case
checks the message and that nothing computed is lost."""

import contextlib
import json
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


DIE_BEFORE_RENAME = """import os, signal, sys
from pathlib import Path
import bench.protocol.io as io
rename = io.os.replace
def dying(source, target):  # killed between writing the file and renaming it into place
    if Path(target).name == sys.argv[1]:
        os.kill(os.getpid(), signal.SIGKILL)
    rename(source, target)
io.os.replace = dying
from bench.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_kill_9_of_evaluate_loses_nothing_and_leaves_no_half_result(bench_root):
    write_params(bench_root, ring8={"train": {"kimg": 1, "checkpoint_every_kimg": 1, "curve_every_kimg": 1},
                                    "evaluate": {"n_gen": 500}})
    train(RUN, bench_root)
    out = evaluate(RUN, bench_root)
    finished, scored = _bytes(bench_root), (out / "metrics.json").read_bytes()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", DIE_BEFORE_RENAME, "metrics.json", "--root", str(bench_root),
                             "evaluate", str(RUN)], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert (out / "curve.json").is_file() and not (out / "metrics.json").exists()  # never new files beside old metrics
    assert _bytes(bench_root) == finished  # the trained run is untouched
    evaluate(RUN, bench_root)
    assert (out / "metrics.json").read_bytes() == scored
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]  # the killed write's leftover is gone


def _mount_tmpfs(folder, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small tmpfs, and mounting one needs root (this test runs as "
                    f"uid {os.geteuid()})")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here for the full-disk case: {mounted.stderr.strip()}")


def test_a_full_disk_stops_training_with_the_fix_and_the_run_resumes_once_there_is_space(bench_root,
                                                                                        tmp_path_factory):
    """The resume folder on a small tmpfs; once the run has a checkpoint, the test fills the disk. The trainer
    must stop with one message (no traceback), leave its last checkpoint intact, and resume from it once space
    is freed, to the bytes of a run that never met a full disk."""
    params = {"ring8": {"train": {"kimg": 40, "checkpoint_every_kimg": 0.5, "curve_every_kimg": 10}}}
    reference = tmp_path_factory.mktemp("reference")
    shutil.copytree(bench_root, reference, dirs_exist_ok=True)
    write_params(reference, **params)
    train(RUN, reference)
    write_params(bench_root, **params)
    work = resume_dir(bench_root, RUN)
    _mount_tmpfs(work, "16m")
    try:
        process = _cli(bench_root, "train", str(RUN), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if json.loads(load_checkpoint(work / CHECKPOINT)["state"])["images"] >= 2000:
                    break
            except (FileNotFoundError, CorruptCheckpoint):
                pass
            time.sleep(0.02)
        filler = work / "filler"
        with open(filler, "wb") as handle:  # the disk fills up under the running trainer
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * (1 << 16))
                    handle.flush()
        _, err = process.communicate(timeout=120)
        assert process.returncode == 1, err[-2000:]
        assert "Traceback" not in err
        assert f"gbench train: error: no space left on device writing {work}/" in err
        assert "free some space and run it again: a train stage resumes from its last checkpoint" in err
        saved = load_checkpoint(work / CHECKPOINT)  # intact
        kimg = json.loads(saved["state"])["images"] / 1000
        assert kimg >= 2 and not saved["finished"]
        assert not [p.name for p in work.iterdir() if p.name.endswith(".tmp")]
        filler.unlink()
        resumed = _cli(bench_root, "train", str(RUN), stderr=subprocess.PIPE, text=True)
        _, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err[-2000:]
        assert f"resuming {RUN} at {kimg:.2f} kimg" in err
    finally:
        subprocess.run(["umount", "-l", str(work)], capture_output=True)
    folder = RUN.folder(bench_root) / "train"
    expected = RUN.folder(reference) / "train"
    for name in (CHECKPOINT, "curve.json", "curve_samples.npz"):
        assert (folder / name).read_bytes() == (expected / name).read_bytes(), name


def test_evaluate_refuses_a_checkpoint_copied_from_another_run(bench_root):
    """A train folder copied along under another run's name (config.json and all) is not scored as that run: the
    checkpoint carries the hash of the configuration it was trained under."""
    from bench.protocol.errors import ResultsError

    write_params(bench_root, ring8={"train": {"kimg": 1, "checkpoint_every_kimg": 1, "curve_every_kimg": 1}})
    train(RUN, bench_root)
    other = RunId.parse("t/ring8/mlp-gan/s1")
    shutil.copytree(RUN.folder(bench_root) / "train", other.folder(bench_root) / "train")
    with pytest.raises(ResultsError, match=r"holds no finished checkpoint for this run's configuration "
                                           r"\([0-9a-f]{12}\); train the run again"):
        evaluate(other, bench_root)
    assert not (other.folder(bench_root) / "eval" / "metrics.json").exists()
