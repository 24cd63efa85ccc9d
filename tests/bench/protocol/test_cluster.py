"""`gbench sweep` on a local Ray cluster of two nodes (ray.cluster_utils.Cluster, every address on 127.0.0.1), on a
copy of the repository (smoke profile) with a bare git origin and a local-directory DVC remote, swept on its ring8
part: every stage runs once and a fresh clone restores them all with `dvc repro --pull` running none; a Ray worker
killed mid-stage is retried to the same bytes; a failing stage is reported, not retried, and pushes nothing; the
remote holds only whole objects. Plus the checks a user meets before anything is submitted (exit 2, one line)."""

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from bench.cli import main
from bench.protocol import cluster
from bench.protocol.errors import UserError
from bench.protocol.runs import RunId
from bench.training.checkpoint import CHECKPOINT, CorruptCheckpoint, load_checkpoint
from bench.training.loop import resume_dir
from tests.conftest import copy_of_the_repository

PIPELINE = "pipelines/ring8/dvc.yaml"
TARGET = "leaderboard/ring8"  # prepare, 2 train and 2 evaluate stages (smoke: seeds 0 and 1), and their code stages
S0 = RunId.parse("leaderboard/ring8/mlp-gan/s0")
TRAIN_S0 = f"{PIPELINE}:train-leaderboard-mlp-gan@mlp-gan-s0"
CODE = {kind: f"dvc.yaml:code-{kind}" for kind in ("prepare", "train-generation", "evaluate-generation")}
STAGES = [*CODE.values(), f"{PIPELINE}:prepare"] + [f"{PIPELINE}:{kind}-leaderboard-mlp-gan@mlp-gan-s{seed}"
                                                    for kind in ("train", "evaluate") for seed in (0, 1)]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:dvc")  # DVC's own, from its pygtrie use
# long enough to be caught mid-run (a checkpoint every 0.5 kimg)
LONG = {"kimg": 16, "checkpoint_every_kimg": 0.5, "curve_every_kimg": 8}


def git(root, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


def commit_and_push(root, message):
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    git(root, "push", "-q", "origin", "HEAD")


def run(cmd, root, env, check=True):
    result = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert not check or result.returncode == 0, f"{cmd} failed:\n{result.stdout[-4000:]}"
    return result.returncode, result.stdout


@pytest.fixture(scope="module")
def ray_cluster():
    """Two Ray nodes of one CPU each on this machine, loopback only, no dashboard; the head's address."""
    from ray.cluster_utils import Cluster

    loopback = {"node_ip_address": "127.0.0.1", "num_cpus": 1}
    nodes = Cluster(initialize_head=True, head_node_args={**loopback, "include_dashboard": False})
    nodes.add_node(**loopback)
    yield nodes.address
    nodes.shutdown()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The head's project: a smoke copy whose commit is pushed to a bare origin, with a committed local-directory
    DVC remote; the folder workers put their checkouts in."""
    base = tmp_path_factory.mktemp("sweep")
    (base / "head").mkdir()
    root, env = copy_of_the_repository(base / "head", smoke={"group_runs": False})  # a cluster: a stage per run
    subprocess.run(["git", "init", "-q", "--bare", str(base / "origin.git")], check=True)
    git(root, "remote", "add", "origin", str(base / "origin.git"))
    run(["dvc", "remote", "add", "-d", "store", str(base / "store")], root, env)
    commit_and_push(root, "a DVC remote all nodes share")
    return root, env, base


def sweep(project, address, *targets, check=True):
    root, env, base = project
    return run(["gbench", "sweep", *targets, "--address", address, "--workdir", str(base / "work")], root, env,
               check=check)


# --- before anything is submitted ---------------------------------------------------------------------------


def test_the_plan_is_dvcs_graph_of_the_ring8_part(project):
    root, _, _ = project
    planned = cluster.plan(root, [TARGET], gpus=True)
    names = [s.name for s in planned.stages]
    assert sorted(names) == sorted(STAGES)
    by_name = {s.name: s for s in planned.stages}
    prepare = f"{PIPELINE}:prepare"
    assert by_name[prepare].upstream == (CODE["prepare"],) and all(not by_name[c].upstream for c in CODE.values())
    for seed in (0, 1):
        train, evaluate = (f"{PIPELINE}:{kind}-leaderboard-mlp-gan@mlp-gan-s{seed}" for kind in ("train", "evaluate"))
        assert set(by_name[train].upstream) == {prepare, CODE["train-generation"]}
        assert by_name[train].gpus == 1  # params nproc 1
        assert set(by_name[evaluate].upstream) == {train, prepare, CODE["evaluate-generation"]}
        assert by_name[evaluate].gpus == 0
        assert names.index(prepare) < names.index(train) < names.index(evaluate)
    assert all(by_name[name].gpus == 0 for name in (prepare, *CODE.values()))
    assert all(s.gpus == 0 for s in cluster.plan(root, [TARGET]).stages)  # without --gpus
    assert planned.restore == [f"{PIPELINE}:evaluate-leaderboard-mlp-gan"]
    single = cluster.plan(root, [TRAIN_S0])
    assert sorted(s.name for s in single.stages) == sorted([CODE["prepare"], CODE["train-generation"], prepare,
                                                            TRAIN_S0])
    assert single.stages[-1].name == TRAIN_S0 and single.restore == [TRAIN_S0]


def test_bad_input_is_one_line_and_exit_2(project, capsys, monkeypatch):
    root, _, _ = project
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # what the sweep sets for a loopback address
    cases = [(["nope"], "127.0.0.1:1", "unknown sweep target `nope`: give a study"),
             ([TARGET], "127.0.0.1", "is not HOST:PORT"),
             ([TARGET], "127.0.0.1:1", "no Ray cluster at 127.0.0.1:1")]
    for targets, address, message in cases:
        assert main(["--root", str(root), "sweep", *targets, "--address", address]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert main(["--root", str(root), "sweep", "--address", "127.0.0.1:1"]) == 2
    assert "pip install 'gan-bench[ray]'" in capsys.readouterr().err


def test_a_dirty_or_unpushed_commit_is_refused(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("a")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    with pytest.raises(UserError, match="no git remote `origin`"):
        cluster.pushed_commit(repo)
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], check=True)
    git(repo, "remote", "add", "origin", "../origin.git")
    with pytest.raises(UserError, match="is not pushed to `origin`: run `git push origin HEAD`"):
        cluster.pushed_commit(repo)
    git(repo, "push", "-q", "origin", "HEAD")
    url, sha = cluster.pushed_commit(repo)
    assert url == str(tmp_path / "origin.git") and len(sha) == 40  # a relative URL, as seen from the project
    (repo / "a.txt").write_text("changed")
    with pytest.raises(UserError, match=r"uncommitted changes \(a.txt, ...\)"):
        cluster.pushed_commit(repo)


def test_the_dvc_remote_must_be_committed_and_shared(tmp_path):
    config = tmp_path / ".dvc" / "config"
    config.parent.mkdir()
    with pytest.raises(UserError, match="no default DVC remote in .dvc/config"):
        cluster.dvc_remote(tmp_path)
    config.write_text("[core]\n    remote = store\n")
    with pytest.raises(UserError, match="`store` is not defined"):
        cluster.dvc_remote(tmp_path)
    config.write_text("[core]\n    remote = store\n['remote \"store\"']\n    url = ../store\n")
    with pytest.raises(UserError, match=r"is a relative path \(../store\)"):
        cluster.dvc_remote(tmp_path)
    config.write_text("[core]\n    remote = store\n['remote \"store\"']\n    url = s3://bucket/dvc\n")
    assert cluster.dvc_remote(tmp_path) == "s3://bucket/dvc"


def test_a_failed_command_returns_its_exit_code_and_user_text_reaches_no_shell(tmp_path):
    log = tmp_path / "log"
    code, tail = cluster.run_in_group([sys.executable, "-c", "import sys; print(sys.argv[1]); sys.exit(3)",
                                       "$(touch pwned); 'x"], tmp_path, dict(os.environ), log)
    assert code == 3 and tail.splitlines()[-1] == "$(touch pwned); 'x" and not (tmp_path / "pwned").exists()


# --- on the cluster ------------------------------------------------------------------------------------------


def done_lines(output: str) -> dict[str, str]:
    """Each done stage -> its line (`[3/5] done: STAGE (ran, 8.7 s on HOST)`)."""
    found = (re.match(r"\[\d+/\d+\] done: (\S+) \((.*)\)$", line) for line in output.splitlines())
    return {m.group(1): m.group(2) for m in found if m}


def test_every_stage_runs_once_and_a_fresh_clone_restores_all_running_none(project, ray_cluster, tmp_path):
    root, env, base = project
    _, output = sweep(project, ray_cluster, TARGET)
    done = done_lines(output)
    assert sorted(done) == sorted(STAGES), output
    for stage, how in done.items():  # each ran in its own task, none ran an upstream stage again
        assert how.startswith("ran, ") and "also ran" not in how, (stage, how)
    assert f"sweep: {len(STAGES)} done\n" in output
    nodes = {done[f"{PIPELINE}:train-leaderboard-mlp-gan@mlp-gan-s{seed}"].split("Ray node ")[1] for seed in (0, 1)}
    assert len(nodes) == 2, output  # ready at once, one CPU per node: the two train stages ran on both nodes
    assert not list((base / "work").rglob("*.log")), "a done stage leaves no checkout behind"

    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(base / "origin.git"), str(fresh)], check=True)
    _, restored = run(["dvc", "repro", "--pull", f"{PIPELINE}:evaluate-leaderboard-mlp-gan"], fresh, env)
    assert "Running stage" not in restored, restored
    for stage in STAGES:  # DVC names the root dvc.yaml's stages without their file
        stage = stage.removeprefix("dvc.yaml:")
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in restored, restored
    metrics = json.loads((S0.folder(fresh) / "eval" / "metrics.json").read_text())
    assert 0 <= metrics["metrics"]["modes_covered"] <= 8
    commit_and_push(fresh, "dvc.lock of the sweep")  # recorded: the same sweep from here has nothing to do
    _, again = run(["gbench", "sweep", TARGET, "--address", ray_cluster], fresh, env)
    assert "every stage is up to date" in again and "done:" not in again
    git(root, "pull", "-q", "--ff-only", "origin", "HEAD")  # the head goes on from that commit


def trainer_of(run: RunId, checkout: Path, sweeping: subprocess.Popen, kimg: float) -> psutil.Process:
    """The process training `run` in the stage's checkout, once its checkpoint holds `kimg` (the sweep going on)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert sweeping.poll() is None, sweeping.communicate()[0][-4000:]
        try:
            saved = load_checkpoint(resume_dir(checkout, run) / CHECKPOINT)
            assert not saved["finished"], "the run finished before the test could kill its worker; make LONG longer"
            if json.loads(saved["state"])["images"] >= kimg * 1000:
                return next(p for p in psutil.process_iter(["cmdline", "cwd"])
                            if str(run) in (p.info["cmdline"] or []) and p.info["cwd"] == str(checkout))
        except (FileNotFoundError, CorruptCheckpoint):
            pass
        time.sleep(0.1)
    pytest.fail(f"no checkpoint of {kimg} kimg of {run} in {checkout} within 300 s")


def ray_worker_of(process: psutil.Process) -> psutil.Process:
    """The Ray worker running the task: the parent of the stage's supervisor."""
    supervisor = next(p for p in process.parents() if cluster.SUPERVISOR in p.cmdline())
    return supervisor.parent()


def test_a_worker_killed_mid_stage_is_retried_to_the_same_bytes(project, ray_cluster):
    root, env, base = project
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["profiles"]["smoke"]["ring8"]["train"].update(LONG)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit_and_push(root, "longer ring8 training")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    checkout = cluster.checkout_dir(str(base / "work"), sha, TRAIN_S0)

    sweeping = subprocess.Popen(["gbench", "sweep", TRAIN_S0, "--address", ray_cluster, "--workdir",
                                 str(base / "work")], cwd=root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    trainer = trainer_of(S0, checkout, sweeping, kimg=1)
    worker = ray_worker_of(trainer)
    worker.kill()  # SIGKILL: the worker cleans up nothing; its stage must not live on
    _, alive = psutil.wait_procs([trainer], timeout=5)  # (the run has seconds of training left)
    assert not alive, "the trainer outlived the Ray worker that ran its stage"
    output, _ = sweeping.communicate(timeout=600)
    assert sweeping.returncode == 0, output[-4000:]
    assert done_lines(output)[TRAIN_S0].startswith("ran, "), output  # run again, by Ray

    _, restored = run(["dvc", "repro", "--pull", TRAIN_S0], root, env)
    assert "Running stage" not in restored and f"Stage '{TRAIN_S0}' is cached" in restored, restored
    swept = (S0.folder(root) / "train" / CHECKPOINT).read_bytes()
    run(["gbench", "train", str(S0), "--restart"], root, {**env, "OMP_NUM_THREADS": "1"})  # here, uninterrupted,
    # with the stage's thread count (--cpus-per-stage 1): CPU bytes are the same at the same thread count
    assert (resume_dir(root, S0) / CHECKPOINT).read_bytes() == swept


def remote_runs(base: Path) -> dict[str, bytes]:
    return {str(p.relative_to(base / "store")): p.read_bytes() for p in (base / "store" / "runs").rglob("*")
            if p.is_file()}


def test_a_failing_stage_is_reported_not_retried_and_pushes_nothing(project, ray_cluster):
    root, env, base = project
    attempts = base / "attempts"
    broken = root / "bench" / "training" / "loop.py"  # a dependency of the train stages only
    original = broken.read_text()
    broken.write_text(original + f"\nopen({str(attempts)!r}, 'a').write('x\\n')\nraise RuntimeError('broken')\n")
    commit_and_push(root, "a broken model")
    before = remote_runs(base)
    code, output = sweep(project, ray_cluster, TARGET, check=False)
    assert code == 1, output
    for seed in (0, 1):
        train = f"{PIPELINE}:train-leaderboard-mlp-gan@mlp-gan-s{seed}"
        assert f"] failed: {train}: `dvc repro --pull {train}` exited with" in output, output
        assert f"  not run: {PIPELINE}:evaluate-leaderboard-mlp-gan@mlp-gan-s{seed} (upstream stage {train} failed)" \
            in output
    assert "RuntimeError: broken" in output  # the stage's own output, for the user to see why
    assert attempts.read_text() == "x\n" * 2  # one attempt per train stage: Ray does not retry a stage's own failure
    after = remote_runs(base)
    assert {k: v for k, v in after.items() if k in before} == before  # none changed
    added = [v for k, v in after.items() if k not in before]  # only the code stage that hashed the edit succeeded
    assert len(added) == 1 and b"cmd: exec gbench fingerprint train" in added[0], added
    broken.write_text(original)
    commit_and_push(root, "the model repaired")


def test_the_remote_holds_only_whole_objects_and_complete_run_cache_entries(project):
    _, _, base = project
    store = base / "store"
    objects = {p.relative_to(store / "files" / "md5").as_posix().replace("/", "") for p in
               (store / "files" / "md5").rglob("*") if p.is_file()}
    assert objects
    for path in (store / "files" / "md5").rglob("*"):
        if path.is_file():
            name = path.parent.name + path.name.removesuffix(".dir")
            assert hashlib.md5(path.read_bytes()).hexdigest() == name, f"{path} is not the object it names"
    assert not [p for p in store.rglob("*") if p.is_file() and (p.name.startswith(".") or ".tmp" in p.name)]
    entries = [p for p in (store / "runs").rglob("*") if p.is_file()]
    assert len(entries) >= len(STAGES)
    for entry in entries:  # every run-cache entry's outputs are in the remote, each file of a folder too
        for out in yaml.safe_load(entry.read_text())["outs"]:
            assert out["md5"] in objects, f"{entry} names {out['path']}, which the remote lacks"
            if out["md5"].endswith(".dir"):
                listing = json.loads((store / "files" / "md5" / out["md5"][:2] / out["md5"][2:]).read_text())
                assert all(item["md5"] in objects for item in listing)


def test_a_stage_of_the_root_pipeline_that_ran_is_said_to_have_run():
    """DVC logs `Running stage 'aggregate'` for the stage the sweep calls dvc.yaml:aggregate."""
    ran = {"stage": "dvc.yaml:aggregate", "host": "h", "node": "n", "seconds": 1.0, "ran": ["aggregate"]}
    assert cluster.describe(ran) == "ran, 1.0 s on h, Ray node n"
    restored = {**ran, "stage": f"{PIPELINE}:prepare", "ran": [f"{PIPELINE}:prepare", "aggregate"]}
    assert cluster.describe(restored) == "ran, 1.0 s on h, Ray node n; also ran aggregate"
    assert cluster.describe({**ran, "ran": []}).startswith("restored from the run-cache")


def test_on_gpu_workers_a_train_stage_asks_for_its_ranks_a_prior_stage_for_one_gpu_and_others_for_none():
    from types import SimpleNamespace

    def stage(cmd):
        return SimpleNamespace(cmd=cmd)

    assert cluster.stage_gpus(stage("exec gbench train 'a/b/c/s0'"), 4) == 4
    assert cluster.stage_gpus(stage("exec gbench prior 'tokenizer/fmnist32/vqgan/s0'"), 4) == 1
    assert cluster.stage_gpus(stage("exec gbench evaluate 'a/b/c/s0'"), 4) == 0
    assert cluster.stage_gpus(stage("exec gbench priorities"), 4) == 0
    assert cluster.stage_gpus(stage(None), 4) == 0
