"""Benchmark: wall time of `dvc repro` per stage type (prepare, classifier, reference, train, evaluate, aggregate,
report), the whole run, and a no-op `dvc repro` after it.

Run from the repository root with the virtual environment on PATH (`make bench-stages`). By default it
forces every stage (`dvc repro --force`) so the numbers are those of a fresh machine (minus the
one-time install); pass --no-force to time only what is out of date. Writes a JSON summary with
--json. Stage times include each stage's process start-up (imports), which is part of the real cost.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

STAGE = re.compile(r"Running stage '(?:[^']*dvc\.yaml:)?([a-z]+)[@']?")


def timed_repro(args: list[str]) -> tuple[float, dict[str, list[float]]]:
    started = time.monotonic()
    process = subprocess.Popen(["dvc", "repro", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    per_type: dict[str, list[float]] = defaultdict(list)
    current, since = None, started
    assert process.stdout is not None
    for line in process.stdout:
        match = STAGE.search(line)
        if match:
            now = time.monotonic()
            if current is not None:
                per_type[current].append(now - since)
            current, since = match.group(1), now
    if process.wait() != 0:
        raise SystemExit("dvc repro failed")
    end = time.monotonic()
    if current is not None:
        per_type[current].append(end - since)
    return end - started, per_type


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-force", action="store_true", help="time only out-of-date stages")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    total, per_type = timed_repro([] if args.no_force else ["--force"])
    noop_started = time.monotonic()
    subprocess.run(["dvc", "repro"], check=True, capture_output=True)
    noop = time.monotonic() - noop_started
    rows = {kind: {"count": len(times), "total_s": sum(times), "median_s": sorted(times)[len(times) // 2]}
            for kind, times in per_type.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores")
    print(f"{'stage':<10} {'count':>5} {'total s':>9} {'median s':>9}")
    for kind in ("prepare", "classifier", "reference", "train", "evaluate", "aggregate", "report"):
        if kind in rows:
            r = rows[kind]
            print(f"{kind:<10} {r['count']:>5} {r['total_s']:>9.1f} {r['median_s']:>9.1f}")
    print(f"full dvc repro: {total:.1f} s ({total / 60:.1f} min); no-op dvc repro: {noop:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"stages": rows, "total_s": total, "noop_s": noop,
                                         "python": sys.version.split()[0]}, indent=2))


if __name__ == "__main__":
    main()
