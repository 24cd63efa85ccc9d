"""What every report page shares: the tables the report stage reads (results/tables), the sample images it
copies next to the pages, file names and links of the pages, and the provenance footer."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pandas as pd

from bench.measurement import catalog
from bench.protocol.io import read_json, write_bytes


def columns_of(block: pd.DataFrame, kind: str) -> list[catalog.MetricInfo]:
    """The catalog's metrics with a value in this summary block, in table order (points datasets: the mode
    metrics only)."""
    names = catalog.summarized()
    if kind != "images":
        names = [n for n in names if catalog.metric(n).backbone == "modes"]
    return [catalog.metric(n) for n in names if f"{n}_mean" in block and block[f"{n}_mean"].notna().any()]


def curve_label(metric: str, n: int) -> str:
    return f"{catalog.metric(metric).heading}, N = {n}"


def git_commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def slug(name: str) -> str:
    """A file-name-safe form of a variant or run name; names that needed changing get a hash suffix, so
    two names never share a page."""
    safe = re.sub(r"[^A-Za-z0-9._+~-]", "_", name)
    return safe if safe == name else f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def variant_href(name: str) -> str:
    return f"variant-{slug(name)}.html"


def compare_href(name: str) -> str:
    return f"compare-{slug(name)}.html"


class Tables:
    """Everything the report reads, loaded once from results/tables (optional tables default to empty)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        folder = root / "results" / "tables"

        def optional(name: str):
            return read_json(folder / name) if (folder / name).exists() else {}

        self.folder = folder
        self.summary = pd.DataFrame(read_json(folder / "summary.json"))
        self.runs = pd.DataFrame(read_json(folder / "runs.json"))
        self.specs = read_json(folder / "specs.json")
        self.kinds = optional("studies.json")
        self.missing = optional("incomplete.json").get("missing", [])
        self.conditional = optional("conditional.json")
        self.truncation = optional("truncation.json")
        self.variants = optional("variants.json")
        self.curves = optional("curves.json")
        self.budget_leaders = optional("budget_leaders.json")
        self.rank_changes = optional("rank_changes.json")
        self.comparisons = optional("comparisons.json")
        self.comparisons_flops = optional("comparisons_equal_flops.json")
        self.sweeps = optional("sweeps.json")
        self.ablations = optional("ablations.json")
        self.alignment = optional("alignment.json")
        self.limited_data = optional("limited_data.json")
        self.tokenizer = optional("tokenizer.json")

    def kind(self, study: str) -> str:
        return self.kinds.get(study, {}).get("kind", "table")

    def info(self, variant: str) -> dict:
        return self.variants.get(variant, {"name": variant, "paper": "(not registered)", "families": ["new method"],
                                           "builtin": False, "origin": "unregistered", "recipe": {}, "arch": {}})


class Images:
    """Copies each sample grid the pages show into reports/img once; returns the page-relative path."""

    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.out, self.written = root, out, set()

    def __call__(self, relative: str) -> str:
        name = f"img/{slug(relative.removeprefix('results/').removesuffix('/eval/samples.png'))}.png"
        if name not in self.written:
            write_bytes(self.out / name, (self.root / relative).read_bytes())
            self.written.add(name)
        return name


def provenance(tables: Tables, root: Path) -> dict:
    """The footer of every page: which libraries and weights measured the numbers, and the git commit."""
    libraries: dict[str, set] = {}
    weights = set()
    for spec in tables.specs.values():
        for name, version in (spec.get("libraries") or {}).items():
            libraries.setdefault(name, set()).add(str(version))
        for how in spec.get("backbones", {}).values():
            if how.get("weights_sha256"):
                weights.add(f"{how.get('backbone', '?')} {str(how['weights_sha256'])[:12]}…")
    return {"commit": git_commit(root),
            "profile": next(iter(tables.specs.values()), {}).get("profile", "?"),
            "libraries": ", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in sorted(libraries.items())),
            "weights": ", ".join(sorted(weights))}


