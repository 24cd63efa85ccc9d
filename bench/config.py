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
TRAIN_KEYS = {"kimg", "width", "family_width", "curve_every_kimg", "checkpoint_every_kimg", "curve_n"}
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
    _check_keys(settings, stage, f"profiles.{profile}.{dataset}.{stage}")
    return dict(settings)


def _check_keys(settings: dict, stage: str, where: str) -> None:
    unknown = set(settings) - STAGE_KEYS[stage]
    if unknown:
        raise ConfigError(f"params.yaml: {where} has unknown keys {sorted(unknown)}; "
                          f"allowed: {sorted(STAGE_KEYS[stage])}")


STUDY_KEYS = {"samples", "seeds", "datasets", "exclude"}


def study_profile(params: dict[str, Any], study: str) -> dict[str, Any]:
    """The active profile's settings of one study (`profiles.<p>.studies.<study>`; empty when none):
    `samples` (hyperparameter samples per loss of a sweep), `seeds`, `datasets` (the subset of the study's
    datasets this profile runs), `exclude` (variants of the study this profile skips), and per dataset the
    train/evaluate values that replace the dataset's defaults for this study's runs."""
    profile = params["profile"]
    block = (params["profiles"][profile].get("studies") or {}).get(study) or {}
    for key, value in block.items():
        if key in STUDY_KEYS:
            continue
        if not isinstance(value, dict) or set(value) - {"train", "evaluate"}:
            raise ConfigError(f"params.yaml: profiles.{profile}.studies.{study}.{key} must be a dataset with "
                              f"`train:` and/or `evaluate:` overrides (or one of {sorted(STUDY_KEYS)})")
        for stage, settings in value.items():
            _check_keys(settings, stage, f"profiles.{profile}.studies.{study}.{key}.{stage}")
    return block


def run_settings(params: dict[str, Any], run: RunId, stage: str) -> dict[str, Any]:
    """A stage's settings for one run: its dataset's, with its study's overrides on top."""
    settings = stage_settings(params, run.dataset, stage)
    settings.update((study_profile(params, run.study).get(run.dataset) or {}).get(stage) or {})
    return settings


def family_width(train: dict[str, Any], family: str) -> dict[str, Any]:
    """Train settings with `width` resolved for one architecture family: `family_width` maps a family to
    the width its runs use instead (families whose published networks are wide at every resolution, so a
    CPU profile scales them further); the mapping itself is dropped, so a run's config holds only the
    width it trained at."""
    train = dict(train)
    widths = train.pop("family_width", None) or {}
    if not isinstance(widths, dict):
        raise ConfigError(f"params.yaml: train.family_width must map families to widths, got {widths!r}")
    train["width"] = widths.get(family, train["width"])
    return train


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
    """A study file's entry. A plain study lists variants per dataset. A sweep (`sweep:`) crosses each
    listed base variant with every loss and the first `samples` drawn hyperparameter samples, as runs
    named `<base>+<loss>~hNN` (bench/sweep.py)."""

    name: str
    title: str
    datasets: dict[str, list[str]]
    seeds: list[int]
    kind: str = "table"  # "table" | "sweep" | "mode-collapse" | "ablation"
    losses: tuple[str, ...] = ()
    samples: int = 0
    path: Path | None = None

    def variants(self, dataset: str) -> list[str]:
        bases = self.datasets.get(dataset, [])
        if self.kind != "sweep":
            return list(bases)
        return [f"{b}+{loss}~{sweep_sample_name(k)}" for b in bases for loss in self.losses
                for k in range(self.samples)]

    def runs(self) -> list[RunId]:
        return [RunId(self.name, ds, v, s) for ds in self.datasets for v in self.variants(ds) for s in self.seeds]


STUDY_FILE_KEYS = {"title", "datasets", "seeds", "kind", "sweep"}


def sweep_sample_name(index: int) -> str:
    """Sample `index` of a sweep as it appears in run names and in the study file (h00 = the defaults)."""
    return f"h{index:02d}"


def load_studies(root: Path, params: dict[str, Any]) -> list[Study]:
    studies = []
    for path in sorted((root / "pipelines").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for name, body in doc.items():
            unknown = set(body) - STUDY_FILE_KEYS
            if unknown:
                raise ConfigError(f"{path}: study {name!r} has unknown keys {sorted(unknown)}")
            kind = body.get("kind", "sweep" if "sweep" in body else "table")
            if kind not in ("table", "sweep", "mode-collapse", "ablation"):
                raise ConfigError(f"{path}: study {name!r} has kind {kind!r}; use table, sweep, mode-collapse "
                                  "or ablation")
            profile = study_profile(params, name)
            datasets = {ds: [v for v in vs if v not in profile.get("exclude", [])]
                        for ds, vs in (body.get("datasets") or {}).items() if ds in profile.get("datasets", [ds])}
            seeds = list(profile.get("seeds", body.get("seeds", params["seeds"])))
            losses, samples = (), 0
            if kind == "sweep":
                sweep = body.get("sweep") or {}
                losses = tuple(sweep.get("losses", ()))
                if "samples" not in profile:
                    raise ConfigError(f"params.yaml: profiles.{params['profile']}.studies.{name}.samples is "
                                      "missing (hyperparameter samples per loss for this profile)")
                samples = int(profile["samples"])
                drawn = sweep.get("drawn") or {}
                short = [loss for loss in losses
                         if any(sweep_sample_name(k) not in (drawn.get(loss) or {}) for k in range(samples))]
                if short:
                    raise ConfigError(f"{path}: study {name!r} has fewer than {samples} drawn samples for "
                                      f"{short}; run `gbench sweep-sample {name} --k {samples}`")
            studies.append(Study(name, body.get("title", name), datasets, seeds, kind, losses, samples, path))
    return studies
