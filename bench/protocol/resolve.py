"""One run's whole configuration, resolved once: `Protocol.resolve(run)` -> `ResolvedRun`.

A `ResolvedRun` is frozen: the parsed variant name, the variant it denotes (options and sweep sample
applied, checked), the dataset, the stage settings the active profile gives this run (study overrides and
family widths applied), the device setting and the task kind. It serialises to the run's config.json
(`config`, whose hash names the configuration) and builds its own networks. The train, evaluate,
pipelines, sweep and aggregate code paths all start from it; nothing else parses names or settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bench.data.datasets import DatasetSpec, spec
from bench.protocol import variants
from bench.protocol.errors import ConfigError
from bench.protocol.io import stable_hash
from bench.protocol.names import VariantName
from bench.protocol.params import (
    budget_problem,
    family_width,
    load_params,
    micro_batch_problem,
    reference_backbones,
    run_settings,
)
from bench.protocol.runs import RunId
from bench.protocol.studies import Study, find_study, load_studies
from bench.protocol.sweep import recipe_changes
from models.registry import RegistryError, Variant

if TYPE_CHECKING:
    import torch.nn as nn

def task_kind(variant: Variant) -> str:
    """The task kind a variant trains under (bench/training/tasks)."""
    if variant.task:
        return variant.task
    return "class-conditional" if variant.conditional else "unconditional"


@dataclass(frozen=True)
class ResolvedRun:
    run: RunId
    name: VariantName
    variant: Variant
    dataset: DatasetSpec
    profile: str
    train: MappingProxyType  # the train stage's settings (the family's width resolved)
    evaluate: MappingProxyType  # the evaluate stage's settings
    reference_backbones: tuple[str, ...]  # image backbones whose reference arrays the dataset's profile computes
    device: str
    task: str
    # the tokenizer prior stage's settings (empty for other kinds)
    prior: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @property
    def n_classes(self) -> int:
        """Classes the networks are conditioned on (0: unconditional)."""
        return self.dataset.n_labels if self.variant.conditional else 0

    @cached_property
    def config(self) -> dict[str, Any]:
        """config.json of the run: everything that determines its training, and the hash of that."""
        config = {
            "run": str(self.run),
            "dataset": self.run.dataset,
            "data_shape": list(self.dataset.shape),
            "data_kind": self.dataset.kind,
            "seed": self.run.seed,
            "profile": self.profile,
            "train": dict(self.train),
            "variant": self.variant.describe(),
            "n_classes": self.n_classes,
        }
        config["config_hash"] = stable_hash(config)
        return config

    @property
    def config_hash(self) -> str:
        return self.config["config_hash"]

    def build_models(self) -> tuple[nn.Module, nn.Module]:
        """G and D as this run trains them (D with the recipe's D-side layers), from the global torch RNG."""
        from bench.training.tasks import task_of

        return task_of(self.task).build_networks(self)


ZOO_RESOLUTION = (32, 32)  # the image size every family of models/ is built and tested at


class Protocol:
    """params.yaml and the studies, checked once; resolves run ids into ResolvedRuns."""

    def __init__(self, root: Path, params: dict[str, Any], studies: list[Study]) -> None:
        self.root, self.params, self.studies = root, params, studies
        self._built: set[tuple] = set()

    @classmethod
    def load(cls, root: Path) -> Protocol:
        params = load_params(root)
        protocol = cls(root, params, load_studies(root, params))
        variants.load(params.get("plugins") or [], root)
        return protocol

    def study(self, name: str) -> Study:
        return find_study(self.studies, name)

    def runs(self) -> list[RunId]:
        return [run for study in self.studies for run in study.runs()]

    def resolve_all(self) -> list[ResolvedRun]:
        """Every run of every study, resolved: the first that cannot train raises its error."""
        return [self.resolve(run) for run in self.runs()]

    def summary(self) -> str:
        runs = self.runs()
        return (f"{len(runs)} runs in {len(self.studies)} studies (profile {self.params['profile']}) resolve: "
                + ", ".join(f"{s.name} {len(s.runs())}" for s in self.studies))

    def variant(self, study: Study, name: VariantName) -> Variant:
        """The variant a run of `study` trains: the composed name, and a sweep's drawn sample on top."""
        variant = variants.compose(name.registry_name)
        if name.sample is None:
            return variant
        if study.kind != "sweep":
            raise ConfigError(f"{study.path}: variant {str(name)!r} names a sweep sample, but study {study.name!r} "
                              "is not a sweep")
        values = study.sample(name.sweep_loss, name.sample)
        return variants.check(variants.with_recipe(variant, str(name), recipe_changes(
            name.sweep_loss, values, variant.recipe.betas[1])))

    def resolve(self, run: RunId) -> ResolvedRun:
        study, name, dataset = self.study(run.study), run.name, spec(run.dataset)
        variant = self.variant(study, name)
        if dataset.variant_kind not in variant.data_kinds:
            raise RegistryError(f"variant {variant.name!r} handles {list(variant.data_kinds)} data, but "
                                f"{run.dataset!r} is {dataset.variant_kind!r}; remove it from that dataset in "
                                f"{study.path}")
        if variant.conditional and not dataset.n_labels:
            raise RegistryError(f"variant {variant.name!r} is class-conditional, but {run.dataset!r} has no class "
                                f"labels; run it on a labeled dataset (e.g. fmnist32), not in {study.path}")
        train = family_width(run_settings(self.params, run.study, run.dataset, "train"), variant.family)
        evaluate = run_settings(self.params, run.study, run.dataset, "evaluate")
        task = task_kind(variant)
        prior = run_settings(self.params, run.study, run.dataset, "prior") if task == "tokenizer" else {}
        resolved = ResolvedRun(run=run, name=name, variant=variant, dataset=dataset, profile=self.params["profile"],
                               train=MappingProxyType(train), evaluate=MappingProxyType(evaluate),
                               reference_backbones=reference_backbones(self.params, run.dataset),
                               device=self.params.get("device", "auto"), task=task, prior=MappingProxyType(prior))
        for key, problem in (("micro_batch", micro_batch_problem(variant.recipe.batch, train.get("micro_batch"))),
                             ("budget_unit", budget_problem(train))):
            if problem:
                raise ConfigError(f"params.yaml: the train setting {key} of {run} (profile "
                                  f"{self.params['profile']}, dataset {run.dataset}): {problem}")
        if dataset.kind == "images" and tuple(dataset.shape[1:]) != ZOO_RESOLUTION:
            self._check_builds(resolved, study)
        return resolved

    def planning_run(self, name: str, dataset: str) -> ResolvedRun:
        """Variant `name` as a run on `dataset` would train it under the active profile (its width and budget),
        outside every study: for planning (`gbench list --flops`), never trained."""
        variant, data = variants.compose(name), spec(dataset)
        train = family_width(run_settings(self.params, "", dataset, "train"), variant.family)
        evaluate = run_settings(self.params, "", dataset, "evaluate")
        return ResolvedRun(run=RunId("plan", dataset, VariantName.parse(name).registry_name, 0),
                           name=VariantName.parse(name), variant=variant, dataset=data, profile=self.params["profile"],
                           train=MappingProxyType(train), evaluate=MappingProxyType(evaluate),
                           reference_backbones=(), device="cpu", task=task_kind(variant))

    def _check_builds(self, run: ResolvedRun, study: Study) -> None:
        """A variant on images of a size other than the zoo's 32x32 is built once here (per variant, shape and
        width), so a network that cannot take that size is refused before any stage runs, not inside one."""
        import torch

        key = (run.variant.name, tuple(run.dataset.shape), run.train["width"], run.n_classes)
        if key in self._built:
            return
        try:
            with torch.random.fork_rng(devices=[]):  # resolving draws nothing from the caller's random stream
                run.build_models()
        except (ValueError, RuntimeError, NotImplementedError) as exc:
            raise ConfigError(f"{study.path}: variant {run.variant.name!r} cannot be built for {run.run.dataset!r} "
                              f"({'x'.join(map(str, run.dataset.shape))}): {exc}; remove it from that dataset's "
                              "list") from None
        self._built.add(key)


def resolve(run: RunId, root: Path, protocol: Protocol | None = None) -> ResolvedRun:
    """The run resolved against `protocol` (loaded from `root` when not given)."""
    return (protocol or Protocol.load(root)).resolve(run)
