"""`gbench sweep`: the out-of-date DVC stages of the chosen studies, run as Ray tasks on many machines.

Why this shape: DVC already knows the pipeline (its stage graph) and what is done (each stage's lock entry and its
run-cache), so this module adds no scheduler and no second record. It asks DVC which stages are out of date,
submits one Ray task per stage in dependency order (a task gets the ObjectRefs of its upstream stages as
arguments, so Ray starts it only once they have succeeded), and each task works in a clean checkout of the pushed
commit:

    git clone ORIGIN; git checkout SHA
    dvc repro --pull STAGE                    # upstream stages come back from the run-cache, STAGE runs
    dvc push --with-deps STAGE                # its outputs first,
    dvc push --run-cache --with-deps STAGE    # then the run-cache entry that points at them

Outputs are pushed before the run-cache entry, so the remote never holds an entry whose outputs are missing, and
DVC writes each object to a temporary name and renames it, so a push cut short leaves no half-written object.
Afterwards `dvc repro --pull` anywhere restores every stage from the remote and runs none.

Failures: a worker or node that dies is a system failure, and Ray runs the task again (`max_retries`) in a fresh
checkout; stages are deterministic, so the retry ends with the same bytes. A stage that fails on its own (non-zero
exit) raises StageFailed, which Ray does not retry (`retry_exceptions=False`); nothing of it is pushed, and the
stages downstream of it are reported as not run. The stage's processes run in their own process group under a
small supervisor that dies with the Ray worker (PR_SET_PDEATHSIG) and takes the group with it, and the task kills
what is left of the group when the command returns or the task ends otherwise. Nothing relies on Ray's own
child-process cleanup (with its raylet subreaper option a failed subprocess was seen to return 0).

Resources: each stage asks Ray for `cpus` CPUs and its processes get as many threads (OMP_NUM_THREADS; Ray's own
default would be the same): CPU results are bit-identical for the same seed, machine type and thread count, so a
stage swept with `cpus` = the cores of the machine reproduces a local `dvc repro` there byte for byte. With
`gpus=True` (the workers have GPUs) a train stage also asks for params.yaml `nproc` GPUs (its torch.distributed
ranks), a tokenizer run's prior stage for one, every other stage for none.

Ray is an optional extra (`pip install 'gan-bench[ray]'`) imported only here, when a sweep starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.protocol.errors import UserError

# Runs the stage's command in the process group it leads: it asks the kernel for SIGTERM when the Ray worker that
# started it dies, and then kills the whole group (dvc and the stage under it). argv: worker pid, command...
SUPERVISOR = """
import ctypes, os, signal, subprocess, sys
def stop(*_):
    os.killpg(os.getpgrp(), signal.SIGKILL)
signal.signal(signal.SIGTERM, stop)
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    stop()
code = subprocess.call(sys.argv[2:])
sys.exit(128 - code if code < 0 else code)
"""
TAIL_LINES = 40
DEFAULT_RETRIES = 3


class StageFailed(Exception):
    """A stage's own command failed (not its machine): Ray does not retry it."""

    def __init__(self, stage: str, message: str, tail: str = ""):
        super().__init__(stage, message, tail)
        self.stage, self.message, self.tail = stage, message, tail

    def __str__(self) -> str:
        return f"{self.stage}: {self.message}"


@dataclass(frozen=True)
class Commit:
    """What every worker checks out: the git URL to clone and the commit; and the DVC remote they push to (for the
    record: each checkout reads it from its own committed .dvc/config)."""

    url: str
    sha: str
    remote: str


@dataclass(frozen=True)
class PlannedStage:
    """One out-of-date stage: its DVC address, the out-of-date stages it waits for, and what it asks Ray for."""

    name: str
    upstream: tuple[str, ...]
    gpus: int = 0


# --- checks on the head, before anything is submitted ---------------------------------------------------------


def require_ray():
    """The `ray` module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError("Ray is not installed: install the extra with `pip install 'gan-bench[ray]'` (on the head "
                        "and on every worker)") from None
    return ray


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"`git {' '.join(args)}` failed in {root}: {result.stderr.strip() or result.stdout.strip()}; "
                        "the sweep needs the project as a git repository with a pushed commit")
    return result.stdout.rstrip()  # (not the left: `git status --porcelain` starts lines with a space)


def pushed_commit(root: Path, git_remote: str = "origin") -> tuple[str, str]:
    """(URL to clone, HEAD's sha) when the working tree is clean and HEAD is on a branch of `git_remote`."""
    dirty = _git(root, "status", "--porcelain")
    if dirty:
        first = dirty.splitlines()[0][3:]
        raise UserError(f"the working tree has uncommitted changes ({first}, ...): workers check out the pushed "
                        "commit, so commit and push them (`git commit -a && git push`), then run the sweep again")
    sha = _git(root, "rev-parse", "HEAD")
    remotes = _git(root, "remote").split()
    if git_remote not in remotes:
        raise UserError(f"no git remote `{git_remote}`: workers clone the commit from it; add one the workers can "
                        f"reach (`git remote add {git_remote} URL && git push -u {git_remote} HEAD`) or name yours "
                        "with --git-remote")
    if not _git(root, "branch", "-r", "--contains", sha, "--list", f"{git_remote}/*"):
        raise UserError(f"commit {sha[:12]} is not pushed to `{git_remote}`: run `git push {git_remote} HEAD`, "
                        "then run the sweep again")
    url = _git(root, "remote", "get-url", git_remote)
    if "://" not in url and ":" not in url.split("/")[0] and not Path(url).is_absolute():
        url = str((root / url).resolve())  # a relative local path: as seen from the project root
    return url, sha


def dvc_remote(root: Path) -> str:
    """The URL of the default DVC remote in the committed .dvc/config (the one every checkout sees; a remote set
    only in .dvc/config.local stays on this machine)."""
    from configobj import ConfigObj

    path = root / ".dvc" / "config"
    config = ConfigObj(str(path)) if path.is_file() else {}
    name = config.get("core", {}).get("remote")
    fix = ("configure one that every machine reaches and commit it: `dvc remote add -d store /shared/dvc-store` (a "
           "shared path) or `dvc remote add -d store s3://bucket/path`, then `git commit .dvc/config && git push`")
    if not name:
        raise UserError(f"no default DVC remote in .dvc/config: workers push their results there; {fix}")
    url = config.get(f'remote "{name}"', {}).get("url")
    if not url:
        raise UserError(f"the default DVC remote `{name}` is not defined in .dvc/config; {fix}")
    if "://" not in url and not Path(url).is_absolute():
        raise UserError(f"the DVC remote `{name}` is a relative path ({url}): each checkout would resolve it inside "
                        f"itself; use an absolute path on a file system all machines share: "
                        f"`dvc remote modify {name} url /shared/dvc-store`")
    return url


# --- the plan: DVC's stage graph, restricted to the targets and to what is out of date --------------------------


def _study_names(root: Path) -> set[str]:
    return {path.stem for path in (root / "pipelines").glob("*.yaml")}


def _stage_results(stage, root: Path) -> list[str]:
    """The stage's outputs as paths relative to the repository root (e.g. results/leaderboard/ring8/...)."""
    return [Path(os.path.relpath(out.fs_path, root)).as_posix() for out in stage.outs]


def select_stages(repo, root: Path, targets: list[str]) -> list:
    """The stages the targets name, with everything upstream of them. A target is a study (`leaderboard`: its train
    and evaluate stages), a study's part on one dataset (`leaderboard/ring8`), or anything `dvc repro` takes (a
    stage, `pipelines/ring8/dvc.yaml:prepare`, a dvc.yaml); none = every stage of the project."""
    import networkx as nx
    from dvc.exceptions import DvcException

    graph = repo.index.graph
    if not targets:
        return list(graph.nodes)
    studies, chosen = _study_names(root), set()
    for target in targets:
        parts = target.strip("/").split("/")
        if parts[0] in studies and len(parts) <= 2:
            prefix = "results/" + "/".join(parts) + "/"
            found = [s for s in graph.nodes if any(p.startswith(prefix) for p in _stage_results(s, root))]
        else:
            try:
                found = list(repo.stage.collect(target))
            except DvcException:
                found = []
        if not found:
            raise UserError(f"unknown sweep target `{target}`: give a study ({', '.join(sorted(studies))}), "
                            "STUDY/DATASET (e.g. leaderboard/ring8), or a DVC stage or dvc.yaml as `dvc repro` takes "
                            "them (list them with `dvc stage list --all`)")
        chosen.update(found)
    for stage in list(chosen):
        chosen.update(nx.descendants(graph, stage))  # edges point from a stage to the stages it depends on
    return list(chosen)


def out_of_date(graph, stages: list) -> list:
    """The stages to run, upstream first: those DVC sees as changed (as `dvc repro --allow-missing` does: data that
    is only missing here but recorded in dvc.lock is not a change, workers pull it), and everything downstream of
    them."""
    import networkx as nx

    chosen = set(stages)
    order = [s for s in reversed(list(nx.topological_sort(graph.subgraph(chosen))))]  # upstream first
    stale: set = set()
    for stage in order:
        upstream = [u for u in graph.successors(stage) if u in chosen]
        if any(u in stale for u in upstream) or stage.changed(allow_missing=True, upstream=upstream):
            stale.add(stage)
    return [s for s in order if s in stale]


def address(stage, root: Path) -> str:
    """The stage as `dvc repro` takes it from the repository root, e.g. pipelines/ring8/dvc.yaml:prepare."""
    return f"{Path(os.path.relpath(stage.path, root)).as_posix()}:{stage.name}"


def is_train(stage) -> bool:
    return bool(re.match(r"\s*(exec\s+)?gbench\s+train\b", str(stage.cmd or "")))


def stage_gpus(stage, nproc: int) -> int:
    """GPUs a stage asks for on GPU workers: a train stage its `nproc` ranks, a tokenizer's prior stage one (it
    trains in one process), any other none."""
    if is_train(stage):
        return nproc
    return 1 if re.match(r"\s*(exec\s+)?gbench\s+prior\b", str(stage.cmd or "")) else 0


@dataclass(frozen=True)
class Plan:
    """The stages to run, upstream first, and the DVC targets that restore the whole selection afterwards."""

    stages: list[PlannedStage]
    restore: list[str]


def restore_targets(graph, selected: list, root: Path) -> list[str]:
    """DVC targets for `dvc repro --pull` that cover the selection: its final stages (none selected depends on
    them), a foreach group by its name when all its items are final."""
    chosen = set(selected)
    finals = {address(s, root) for s in selected if not any(p in chosen for p in graph.predecessors(s))}
    groups: dict[str, set[str]] = {}
    for stage in graph.nodes:
        name = address(stage, root)
        groups.setdefault(name.split("@")[0], set()).add(name)
    targets = set()
    for name in finals:
        group = name.split("@")[0]
        targets.add(group if groups[group] <= finals else name)
    return sorted(targets)


def plan(root: Path, targets: list[str], gpus: bool = False) -> Plan:
    """The out-of-date stages of the targets in dependency order, each with the out-of-date stages it waits for."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    nproc = int(_params(root).get("nproc", 1))
    try:  # DVC reads targets relative to the working directory, as `dvc repro` in the root would
        with _working_directory(root), Repo(str(root)) as repo, repo.lock:  # held as `dvc status` holds it
            graph = repo.index.graph
            selected = select_stages(repo, root, targets)
            todo = out_of_date(graph, selected)
            names = {s: address(s, root) for s in todo}
            stages = [PlannedStage(names[s], tuple(names[u] for u in graph.successors(s) if u in names),
                                   stage_gpus(s, nproc) if gpus else 0) for s in todo]
            return Plan(stages, restore_targets(graph, selected, root) if targets else [])
    except DvcException as exc:
        raise UserError(f"DVC cannot read the pipeline: {exc}; fix it so that `dvc status` works, then run the sweep "
                        "again") from None


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _params(root: Path) -> dict:
    import yaml

    path = root / "params.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


# --- one stage, on a worker ------------------------------------------------------------------------------------


def checkout_dir(workdir: str | None, sha: str, stage: str) -> Path:
    """Where a stage's clean checkout lives on its worker: one folder per (commit, stage), so a retry on the same
    machine starts by removing what a dead attempt left."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", stage)[-80:]
    digest = hashlib.sha1(stage.encode()).hexdigest()[:10]
    return Path(workdir or tempfile.gettempdir()) / "gbench-sweep" / sha[:12] / f"{slug}-{digest}"


def stage_environment(checkout: Path, threads: int) -> dict[str, str]:
    """The worker's environment, with this interpreter's scripts (dvc, gbench) on PATH, the checkout first on
    PYTHONPATH (the stage runs the code of the commit DVC hashed, not whatever the worker has installed) and
    `threads` CPU threads."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["GBENCH_WARM"] = "0"  # a fresh checkout per stage: a warm server (bench/protocol/warm.py) never hits
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(checkout), env.get("PYTHONPATH", "")] if p)
    return env


def run_in_group(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[int, str]:
    """Run `args` (an argument list, never a shell line) in a new process group under SUPERVISOR, appending its
    output to `log`; what is left of the group is killed when the command returns or this task ends early (worker
    shutdown, cancellation). Returns the exit code and the output's last lines."""
    with open(log, "ab") as out:
        out.write(("$ " + " ".join(args) + "\n").encode())
        out.flush()
        process = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(os.getpid()), *args], cwd=cwd, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait()
        finally:  # no process of the command outlives it, nor this task
            _kill_group(process.pid)
    lines = log.read_text(errors="replace").splitlines()
    return code, "\n".join(lines[-TAIL_LINES:])


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def clone(stage: str, url: str, sha: str, checkout: Path, env: dict[str, str]) -> None:
    """A clean checkout of the commit (what a dead attempt left there is removed first)."""
    shutil.rmtree(checkout, ignore_errors=True)
    checkout.parent.mkdir(parents=True, exist_ok=True)
    for args, cwd in ((["git", "clone", "--quiet", "--no-checkout", url, str(checkout)], checkout.parent),
                      (["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", sha], checkout)):
        result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise StageFailed(stage, f"`{' '.join(args)}` failed on {socket.gethostname()}", result.stderr.strip())


def stage_commands(stage: str) -> list[list[str]]:
    """What a worker runs for one stage, in order: reproduce it (upstream from the run-cache), push its outputs,
    then its run-cache entry."""
    return [["dvc", "repro", "--pull", stage],
            ["dvc", "push", "--with-deps", stage],
            ["dvc", "push", "--run-cache", "--with-deps", stage]]


def run_stage(commit: Commit, stage: str, workdir: str | None, threads: int, *upstream) -> dict:
    """The body of one Ray task (upstream: the results of the stages it waits for, unused: they order it)."""
    started = time.monotonic()
    checkout = checkout_dir(workdir, commit.sha, stage)
    log = checkout.parent / f"{checkout.name}.log"
    env = stage_environment(checkout, threads)
    if log.exists():
        log.unlink()
    clone(stage, commit.url, commit.sha, checkout, env)
    for args in stage_commands(stage):
        code, tail = run_in_group(args, checkout, env, log)
        if code != 0:
            raise StageFailed(stage, f"`{' '.join(args)}` exited with {code} on {socket.gethostname()}; its log: "
                              f"{log} (checkout kept: {checkout})", tail)
    ran = re.findall(r"^Running stage '([^']+)'", log.read_text(errors="replace"), flags=re.MULTILINE)
    shutil.rmtree(checkout, ignore_errors=True)
    log.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the commit's folder, once its last stage here is done
        checkout.parent.rmdir()
    return {"stage": stage, "host": socket.gethostname(), "node": _ray_node(), "ran": ran,
            "seconds": round(time.monotonic() - started, 1)}


def _ray_node() -> str:
    """The Ray node this task runs on (several nodes may share a host), short."""
    import ray

    return ray.get_runtime_context().get_node_id()[:8]


# --- the driver ------------------------------------------------------------------------------------------------


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address!r} is not HOST:PORT: give the head's address as `ray start --head` "
                        "printed it, e.g. --address 10.0.0.1:6379")
    return host.strip("[]"), int(port)


def connect(ray, address: str) -> None:
    """ray.init on the head's address, after checking something listens there (Ray itself retries for minutes)."""
    host, port = parse_address(address)
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as exc:
        raise UserError(f"no Ray cluster at {address} ({exc.strerror or exc}): start the head with "
                        f"`ray start --head --port {port}` there, or pass its address with --address") from None
    ray.init(address=f"{host}:{port}", log_to_driver=False)


def submit(ray, commit: Commit, stages: list[PlannedStage], workdir: str | None, retries: int, cpus: int) -> dict:
    """One Ray task per stage, upstream first, each given its upstream stages' ObjectRefs."""
    task = ray.remote(run_stage)
    refs: dict = {}
    for stage in stages:
        options = dict(num_cpus=cpus, num_gpus=stage.gpus, max_retries=retries, retry_exceptions=False,
                       name=stage.name)
        refs[stage.name] = task.options(**options).remote(commit, stage.name, workdir, cpus,
                                                          *[refs[u] for u in stage.upstream])
    return refs


def describe(result: dict) -> str:
    """How a done stage was done: run by its task, or restored from the run-cache (someone had run it before)."""
    def bare(name: str) -> str:  # DVC prints the root dvc.yaml's stages without the file's name
        return name.removeprefix("dvc.yaml:")

    own = bare(result["stage"]) in {bare(name) for name in result["ran"]}
    others = [name for name in result["ran"] if bare(name) != bare(result["stage"])]
    how = "ran" if own else "restored from the run-cache"
    where = f"{result['host']}, Ray node {result['node']}"
    return f"{how}, {result['seconds']} s on {where}" + (f"; also ran {', '.join(others)}" if others else "")


def _failure(exc: Exception, stage: str) -> tuple[str, str, str]:
    """('failed', why, output tail) for a stage that failed itself, ('not run', why, '') for one whose upstream
    failed, ('lost', why, '') for one whose machines kept dying past the retries."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, StageFailed):
        if cause.stage == stage:
            return "failed", cause.message, cause.tail
        return "not run", f"upstream stage {cause.stage} failed", ""
    lines = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]
    return "lost", f"{type(exc).__name__}: {lines[-1].strip() if lines else 'no message'}", ""


def wait_all(ray, refs: dict, out=sys.stdout) -> dict[str, tuple[str, str]]:
    """Wait for every task with a progress bar over finished stages; the outcome of each stage."""
    from tqdm import tqdm

    by_ref = {ref: name for name, ref in refs.items()}
    pending, outcome = deque(refs.values()), {}
    # the bar on a terminal only; a line per finished stage everywhere
    with tqdm(total=len(refs), unit="stage", desc="sweep", file=out, dynamic_ncols=True, disable=None) as bar:
        while pending:
            done, rest = ray.wait(list(pending), num_returns=1)
            pending = deque(rest)
            for ref in done:
                name = by_ref[ref]
                try:
                    result = ray.get(ref)
                    outcome[name] = ("done", describe(result))
                    bar.write(f"[{len(outcome)}/{len(refs)}] done: {name} ({outcome[name][1]})", file=out)
                except Exception as exc:  # noqa: BLE001 (every kind of failure is reported, none stops the others)
                    state, why, tail = _failure(exc, name)
                    outcome[name] = (state, why)
                    if state != "not run":
                        detail = f"\n{tail}" if tail else ""
                        bar.write(f"[{len(outcome)}/{len(refs)}] {state}: {name}: {why}{detail}", file=out)
                bar.set_postfix_str(name.rsplit(":", 1)[-1])
                bar.update(1)
    return outcome


def summary(outcome: dict[str, tuple[str, str]]) -> str:
    counts = {k: sum(1 for v in outcome.values() if v[0] == k) for k in ("done", "failed", "not run", "lost")}
    line = ", ".join(f"{n} {k}" for k, n in counts.items() if n or k == "done")
    rest = [f"  {state}: {name} ({why.splitlines()[0]})" for name, (state, why) in outcome.items() if state != "done"]
    return "\n".join([f"sweep: {line}", *rest])


def sweep(root: Path, targets: list[str], address: str, gpus: bool = False, cpus: int = 1, workdir: str | None = None,
          retries: int = DEFAULT_RETRIES, git_remote: str = "origin", out=sys.stdout) -> int:
    """`gbench sweep`: 0 when every out-of-date stage is done (and pushed), 1 when one failed or was lost."""
    host, _ = parse_address(address)
    if host in ("127.0.0.1", "localhost", "::1"):
        # Ray swaps a loopback head address for this machine's outward IP unless it takes the machine for a
        # single-node one; a head started with --node-ip-address=127.0.0.1 listens on loopback only.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if retries < 0:
        raise UserError(f"--retries {retries}: give 0 or more (runs of a stage after its machine died)")
    if cpus < 1:
        raise UserError(f"--cpus-per-stage {cpus}: give 1 or more (CPUs, and threads, of each stage)")
    ray = require_ray()
    url, sha = pushed_commit(root, git_remote)
    commit = Commit(url, sha, dvc_remote(root))
    planned = plan(root, targets, gpus)
    restore = " ".join(["dvc", "repro", "--pull", *planned.restore])
    if not planned.stages:
        print(f"sweep: every stage is up to date; `{restore}` restores them here", file=out)
        return 0
    print(f"sweep: {len(planned.stages)} out-of-date stages of commit {sha[:12]} -> DVC remote {commit.remote}",
          file=out)
    connect(ray, address)
    try:
        outcome = wait_all(ray, submit(ray, commit, planned.stages, workdir, retries, cpus), out)
    finally:
        ray.shutdown()
    print(summary(outcome), file=out)
    if all(state == "done" for state, _ in outcome.values()):
        print(f"restore the results here (runs nothing): {restore}", file=out)
        return 0
    print("fix the failed stages, commit and push, and run the same command again: done stages are not run again",
          file=out)
    return 1
