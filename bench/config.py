"""The protocol in params.yaml, studies in pipelines/*.yaml, and run identities.

One documented place for every option: unknown keys are errors, so a typo never silently falls back
to a default. A run is (study, dataset, variant, seed) with the readable id
`study/dataset/variant/sN`; its folder is results/<id>/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROFILES = ("smoke", "quick", "standard", "paper")
TRAIN_KEYS = {"kimg", "width", "curve_every_kimg", "checkpoint_every_kimg", "curve_n"}
EVAL_KEYS = {"n_gen", "kid_subsets", "kid_subset_size", "batch", "backbones"}
REFERENCE_KEYS = {"n_ref", "batch"}
CLASSIFIER_KEYS = {"epochs", "batch", "lr", "n_train"}
STAGE_KEYS = {"train": TRAIN_KEYS, "evaluate": EVAL_KEYS, "reference": REFERENCE_KEYS,
              "classifier": CLASSIFIER_KEYS}


class ConfigError(ValueError):
    """params.yaml or a study file that does not describe a valid protocol."""


def load_params(root: Path) -> dict[str, Any]:
    path = root / "params.yaml"
    if not path.is_file():
        raise ConfigError(f"{path} not found; run gbench from the repository root")
    params = yaml.safe_load(path.read_text()) or {}
    unknown = set(params) - {"profile", "seeds", "profiles", "plugins", "device"}
    if unknown:
        raise ConfigError(f"params.yaml: unknown top-level keys {sorted(unknown)}")
    if params.get("profile") not in params.get("profiles", {}):
        raise ConfigError(f"params.yaml: profile {params.get('profile')!r} is not defined under "
                          f"`profiles:` (defined: {sorted(params.get('profiles', {}))})")
    return params


def stage_settings(params: dict[str, Any], dataset: str, stage: str) -> dict[str, Any]:
    """The active profile's settings of one stage for one dataset (validated)."""
    profile = params["profile"]
    block = params["profiles"][profile].get(dataset)
    if block is None:
        raise ConfigError(f"params.yaml: profile {profile!r} has no settings for dataset {dataset!r}")
    settings = block.get(stage)
    if settings is None:
        raise ConfigError(f"params.yaml: profiles.{profile}.{dataset}.{stage} is missing")
    unknown = set(settings) - STAGE_KEYS[stage]
    if unknown:
        raise ConfigError(f"params.yaml: profiles.{profile}.{dataset}.{stage} has unknown keys "
                          f"{sorted(unknown)}; allowed: {sorted(STAGE_KEYS[stage])}")
    return dict(settings)


@dataclass(frozen=True, order=True)
class RunId:
    study: str
    dataset: str
    variant: str
    seed: int

    @classmethod
    def parse(cls, text: str) -> RunId:
        parts = text.strip("/").split("/")
        if len(parts) != 4 or not parts[3].startswith("s") or not parts[3][1:].isdigit():
            raise ConfigError(f"run id {text!r} is not of the form study/dataset/variant/sN")
        return cls(parts[0], parts[1], parts[2], int(parts[3][1:]))

    def __str__(self) -> str:
        return f"{self.study}/{self.dataset}/{self.variant}/s{self.seed}"

    def folder(self, root: Path) -> Path:
        return root / "results" / self.study / self.dataset / self.variant / f"s{self.seed}"


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    datasets: dict[str, list[str]]
    seeds: list[int]

    def runs(self) -> list[RunId]:
        return [RunId(self.name, ds, v, s) for ds, vs in self.datasets.items() for v in vs for s in self.seeds]


def load_studies(root: Path, params: dict[str, Any]) -> list[Study]:
    studies = []
    for path in sorted((root / "pipelines").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for name, body in doc.items():
            unknown = set(body) - {"title", "datasets", "seeds"}
            if unknown:
                raise ConfigError(f"{path}: study {name!r} has unknown keys {sorted(unknown)}")
            datasets = {ds: list(vs) for ds, vs in (body.get("datasets") or {}).items()}
            studies.append(Study(name, body.get("title", name), datasets,
                                 list(body.get("seeds", params["seeds"]))))
    return studies
