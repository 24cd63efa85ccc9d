"""Faults around the real `dvc` process, on a copy of the repository (smoke profile): `dvc repro` killed with
SIGKILL while a stage trains, and two `dvc repro` at once, on the same stage and on different stages. Each
case checks what the user is told and that nothing computed is lost."""

import json
import shutil
import subprocess
import time

import psutil
import pytest

from bench.protocol.runs import RunId
from bench.training.checkpoint import CHECKPOINT, CorruptCheckpoint, load_checkpoint
from bench.training.loop import resume_dir
from tests.conftest import copy_of_the_repository

PIPELINE = "pipelines/ring8/dvc.yaml"
S0, S1 = (RunId.parse(f"leaderboard/ring8/mlp-gan/s{seed}") for seed in (0, 1))
# long enough to be caught mid-run (about 15 s a run on 2 cores), a checkpoint every 0.5 kimg; a stage per run
LONG = {"ring8": {"train": {"kimg": 32, "checkpoint_every_kimg": 0.5, "curve_every_kimg": 8}}, "group_runs": False}


def stage(run: RunId) -> str:
    return f"{PIPELINE}:train-leaderboard-mlp-gan@mlp-gan-s{run.seed}"


def dvc(root, env, *args, check=True) -> tuple[int, str]:
    """`dvc ARGS` in the copy: its exit code and its output (the stage's stderr comes through dvc's)."""
    result = subprocess.run(["dvc", *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert not check or result.returncode == 0, f"dvc {args} failed:\n{result.stdout[-3000:]}"
    return result.returncode, result.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    root, env = copy_of_the_repository(tmp_path_factory.mktemp("faults"), smoke=LONG)
    dvc(root, env, "repro", f"{PIPELINE}:prepare")
    return root, env


def start_training(root, env, run: RunId) -> subprocess.Popen:
    """The run's train stage run again from nothing (its resume folder removed; `--single-item`: not its upstream
    stages, which `--force` would also run), in the background."""
    shutil.rmtree(resume_dir(root, run), ignore_errors=True)
    return subprocess.Popen(["dvc", "repro", "--force", "--single-item", stage(run)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_progress(root, run: RunId, process: subprocess.Popen, kimg: float) -> dict:
    """The run's checkpoint once it holds at least `kimg` of training (the stage still running)."""
    path, deadline = resume_dir(root, run) / CHECKPOINT, time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0][-3000:]
        try:
            saved = load_checkpoint(path)
            if saved["finished"]:
                pytest.fail(f"{run} finished before the test could interrupt it; make LONG longer")
            if json.loads(saved["state"])["images"] >= kimg * 1000:
                return saved
        except (FileNotFoundError, CorruptCheckpoint):  # not written yet, or caught between its two files
            pass
        time.sleep(0.05)
    pytest.fail(f"{run} wrote no checkpoint of {kimg} kimg in 300 s")


def trainers_of(process: subprocess.Popen) -> list[psutil.Process]:
    return [p for p in psutil.Process(process.pid).children(recursive=True) if "train" in p.cmdline()]


def test_kill_9_of_dvc_repro_leaves_no_trainer_and_the_next_repro_resumes(copy):
    root, env = copy
    first = start_training(root, env, S0)
    wait_for_progress(root, S0, first, kimg=2)
    trainers = trainers_of(first)
    assert len(trainers) == 1
    first.kill()  # SIGKILL: dvc cannot clean up, record the stage or stop its child
    first.communicate()
    _, alive = psutil.wait_procs(trainers, timeout=30)
    for orphan in alive:
        orphan.kill()
    assert not alive, "the trainer outlived the dvc process that started it"
    saved = load_checkpoint(resume_dir(root, S0) / CHECKPOINT)  # the last checkpoint is intact
    kimg = json.loads(saved["state"])["images"] / 1000
    assert kimg >= 2 and not saved["finished"]

    _, output = dvc(root, env, "repro", stage(S0))
    assert f"resuming {S0} at {kimg:.2f} kimg" in output  # nothing trained before the kill is trained again
    assert "up to date" in dvc(root, env, "status", stage(S0))[1]
    resumed = (S0.folder(root) / "train" / CHECKPOINT).read_bytes()
    subprocess.run(["gbench", "train", str(S0), "--restart"], cwd=root, env=env, check=True, capture_output=True)
    assert (resume_dir(root, S0) / CHECKPOINT).read_bytes() == resumed  # the same bytes as an uninterrupted run


def test_two_dvc_repro_at_once(copy):
    """While one `dvc repro` trains: DVC refuses a second on the same stage, and one on a different stage that
    would check the same upstream stage (prepare), each naming the first; with `--single-item` a different stage
    runs beside it, and DVC records both in the one dvc.lock they share. The first finishes untouched."""
    root, env = copy
    first = start_training(root, env, S0)
    wait_for_progress(root, S0, first, kimg=0.5)
    blocked = f"is busy, it is being blocked by:\n  (PID {first.pid}): "
    for args in (["--force", "--single-item", stage(S0)], [stage(S1)]):
        code, refused = dvc(root, env, "repro", *args, check=False)
        assert code != 0 and blocked in refused and "Running stage" not in refused, refused
    _, other = dvc(root, env, "repro", "--single-item", stage(S1))
    assert f"Running stage '{stage(S1)}'" in other
    output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output[-3000:]
    assert "resuming" not in output  # the refused repros did not touch the first's run
    _, status = dvc(root, env, "status", stage(S0), stage(S1))
    assert "up to date" in status, status
    for run in (S0, S1):
        assert load_checkpoint(run.folder(root) / "train" / CHECKPOINT)["finished"]


def test_a_stage_done_elsewhere_is_restored_from_the_run_cache(copy):
    """No stage output is `persist`, so DVC's run-cache restores a train stage: with its outputs, its resume
    folder and the pipeline's dvc.lock gone (as in a fresh clone that pulled the cache), `dvc repro` checks the
    outputs out and runs nothing."""
    root, env = copy
    dvc(root, env, "repro", "--single-item", stage(S1))
    trained = (S1.folder(root) / "train" / CHECKPOINT).read_bytes()
    shutil.rmtree(S1.folder(root) / "train")
    shutil.rmtree(resume_dir(root, S1), ignore_errors=True)
    (root / PIPELINE).with_name("dvc.lock").unlink()
    _, output = dvc(root, env, "repro", stage(S1))
    assert f"Stage '{stage(S1)}' is cached - skipping run, checking out outputs" in output, output
    assert "Running stage" not in output
    assert (S1.folder(root) / "train" / CHECKPOINT).read_bytes() == trained
