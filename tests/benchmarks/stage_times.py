"""Benchmark: the wall time of one `dvc repro`, broken down per stage type (prepare, classifier, reference,
train, evaluate, aggregate, report), per study and per family, and the time of a no-op `dvc repro` after it.

Run from the repository root with the virtual environment on PATH (`make bench-stages`). In a fresh clone it
times what `make repro` runs after the install (every stage); `--force` re-runs every stage of a workspace that
has run before. A stage's time runs from DVC's "Running stage" line to the next stage's, so it includes the
stage process's start-up (imports) and DVC's own bookkeeping (hashing, the lock file), which are part of the
real cost. Train and evaluate stages are attributed to their study and to the module that registers their
variants (`train-<study>-<module>@<item>`, bench/protocol/pipelines.py), e.g. `stylegan2` for StyleGAN2 and
its configs A-F. Writes every stage's time and the summaries as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

STAGE = re.compile(r"Running stage '(?:(?P<file>[^']*dvc\.yaml):)?(?P<name>[^'@]+)(?:@(?P<item>[^']+))?'")
KINDS = ("code", "prepare", "classifier", "reference", "train", "evaluate", "aggregate", "report")


def timed_repro(args: list[str]) -> tuple[float, list[dict], bool]:
    """Run `dvc repro ARGS`, echoing its output; the whole wall time, each stage's (name, seconds) and whether
    it failed (the stages that ran are still timed: a failure after an hour must not lose the hour's numbers)."""
    started = time.monotonic()
    process = subprocess.Popen(["dvc", "repro", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    stages: list[dict] = []
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        match = STAGE.search(line)
        if match:
            now = time.monotonic()
            if stages:
                stages[-1]["seconds"] = now - stages[-1]["started"]
            stages.append({**match.groupdict(), "started": now})
    failed = process.wait() != 0
    end = time.monotonic()
    if stages:
        stages[-1]["seconds"] = end - stages[-1]["started"]
    return end - started, stages, failed


def attribute(stage: dict, studies: list[str]) -> tuple[str, str | None, str | None]:
    """A stage's type, and for train/evaluate stages its study and the module of its variants."""
    kind = next(k for k in (*KINDS, stage["name"]) if stage["name"] == k or stage["name"].startswith(k + "-"))
    if kind not in ("train", "evaluate"):
        return kind, None, None
    rest = stage["name"][len(kind) + 1:]
    study = max((s for s in studies if rest.startswith(s + "-")), key=len, default=None)
    return kind, study, rest[len(study) + 1:] if study else rest


def summary(values: list[float]) -> dict:
    return {"count": len(values), "total_s": sum(values), "median_s": statistics.median(values)}


def print_table(title: str, rows: dict[str, dict]) -> None:
    print(f"\n{title:<34} {'stages':>6} {'total s':>9} {'median s':>9}")
    for key, r in sorted(rows.items(), key=lambda item: -item[1]["total_s"]):
        print(f"{key:<34} {r['count']:>6} {r['total_s']:>9.1f} {r['median_s']:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="re-run every stage (dvc repro --force)")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    studies = [name for path in Path("pipelines").glob("*.yaml") for name in (yaml.safe_load(path.read_text()) or {})]
    total, stages, failed = timed_repro(["--force"] if args.force else [])
    noop = None
    if not failed:
        noop_started = time.monotonic()
        subprocess.run(["dvc", "repro"], check=True, capture_output=True)
        noop = time.monotonic() - noop_started

    by_kind, by_study, by_module = defaultdict(list), defaultdict(list), defaultdict(list)
    for stage in stages:
        kind, study, module = attribute(stage, studies)
        stage.update(kind=kind, study=study, module=module)
        by_kind[kind].append(stage["seconds"])
        if study is not None:
            dataset = Path(stage["file"]).parent.name
            by_study[f"{study} {dataset} {kind}"].append(stage["seconds"])
            by_module[f"{module} {kind}"].append(stage["seconds"])
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}")
    print_table("stage type", {k: summary(v) for k, v in by_kind.items()})
    print_table("study, dataset, stage type", {k: summary(v) for k, v in by_study.items()})
    print_table("family module, stage type", {k: summary(v) for k, v in by_module.items()})
    print(f"\n`dvc repro`: {len(stages)} stages ran in {total:.1f} s ({total / 60:.1f} min); " + (
        f"it FAILED in the last stage, {stages[-1]['name'] if stages else '?'}" if failed
        else f"a no-op `dvc repro` after it: {noop:.1f} s"))
    if args.json:
        for stage in stages:
            stage.pop("started")
        args.json.write_text(json.dumps({
            "total_s": total, "failed": failed, "noop_s": noop, "stages": stages,
            "by_kind": {k: summary(v) for k, v in by_kind.items()},
            "by_study": {k: summary(v) for k, v in by_study.items()},
            "by_module": {k: summary(v) for k, v in by_module.items()},
            "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": sys.version.split()[0]}, indent=2))
    if failed:
        raise SystemExit("dvc repro failed (the stages that ran are timed above)")


if __name__ == "__main__":
    main()
