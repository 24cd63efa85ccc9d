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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch.nn as nn


class RegistryError(LookupError):
    """A variant or plugin that cannot be found or loaded."""


@dataclass(frozen=True)
class Recipe:
    """How a variant is trained. Every field is part of the run's config hash; 0 / False = off."""

    loss: str = "ns"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1  # D steps per G step
    ema_beta: float | None = None  # EMA of G weights when set (e.g. 0.999); evaluation then uses EMA-G
    batch: int = 64
    penalty_weight: float = 0.0  # lambda of the loss's own gradient penalty (wgan-gp, dragan)
    clip: float = 0.0  # WGAN weight clipping bound c
    r1: float = 0.0  # gamma: (gamma / 2) E||grad D(x)||^2 on reals (Mescheder et al. 2018)
    r2: float = 0.0  # the same on fakes
    reg_every: int = 1  # lazy regularization: R1/R2 every N D steps with their weight x N
    label_smoothing: float = 0.0  # one-sided: D's real target is 1 - label_smoothing
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs at the start, annealed to 0
    feature_matching: bool = False  # G matches the mean of D's features instead of the adversarial loss
    minibatch_discrimination: int = 0  # number of kernels B (each of dimension 5) appended to D's features
    minibatch_stddev: int = 0  # group size of ProGAN's minibatch stddev feature in D
    unrolled_steps: int = 0  # G's loss through D unrolled k Adam steps (second order)
    historical_averaging: float = 0.0  # weight of ||theta - mean of past theta||^2, both players
    spectral_norm: bool = False  # spectral normalization of every D layer
    ortho_reg: float = 0.0  # beta of BigGAN's orthogonal regularization of G's weights
    aux_classifier: float = 0.0  # weight of AC-GAN's class cross-entropy (D on reals and fakes, G on fakes)
    ema_start: int = 0  # G steps before the EMA starts averaging (it copies G until then), as BigGAN
    ema_kimg: float = 0.0  # EMA of G with this half-life in kimg (StyleGAN's G smoothing), instead of ema_beta
    ema_rampup: float = 0.0  # the half-life is at most this fraction of the images shown so far (StyleGAN2-ADA)
    drift: float = 0.0  # epsilon of ProGAN's drift term epsilon E[D(x)^2] in D's loss
    path_length: float = 0.0  # weight of StyleGAN2's path length regularization of G (needs a style-based G)
    pl_every: int = 1  # lazy path length regularization: every N G steps with its weight x N

    def __post_init__(self) -> None:
        from bench.losses import get_loss

        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        problems = []
        try:
            loss = get_loss(self.loss)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        if self.n_critic < 1:
            problems.append(f"n_critic must be >= 1, got {self.n_critic}")
        if self.ema_beta is not None and not 0.0 < self.ema_beta < 1.0:
            problems.append(f"ema_beta must be in (0, 1), got {self.ema_beta}")
        for name in ("reg_every", "pl_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.ema_kimg and self.ema_beta is not None:
            problems.append("set one of ema_beta (a fixed decay) and ema_kimg (a half-life), not both")
        if loss.penalty and self.penalty_weight <= 0:
            problems.append(f"loss {self.loss!r} is defined with a gradient penalty: set penalty_weight > 0")
        if loss.clip and self.clip <= 0:
            problems.append(f"loss {self.loss!r} clips D's weights: set clip > 0")
        if self.label_smoothing and not loss.smoothable:
            problems.append(f"label_smoothing needs a loss with a real target (mm, ns, lsgan, dragan), "
                            f"not {self.loss!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            problems.append(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        negative = [f for f in ("penalty_weight", "clip", "r1", "r2", "instance_noise", "historical_averaging",
                                "minibatch_discrimination", "minibatch_stddev", "unrolled_steps",
                                "ortho_reg", "aux_classifier", "ema_start", "ema_kimg", "ema_rampup", "drift",
                                "path_length")
                    if getattr(self, f) < 0]
        if negative:
            problems.append(f"{', '.join(negative)} must be >= 0")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Option:
    """A named change to a variant, written `<variant>+<option>`: a loss with its paper's defaults, or a
    regularizer/trick with its published weight or interval."""

    name: str
    kind: str  # "loss" | "regularizer" | "architecture"
    paper: str
    recipe: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)


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
    conditional: bool = False  # G(z, y) and D(x, y) take class labels (needs a labeled dataset)
    truncation: bool = False  # the evaluate stage also scores the truncation trick's curve

    def __post_init__(self) -> None:
        unsupported = [k for k in self.arch if not _accepts(self.generator, k)]
        if unsupported:
            raise ValueError(f"its generator takes no {', '.join(unsupported)} (architecture options "
                             f"apply to the families that implement them)")
        r = self.recipe
        if self.conditional:
            per_sample = [name for name, on in (("feature_matching", r.feature_matching),
                                                ("minibatch layers", r.minibatch_stddev or r.minibatch_discrimination),
                                                ("unrolled D", r.unrolled_steps)) if on]
            if per_sample:
                raise ValueError(f"{', '.join(per_sample)} work on unconditional discriminators only")
        if r.aux_classifier and not hasattr(self.discriminator, "forward_with_classes"):
            raise ValueError("aux_classifier needs a D with a class head (`forward_with_classes`, e.g. acgan)")
        if r.path_length and not (hasattr(self.generator, "styles") and hasattr(self.generator, "synthesis")):
            raise ValueError("path_length needs a style-based G with `styles(z)` and `synthesis(ws)` (e.g. stylegan2)")
        if r.ortho_reg and not hasattr(self.generator, "orthogonal_parameters"):
            raise ValueError("ortho_reg needs a G that names its `orthogonal_parameters` (e.g. biggan)")

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
            "conditional": self.conditional,
            "truncation": self.truncation,
        }


def _accepts(factory: Callable[..., nn.Module], keyword: str) -> bool:
    parameters = inspect.signature(factory).parameters
    return keyword in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


_REGISTRY: dict[str, Variant] = {}
_OPTIONS: dict[str, Option] = {}
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


def register_option(option: Option) -> Option:
    if option.name in _OPTIONS and _OPTIONS[option.name] != option:
        raise RegistryError(f"option {option.name!r} is registered twice with different changes; rename one")
    _OPTIONS[option.name] = option
    return option


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
    importlib.import_module("bench.options")
    importlib.import_module("models")
    for path in os.environ.get("GBENCH_PLUGINS", "").split(os.pathsep):
        if path:
            load_plugin(path)


def load_plugins(paths: list[str], root: Path) -> None:
    """Load the plugins listed in params.yaml (`plugins:`), paths relative to the repository root."""
    _load_all()
    for path in paths:
        load_plugin(path, root)


def _base(name: str) -> Variant:
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise RegistryError(f"unknown variant {name!r}; registered variants: {known}")
    return _REGISTRY[name]


def get(name: str) -> Variant:
    """A registered variant, or `<variant>+<option>+...` with the options applied left to right."""
    _load_all()
    base, *options = name.split("+")
    variant = _base(base)
    if not options:
        return variant
    recipe, arch = asdict(variant.recipe), dict(variant.arch)
    for option_name in options:
        option = get_option(option_name)
        recipe.update(option.recipe)
        arch.update(option.arch)
    try:
        return replace(variant, name=name, recipe=Recipe(**recipe), arch=arch)
    except (ValueError, TypeError) as exc:
        raise RegistryError(f"variant {name!r}: {exc}") from None


def get_option(name: str) -> Option:
    _load_all()
    if name not in _OPTIONS:
        raise RegistryError(f"unknown option +{name}; known: {', '.join('+' + o for o in sorted(_OPTIONS))}")
    return _OPTIONS[name]


def all_options() -> list[Option]:
    _load_all()
    return [_OPTIONS[k] for k in sorted(_OPTIONS)]


def all_variants() -> list[Variant]:
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
