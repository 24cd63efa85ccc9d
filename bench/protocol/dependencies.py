"""Exact code dependencies of the pipeline's stages: the import closure of a stage's entry modules.

A module depends on every module it imports, statically, anywhere in its body (lazy imports inside
functions included; imports under `if TYPE_CHECKING:` never run and are not counted), followed through
`bench/`, `models/` and a user's plugin files. Two imports are deliberately not edges: `models/__init__.py`,
which imports every family only to register it (a run depends on its own variant's modules, not on the
zoo), and imports by name string (`importlib`), which is how the registry loads the zoo and how a task
kind is chosen (bench/training/tasks). A module whose whole body is a docstring (most package
`__init__.py` files) cannot change a result and is left out. The CLI dispatcher (bench/cli.py) is left
out too: it only parses arguments and calls a stage.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from bench.protocol.errors import ConfigError

PACKAGES = ("bench", "models")
NOT_FOLLOWED = {"models"}  # the package __init__ that registers every family
STAGE_MODULES = {"prepare": "bench.data.datasets", "classifier": "bench.measurement.classifier",
                 "reference": "bench.measurement.reference", "train": "bench.training.loop",
                 "prior": "bench.training.loop",
                 "evaluate": "bench.measurement.evaluate", "aggregate": "bench.tables.aggregate",
                 "report": "bench.report.render"}


def source_root() -> Path:
    """The folder holding the `bench` and `models` packages that are running."""
    return Path(__file__).resolve().parents[2]


def _module_path(module: str, base: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] not in PACKAGES or module in NOT_FOLLOWED:
        return None
    for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _parents(module: str) -> list[str]:
    """The packages Python executes before `module`: a.b.c -> a, a.b."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _walk(node: ast.AST):
    """Every node below `node`, except the bodies of `if TYPE_CHECKING:` (annotations only, never executed)."""
    for child in ast.iter_child_nodes(node):
        if _type_checking_only(child):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


@cache
def _imports(path: Path) -> tuple[str, ...]:
    """Every module name `path` imports (with `from a import b`, both a and a.b as candidates)."""
    names = []
    for node in _walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return tuple(names)


@cache
def _only_docstring(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
               for n in body)


def closure(entries: Iterable[Path], base: Path | None = None) -> list[Path]:
    """The files `entries` execute through imports of `bench`/`models` modules under `base`, sorted."""
    base = base or source_root()
    seen: set[Path] = set()
    todo = [Path(e).resolve() for e in entries]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            for module in (*_parents(name), name):
                found = _module_path(module, base)
                if found is not None and found.resolve() not in seen:
                    todo.append(found.resolve())
    return sorted(p for p in seen if not _only_docstring(p))


def module_file(module: str, base: Path | None = None) -> Path:
    found = _module_path(module, base or source_root())
    if found is None:
        raise LookupError(f"no module {module} under {base or source_root()}")
    return found


def relative_paths(files: Iterable[Path], root: Path) -> list[str]:
    """Repository-relative paths (POSIX) of files of the running harness or of the repository at `root`:
    the harness may be imported from another checkout of the same tree."""
    out = []
    for file in files:
        for base in (root.resolve(), source_root()):
            try:
                relative = file.resolve().relative_to(base).as_posix()
            except ValueError:
                continue
            if (root / relative).is_file():
                out.append(relative)
                break
        else:
            raise ConfigError(f"{file} is not a file of the repository at {root}: keep plugin files inside the "
                              "repository, and run gbench from a checkout of the harness it imports")
    return sorted(set(out))


def stage_code(stage: str, root: Path, *modules: str) -> list[str]:
    """The repository files a stage's code executes (its entry module and `modules`, with their imports)."""
    return relative_paths(closure([module_file(m) for m in (STAGE_MODULES[stage], *modules)]), root)
