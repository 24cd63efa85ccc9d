"""The registry as the harness sees it: load every family, option and plugin once, compose a variant name
into the `Variant` it denotes, and reject combinations that cannot train before any stage runs.

`models/` registers the families when imported, bench/training/options.py the named options, and a
user's plugin (params.yaml `plugins:`, or `GBENCH_PLUGINS`) its own variants. `variant("dcgan+hinge+sn")`
applies the options left to right and checks the result: the loss's own requirements, and that the
networks offer what each option needs (a discriminator with `features` + a linear `head` for feature
matching and the minibatch layers, a style-based G for path length regularization, ...). The check reads
the classes the factories build, so no network is constructed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import typing
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from models.registry import (
    Option,
    Recipe,
    RegistryError,
    Variant,
    factories_in,
    registered_options,
    registered_variants,
)

_LOADED = False


def load_plugin(path: str, root: Path | None = None) -> None:
    """Import a user's variant module from a file path (relative to `root`) or a dotted module name."""
    if path.endswith(".py"):
        file = Path(path) if root is None else Path(root) / path
        if not file.is_file():
            raise RegistryError(f"plugin file {file} does not exist; fix `plugins:` in params.yaml or GBENCH_PLUGINS")
        name = f"gbench_plugin_{file.stem}"
        if name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        try:
            importlib.import_module(path)
        except ModuleNotFoundError as exc:
            raise RegistryError(f"plugin module {path!r} cannot be imported ({exc}); fix `plugins:` in "
                                "params.yaml or GBENCH_PLUGINS") from None


def load(plugins: Iterable[str] = (), root: Path | None = None) -> None:
    """Register the built-in families and options (once), then the given plugins and GBENCH_PLUGINS."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from bench.training import options  # noqa: F401  (registers the named options)

        importlib.import_module("models")  # registers every family (by name: not a code dependency of a run)
        for path in os.environ.get("GBENCH_PLUGINS", "").split(os.pathsep):
            if path:
                load_plugin(path)
    for path in plugins:
        load_plugin(path, root)


def all_variants() -> list[Variant]:
    load()
    return [v for _, v in sorted(registered_variants().items())]


def all_options() -> list[Option]:
    load()
    return [o for _, o in sorted(registered_options().items())]


def option(name: str) -> Option:
    load()
    options = registered_options()
    if name not in options:
        raise RegistryError(f"unknown option +{name}; known: {', '.join('+' + o for o in sorted(options))}")
    return options[name]


def base(name: str) -> Variant:
    load()
    variants = registered_variants()
    if name not in variants:
        from bench.protocol.schema import did_you_mean

        raise RegistryError(f"unknown variant {name!r}{did_you_mean(name, variants)}; registered variants: "
                            f"{', '.join(sorted(variants))}")
    return variants[name]


def compose(registry_name: str) -> Variant:
    """`<variant>+<option>+...`: the registered variant with the options applied left to right, checked."""
    from bench.protocol.names import VariantName

    name = VariantName.parse(registry_name)
    variant = base(name.base)
    if name.options:
        recipe, arch, discriminator = asdict(variant.recipe), dict(variant.arch), variant.discriminator
        wrappers, papers = [], [variant.paper]
        for option_name in name.options:
            chosen = option(option_name)
            recipe.update(chosen.recipe)
            arch.update(chosen.arch)
            discriminator = chosen.discriminator or discriminator
            wrappers += [chosen.wraps_discriminator] if chosen.wraps_discriminator else []
            papers.append(f"+{chosen.name}: {chosen.paper}")  # every page that names the run says what it took
        for wrap in wrappers:  # around the D the options end with, whatever their order
            discriminator = wrap(discriminator)
        variant = with_recipe(replace(variant, paper="; ".join(papers), arch=arch, discriminator=discriminator),
                              name.registry_name, recipe)
    return check(variant)


def with_recipe(variant: Variant, name: str, changes: dict[str, Any]) -> Variant:
    """The variant renamed, with recipe fields replaced (an option's, or a sweep sample's)."""
    try:
        return replace(variant, name=name, recipe=Recipe(**{**asdict(variant.recipe), **changes}))
    except (ValueError, TypeError) as exc:
        raise RegistryError(f"variant {name!r}: {exc}") from None


def check(variant: Variant) -> Variant:
    """The variant, or a RegistryError naming it and every reason it cannot train."""
    found = problems(variant)
    if found:
        raise RegistryError(f"variant {variant.name!r} cannot train: {'; '.join(found)}")
    return variant


def made_class(factory: Callable[..., Any]) -> type | None:
    """The class a network factory builds: the factory itself, or a factory function's return annotation; for a
    factory that adds a module to the one another builds (`base`, e.g. `+vision-aided`), that one's class."""
    base = (getattr(factory, "keywords", None) or {}).get("base")
    if base is not None:
        return made_class(base)
    if inspect.isclass(factory):
        return factory
    try:
        made = typing.get_type_hints(factory).get("return")
    except Exception:  # noqa: BLE001  (an annotation that does not resolve says nothing about the class)
        return None
    return made if inspect.isclass(made) else None


def _accepts(factory: Callable[..., Any], keyword: str) -> bool:
    parameters = inspect.signature(factory).parameters
    return keyword in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _follows_feature_protocol(d: type | None) -> bool:
    from models.base import FeatureDiscriminator

    return d is not None and issubclass(d, FeatureDiscriminator)


def _task_problems(variant: Variant) -> list[str]:
    """Recipe settings the variant's task kind does not read (they would be silently ignored)."""
    from dataclasses import fields

    from models.registry import TOKENIZER_FIELDS, TRANSLATION_FIELDS, Recipe

    default, r = Recipe(), variant.recipe
    changed = [f.name for f in fields(Recipe) if getattr(r, f.name) != getattr(default, f.name)]
    if variant.task == "translation":
        from bench.training.tasks.translation import CRITERIA

        read = {*TRANSLATION_FIELDS, "loss", "lr_g", "lr_d", "betas", "batch"}
        found = [f"translation trains with the GAN criteria {', '.join(CRITERIA)}, not {r.loss!r}"] \
            if r.loss not in CRITERIA else []
        if ignored := [name for name in changed if name not in read]:
            found.append(f"translation does not use {', '.join(ignored)}: drop the options that set them")
        return found
    if variant.task == "tokenizer":
        read = {*TOKENIZER_FIELDS, "l1_weight", "adversarial_weight", "d_loss_scale", "loss", "lr_g", "lr_d", "betas",
                "batch"}
        if ignored := [name for name in changed if name not in read]:
            return [f"the tokenizer does not use {', '.join(ignored)}: drop the options that set them"]
        return []
    if ignored := [name for name in changed if name in (*TRANSLATION_FIELDS, *TOKENIZER_FIELDS)]:
        return [f"{', '.join(ignored)} are translation or tokenizer settings (pix2pix, CycleGAN, VQ-GAN); a generator "
                "does not use them"]
    return []


def problems(variant: Variant) -> list[str]:
    """Why `variant` cannot train (empty when it can), each with what to do instead."""
    from bench.training.losses import LOSSES

    r, found = variant.recipe, []
    if r.diffaug:
        from bench.training.augment import policy_problem

        if problem := policy_problem(r.diffaug):
            found.append(problem)
        if "images" not in variant.data_kinds:
            found.append("DiffAugment transforms images; this variant trains on "
                         f"{', '.join(variant.data_kinds)}: drop +diffaug")
    if r.ada_p or r.ada_target:
        if "images" not in variant.data_kinds:
            found.append("ADA augments images; this variant trains on "
                         f"{', '.join(variant.data_kinds)}: drop +ada")
        if r.diffaug:
            found.append("ADA and DiffAugment are two augmentations of D's input; keep one (+ada or +diffaug)")
    if r.vision_aided and "images" not in variant.data_kinds:
        found.append("the vision-aided D reads images with an ImageNet network; this variant trains on "
                     f"{', '.join(variant.data_kinds)}: drop +vision-aided")
    adds = {getattr(getattr(f, "func", f), "adds", None) for f in factories_in(variant.discriminator)}
    if r.vision_aided and "vision_aided" not in adds:
        found.append(f"vision_aided = {r.vision_aided} weighs a vision-aided D its discriminator does not have: "
                     "take the +vision-aided option (or +vision-aided-64), which adds it")
    loss = LOSSES.get(r.loss)
    if loss is None:
        found.append(f"unknown loss {r.loss!r} (known: {', '.join(sorted(LOSSES))})")
    else:
        if loss.penalty and r.penalty_weight <= 0:
            found.append(f"loss {r.loss!r} is defined with a gradient penalty: set penalty_weight > 0")
        if loss.clip and r.clip <= 0:
            found.append(f"loss {r.loss!r} clips D's weights: set clip > 0")
        if r.label_smoothing and not loss.smoothable:
            found.append(f"label smoothing (+smooth) needs a loss with a real target (mm, ns, lsgan, dragan), "
                         f"not {r.loss!r}")
    found += _task_problems(variant)
    takers = (variant.generator, variant.discriminator) if variant.task else (variant.generator,)
    unsupported = [k for k in variant.arch if not any(_accepts(f, k) for f in takers)]
    if unsupported:
        found.append(f"its generator takes no {', '.join(unsupported)} (architecture options apply to the "
                     "families that implement them: see `gbench list`)")
    d_class, g_class = made_class(variant.discriminator), made_class(variant.generator)
    d_kinds = getattr(d_class, "data_kinds", None)  # a D that reads only some kinds of data (e.g. images)
    if d_kinds is not None and not set(variant.data_kinds) <= set(d_kinds):
        found.append(f"its discriminator {d_class.__name__} reads {', '.join(d_kinds)}; this variant trains on "
                     f"{', '.join(variant.data_kinds)}: drop the discriminator option")
    needs_features = [text for on, text in ((r.feature_matching, "feature matching (+fm)"),
                                            (r.minibatch_stddev, "minibatch stddev (+mbstd)"),
                                            (r.minibatch_discrimination, "minibatch discrimination (+mbd)")) if on]
    if needs_features and variant.conditional:
        found.append(f"{', '.join(needs_features)} {'works' if len(needs_features) == 1 else 'work'} on "
                     "unconditional discriminators only")
    elif needs_features and not _follows_feature_protocol(d_class):
        name = d_class.__name__ if d_class is not None else "its discriminator factory"
        verb = "needs" if len(needs_features) == 1 else "need"
        found.append(f"{', '.join(needs_features)} {verb} a discriminator with `features(x)` and a linear `head` "
                     f"(models/base.py FeatureDiscriminator); {name} does not follow that protocol (its own "
                     "minibatch layer or features are part of its architecture): drop the option")
    if r.unrolled_steps and variant.conditional:
        found.append("unrolled D (+unrolled) works on unconditional discriminators only")
    if r.aux_classifier and not hasattr(d_class, "forward_with_classes"):
        found.append("aux_classifier needs a D with a class head (`forward_with_classes`, e.g. acgan)")
    if r.path_length and not (hasattr(g_class, "styles") and hasattr(g_class, "synthesis")):
        found.append("path_length needs a style-based G with `styles(z)` and `synthesis(ws)` (e.g. stylegan2)")
    if r.ortho_reg and not hasattr(g_class, "orthogonal_parameters"):
        found.append("ortho_reg needs a G that names its `orthogonal_parameters` (e.g. biggan)")
    return found
