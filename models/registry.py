"""The variant registry: every GAN the harness can train is a `Variant` registered here.

A variant is data: generator and discriminator factories, the architecture settings they take, the
training recipe and the paper it reproduces. Families live in `models/` (one module each) and register
their variants when imported; a user's method is one more module, loaded with `plugins:` in params.yaml
or the `GBENCH_PLUGINS` variable. Named options (`<variant>+<option>`) are registered the same way.

This module is the contract between the model zoo and the harness. It imports nothing of the harness,
so a family module depends only on torch and on other modules of `models/`. Which families and options
exist, how names compose and which combinations can train is decided by the harness when it loads the
registry (bench/protocol/variants.py); the checks here need no knowledge of losses or training.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch.nn as nn

# Variant and option names travel through file paths, DVC stage names and shell commands: one safe alphabet.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]*")


class RegistryError(LookupError):
    """A variant, option or plugin that cannot be found, loaded or combined; the message says what to do."""


# the Recipe fields only the translation task kind reads (bench/training/tasks/translation.py)
TRANSLATION_FIELDS = ("l1_weight", "adversarial_weight", "cycle_weight", "identity_weight", "image_pool",
                      "d_loss_scale", "lr_decay_from")
# the Recipe fields only the tokenizer task kind reads (bench/training/tasks/tokenizer.py; VQ-GAN, ViT-VQGAN), which
# also reads l1_weight, adversarial_weight and d_loss_scale
TOKENIZER_FIELDS = ("l2_weight", "logit_laplace_weight", "perceptual_weight", "perceptual", "adaptive_weight",
                    "disc_start", "codebook_weight")


@dataclass(frozen=True)
class Recipe:
    """How a variant is trained. Every field is part of the run's config hash; 0 / False = off."""

    loss: str = "ns"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1  # D steps per G step
    g_on_d_fakes: bool = False  # G's step takes the last D step's fakes (pytorch/examples' DCGAN loop), not new ones
    ema_beta: float | None = None  # EMA of G weights when set (e.g. 0.999); evaluation then uses EMA-G
    batch: int = 64
    penalty_weight: float = 0.0  # lambda of the loss's own gradient penalty (wgan-gp, dragan)
    clip: float = 0.0  # WGAN weight clipping bound c
    r1: float = 0.0  # gamma: (gamma / 2) E||grad D(x)||^2 on reals (Mescheder et al. 2018)
    r2: float = 0.0  # the same on fakes
    reg_every: int = 1  # lazy regularization: R1/R2 as an extra D step every N D steps, weight x N
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
    pl_every: int = 1  # lazy path length regularization: an extra G step every N G steps, weight x N
    diffaug: str = ""  # DiffAugment policy on every D input, e.g. "color,translation,cutout" (Zhao et al. 2020)
    ada_target: float = 0.0  # ADA (Karras et al. 2020): adapt p so that E[sign D(augmented reals)] tracks this
    ada_p: float = 0.0  # ADA's augmentation probability p: its start when adaptive, else a constant (0: no ADA)
    ada_kimg: float = 0.0  # ADA's speed: p can move 0 -> 1 in this many kimg (scaled to the budget: ada.py)
    ada_interval: int = 4  # D steps between updates of an adaptive p
    vision_aided: float = 0.0  # weight of a vision-aided D beside D (Kumari et al. 2022: models/vision_aided.py)
    vision_aided_start: float = 0.05  # share of the budget trained before it joins (its reference: 500 of 10,000 kimg)
    # translation (bench/training/tasks/translation.py; pix2pix, CycleGAN)
    l1_weight: float = 0.0  # lambda of pix2pix's L1 between G(A) and the paired B
    adversarial_weight: float = 1.0  # weight of G's GAN term; 0: no D at all (pix2pix's L1-only ablation)
    cycle_weight: float = 0.0  # lambda of CycleGAN's cycle-consistency L1, each way
    identity_weight: float = 0.0  # CycleGAN's identity L1 weight, relative to cycle_weight
    image_pool: int = 0  # CycleGAN's history of generated images shown to D (Shrivastava et al. 2017)
    d_loss_scale: float = 1.0  # D's loss x this (pix2pix and CycleGAN halve it: D learns slower than G)
    lr_decay_from: float = 0.0  # share of the budget after which both lrs decay linearly to 0 (0: constant)
    # tokenizer stage 1 (bench/training/tasks/tokenizer.py; VQ-GAN, ViT-VQGAN); l1_weight weighs the pixel L1,
    # adversarial_weight the GAN term and d_loss_scale D's loss there too
    l2_weight: float = 0.0  # weight of the pixel squared error (ViT-VQGAN: 1.0)
    logit_laplace_weight: float = 0.0  # weight of the logit-Laplace NLL (ViT-VQGAN: 0.1; needs such a decoder)
    perceptual_weight: float = 0.0  # weight of the perceptual distance (VQ-GAN: 1.0, ViT-VQGAN: 0.1)
    perceptual: str = ""  # its network (bench/training/perceptual.py: an offline substitute for LPIPS-VGG)
    adaptive_weight: bool = False  # VQ-GAN's lambda: the GAN term scaled to L_rec's gradient at the last layer
    disc_start: float = 0.0  # share of the budget trained before D and the GAN term start
    codebook_weight: float = 1.0  # weight of the quantizer's codebook + commitment loss

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        problems = []
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            problems.append(f"betas must be two numbers in [0, 1), got {self.betas}")
        for name in ("lr_g", "lr_d"):
            if not 0 < getattr(self, name) < math.inf:  # also rejects NaN
                problems.append(f"{name} must be a finite number > 0, got {getattr(self, name)}")
        numbers = [f.name for f in fields(self)
                   if isinstance(getattr(self, f.name), float) and f.name not in ("lr_g", "lr_d")]
        not_finite = [name for name in numbers if not math.isfinite(getattr(self, name))]
        if not_finite or not all(math.isfinite(b) for b in self.betas):
            problems.append(f"{', '.join(not_finite) or 'betas'} must be finite")
        for name in ("n_critic", "batch", "reg_every", "pl_every", "ada_interval"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.ema_beta is not None and not 0.0 < self.ema_beta < 1.0:
            problems.append(f"ema_beta must be in (0, 1), got {self.ema_beta}")
        if self.ema_kimg and self.ema_beta is not None:
            problems.append("set one of ema_beta (a fixed decay) and ema_kimg (a half-life), not both")
        if not 0.0 <= self.ada_p <= 1.0 or not 0.0 <= self.ada_target < 1.0:
            problems.append(f"ada_p must be in [0, 1] and ada_target in [0, 1), got {self.ada_p}, {self.ada_target}")
        if self.vision_aided < 0 or not 0.0 <= self.vision_aided_start < 1.0:
            problems.append(f"vision_aided must be >= 0 and vision_aided_start in [0, 1), got {self.vision_aided}, "
                            f"{self.vision_aided_start}")
        weights = [name for name in TRANSLATION_FIELDS if name != "lr_decay_from"]
        if any(getattr(self, name) < 0 for name in weights) or not 0.0 <= self.lr_decay_from < 1.0:
            problems.append(f"{', '.join(weights)} must be >= 0 and lr_decay_from in [0, 1)")
        tokenizer = ("l2_weight", "logit_laplace_weight", "perceptual_weight", "codebook_weight")
        if any(getattr(self, name) < 0 for name in tokenizer) or not 0.0 <= self.disc_start < 1.0:
            problems.append(f"{', '.join(tokenizer)} must be >= 0 and disc_start in [0, 1)")
        if self.perceptual_weight and not self.perceptual:
            problems.append("perceptual_weight > 0 needs `perceptual`, the network that measures the distance")
        if self.ada_target and self.ada_kimg <= 0:
            problems.append("an adaptive ADA (ada_target > 0) needs ada_kimg > 0, the speed of p")
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
    regularizer/trick with its published weight or interval, or an architecture setting."""

    name: str
    kind: str  # "loss" | "regularizer" | "architecture" | "discriminator"
    paper: str
    recipe: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)
    discriminator: Callable[..., nn.Module] | None = None  # replaces the variant's D factory (e.g. `+projected`)
    # wraps the D factory the variant ends with, after every replacement (e.g. `+vision-aided` adds a second D)
    wraps_discriminator: Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]] | None = None


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
    task: str = ""  # the task kind when not generation (e.g. "translation": bench/training/tasks)
    defined_in: str = field(default="", compare=False)  # the module that registered it (set by `register`)

    @property
    def source_file(self) -> str:
        """The file that defines the generator."""
        return _file_of(self.generator)

    def code_files(self) -> list[str]:
        """The files the variant's code starts from: where it is registered and where its networks are defined
        (the roots of its import closure, bench/protocol/dependencies.py)."""
        files = [self.defined_in, _file_of(self.generator), *map(_file_of, factories_in(self.discriminator))]
        return list(dict.fromkeys(f for f in files if f))

    def describe(self) -> dict[str, Any]:
        """The variant as plain data (for hashes, pages and `gbench list`)."""
        return {
            "name": self.name,
            "family": self.family,
            "paper": self.paper,
            "recipe": asdict(self.recipe),
            "discriminator": factory_name(self.discriminator),
            "arch": dict(self.arch),
            "z_dim": self.z_dim,
            "data_kinds": list(self.data_kinds),
            "conditional": self.conditional,
            "truncation": self.truncation,
            **({"task": self.task} if self.task else {}),
        }


def factory_name(factory: Callable[..., nn.Module]) -> str:
    """A network factory as text: `module.name`, with a functools.partial's bound arguments, e.g.
    `models.stylegan2.StyleGAN2Discriminator(config='a')`."""
    func = getattr(factory, "func", factory)
    name = f"{func.__module__}.{func.__qualname__}"
    bound = [*map(_bound_text, getattr(factory, "args", ())),
             *(f"{k}={_bound_text(v)}" for k, v in sorted((getattr(factory, "keywords", None) or {}).items()))]
    return f"{name}({', '.join(bound)})" if bound else name


def _bound_text(value: Any) -> str:
    """A bound argument as text: a factory it wraps by its factory name, anything else by repr."""
    return factory_name(value) if callable(value) else repr(value)


def factories_in(factory: Callable[..., nn.Module]) -> list[Callable[..., nn.Module]]:
    """The factory and every factory it wraps (bound as an argument of a functools.partial), outermost first."""
    bound = [*getattr(factory, "args", ()), *(getattr(factory, "keywords", None) or {}).values()]
    return [factory] + [inner for value in bound if callable(value) for inner in factories_in(value)]


def _file_of(factory: Callable[..., nn.Module]) -> str:
    """The source file of a network factory (a class, a function or a functools.partial of one)."""
    try:
        return inspect.getsourcefile(getattr(factory, "func", factory)) or ""
    except TypeError:  # a builtin or a C extension type
        return ""


_VARIANTS: dict[str, Variant] = {}
_OPTIONS: dict[str, Option] = {}


def _check_name(name: str, what: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise RegistryError(f"{what} name {name!r} is not valid: use lower-case letters, digits, '-' and '.', "
                            "starting with a letter or digit")


def register(variant: Variant) -> Variant:
    _check_name(variant.name, "variant")
    if not variant.defined_in:
        caller = sys._getframe(1).f_globals.get("__file__") or ""
        variant = replace(variant, defined_in=caller)
    existing = _VARIANTS.get(variant.name)
    if existing is not None and existing.source_file != variant.source_file:
        raise RegistryError(
            f"variant {variant.name!r} is registered twice ({existing.source_file} and "
            f"{variant.source_file}); rename one of them"
        )
    _VARIANTS[variant.name] = variant
    return variant


def register_option(option: Option) -> Option:
    _check_name(option.name, "option")
    if option.name in _OPTIONS and _OPTIONS[option.name] != option:
        raise RegistryError(f"option {option.name!r} is registered twice with different changes; rename one")
    _OPTIONS[option.name] = option
    return option


def registered_variants() -> dict[str, Variant]:
    """Every variant registered so far, by name (a copy)."""
    return dict(_VARIANTS)


def registered_options() -> dict[str, Option]:
    """Every option registered so far, by name (a copy)."""
    return dict(_OPTIONS)
