"""The variant registry: every GAN the harness can train is a `Variant` registered here.

A variant is data: generator and discriminator factories, the architecture settings they take, the
training recipe and the paper it reproduces. Families live in `models/` (one module each); a user's
method is one more module, loaded with `plugins:` in params.yaml or the `GBENCH_PLUGINS` variable.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch.nn as nn


class RegistryError(LookupError):
    """A variant or plugin that cannot be found or loaded."""


@dataclass(frozen=True)
class Recipe:
    """How a variant is trained. Every field is part of the run's config hash."""

    loss: str = "ns"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1
    ema_beta: float | None = None  # EMA of G weights when set (e.g. 0.999); evaluation then uses EMA-G
    batch: int = 64

    def __post_init__(self) -> None:
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {self.n_critic}")
        if self.ema_beta is not None and not 0.0 < self.ema_beta < 1.0:
            raise ValueError(f"ema_beta must be in (0, 1), got {self.ema_beta}")


@dataclass(frozen=True)
class Variant:
    """One registered GAN: architecture + recipe + paper + the data kinds it applies to."""

    name: str
    family: str
    paper: str
    generator: Callable[..., nn.Module]
    discriminator: Callable[..., nn.Module]
    recipe: Recipe
    data_kinds: tuple[str, ...]
    arch: dict[str, Any] = field(default_factory=dict)
    z_dim: int = 100

    @property
    def source_file(self) -> str:
        """The file that defines the generator: a change there must re-train this variant."""
        return inspect.getsourcefile(self.generator) or ""

    def describe(self) -> dict[str, Any]:
        """The variant as plain data (for hashes, pages and `gbench list`)."""
        return {
            "name": self.name,
            "family": self.family,
            "paper": self.paper,
            "recipe": asdict(self.recipe),
            "arch": dict(self.arch),
            "z_dim": self.z_dim,
            "data_kinds": list(self.data_kinds),
        }


_REGISTRY: dict[str, Variant] = {}
_LOADED = False


def register(variant: Variant) -> Variant:
    existing = _REGISTRY.get(variant.name)
    if existing is not None and existing.source_file != variant.source_file:
        raise RegistryError(
            f"variant {variant.name!r} is registered twice ({existing.source_file} and "
            f"{variant.source_file}); rename one of them"
        )
    _REGISTRY[variant.name] = variant
    return variant


def load_plugin(path: str, root: Path | None = None) -> None:
    """Import a user's variant module from a file path (relative to `root`) or a dotted module name."""
    if path.endswith(".py"):
        file = Path(path) if root is None else Path(root) / path
        if not file.is_file():
            raise RegistryError(f"plugin file {file} does not exist; fix `plugins:` in params.yaml "
                                "or GBENCH_PLUGINS")
        name = f"gbench_plugin_{file.stem}"
        if name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        importlib.import_module(path)


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    importlib.import_module("models")
    for path in os.environ.get("GBENCH_PLUGINS", "").split(os.pathsep):
        if path:
            load_plugin(path)


def load_plugins(paths: list[str], root: Path) -> None:
    """Load the plugins listed in params.yaml (`plugins:`), paths relative to the repository root."""
    _load_all()
    for path in paths:
        load_plugin(path, root)


def get(name: str) -> Variant:
    _load_all()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise RegistryError(f"unknown variant {name!r}; registered variants: {known}")
    return _REGISTRY[name]


def all_variants() -> list[Variant]:
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
