"""Code stages: one small file per stage kind (and task kind) holding the sha256 of every repository file that
kind of stage executes, so that each stage depends on that one file instead of on its ~50 modules one by one.

DVC checks every dependency of every stage on each `dvc repro`, and the time that takes grows with their
number (~0.7 ms each here, README "Costs"): with each stage's import closure listed in each of the default's
143 stages, that was ~7,700 entries and most of a no-op repro's 11 s. Nothing about exactness is given up.
The code stage `code-<kind>` depends on exactly the files its kind of stage executes
(bench/protocol/dependencies.py) and writes their hashes to results/code/<kind>.json, which changes, and with
it every stage of that kind, exactly when one of those files does. A variant's own modules (models/) stay
direct dependencies of its stages, so editing one family still re-runs only the runs that import it.
"""

from __future__ import annotations

from pathlib import Path

from bench.protocol.dependencies import STAGE_MODULES, closure, module_file, relative_paths, stage_code
from bench.protocol.errors import ConfigError
from bench.protocol.io import sha256_file, write_json

CODE_DIR = "results/code"
STAGE_FOLDERS = {"report": ("bench/report/templates",)}  # folders of files a stage reads but does not import


def code_name(stage: str, *modules: str) -> str:
    """`train-generation`: the stage kind, then the last part of each task module's name."""
    return "-".join([stage, *(module.rsplit(".", 1)[-1] for module in modules)])


def code_file(stage: str, *modules: str) -> str:
    """The fingerprint a stage of this kind depends on, relative to the repository root."""
    return f"{CODE_DIR}/{code_name(stage, *modules)}.json"


def fingerprinted_files(stage: str, root: Path, *modules: str) -> list[str]:
    """Every file the stage kind's fingerprint hashes: its import closure and the files of its folders."""
    files = stage_code(stage, root, *modules)
    for folder in STAGE_FOLDERS.get(stage, ()):
        files += [p.relative_to(root).as_posix() for p in (root / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def code_stage(stage: str, *modules: str, root: Path) -> dict:
    """The DVC stage writing the fingerprint: it depends on the files it hashes and on its own code."""
    own = relative_paths(closure([module_file(__name__)]), root)
    deps = sorted({*stage_code(stage, root, *modules), *own}) + list(STAGE_FOLDERS.get(stage, ()))
    return {"cmd": " ".join(["exec gbench fingerprint", stage, *modules]), "deps": deps,
            "outs": [code_file(stage, *modules)]}


def write_fingerprint(root: Path, stage: str, *modules: str) -> Path:
    """Write results/code/<kind>.json: {stage, modules, files: {path: sha256}}, atomically."""
    if stage not in STAGE_MODULES:
        raise ConfigError(f"gbench fingerprint: unknown stage kind {stage!r}; known: {', '.join(STAGE_MODULES)}")
    for module in modules:
        try:
            module_file(module)
        except LookupError:
            raise ConfigError(f"gbench fingerprint: no module {module!r} under bench/ or models/ (a task kind's "
                              "module, e.g. bench.training.tasks.generation)") from None
    files = fingerprinted_files(stage, root, *modules)
    return write_json(root / code_file(stage, *modules),
                      {"stage": stage, "modules": list(modules), "files": {f: sha256_file(root / f) for f in files}})
