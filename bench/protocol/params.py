"""The protocol in params.yaml: which profile is active, and each stage's settings per dataset and study.

One documented place for every option (the comment block at the top of params.yaml explains them; the
schema below checks them): types, ranges, required keys and unknown keys are errors with the key path and
a fix, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.data.datasets import BUILT_IN, DATASETS, SubsetSpec, declare, spec
from bench.data.paper_translation import ARCHIVES as TRANSLATION_ARCHIVES
from bench.protocol.errors import ConfigError
from bench.protocol.names import VariantName
from bench.protocol.schema import Flag, Int, Mapping, Number, Sequence, Text, raise_problems, read_yaml

PROFILES = ("smoke", "quick", "standard", "paper")
BACKBONES = ("inception", "domain")


def _variant_name(text: str) -> str | None:
    try:
        VariantName.parse(text)
    except ConfigError as exc:
        return str(exc)
    return None


def _protocol_name(text: str) -> str | None:
    from bench.protocol.metric_protocols import parse

    try:
        parse(text)
    except ValueError as exc:
        return str(exc)
    return None


def _positive(doc: str) -> Number:
    return Number(doc=doc, gt=0)


SEEDS = Sequence(Int("a seed: an integer >= 0", ge=0), doc="a non-empty list of integer seeds >= 0, e.g. [0, 1, 2]",
                 min_len=1, unique=True)
DATASET = Text(doc="a dataset name", choices=lambda: tuple(sorted(DATASETS)))


def _dataset_name(text: str) -> str | None:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", text):
        return f"{text!r} is not a dataset name: lower-case letters, digits and '-', starting with a letter"
    return None


DECLARED = Mapping(
    {"source": Text(doc="the dataset's zip or folder (`gbench dataset-tool` writes one), relative to the repository"),
     "resolution": Int("the side of its square images, a power of two (e.g. 64)", ge=4),
     "channels": Int("1 (gray) or 3 (RGB)", ge=1),
     "labels": Flag(doc="true if its dataset.json labels every image (class-conditional variants train on them)"),
     "classes": Int("the number of classes of its labels, an integer >= 2", ge=2),
     "description": Text(doc="a one-line description")},
    required=("source", "resolution", "channels"), doc="a dataset: {source, resolution, channels[, labels, classes]}")
VARIANT = Text(doc="a variant name, e.g. dcgan+hinge+sn", valid=_variant_name)

TRAIN_FIELDS = {
    "kimg": _positive("the budget in thousands of images shown to D, > 0 (e.g. 10)"),
    "width": _positive("a multiplier of the published channel counts, > 0 (e.g. 0.25)"),
    "family_width": Mapping(keys=Text(doc="an architecture family"), values=_positive("a width > 0"),
                            doc="a mapping of architecture families to widths, e.g. {stylegan2: 0.0625}"),
    "curve_every_kimg": _positive("kimg between curve points, > 0"),
    "checkpoint_every_kimg": _positive("kimg between checkpoints, > 0"),
    "curve_n": Int("samples kept per curve point, an integer >= 2", ge=2),
    "budget_unit": Text(doc="the budget's unit: kimg (images shown to D, the default), gflop (training FLOPs) or "
                            "device_seconds (train-stage wall clock; not bit-reproducible)",
                        choices=("kimg", "gflop", "device_seconds")),
    "gflop": _positive("the FLOP budget in GFLOP (with budget_unit: gflop), > 0"),
    "device_seconds": _positive("the wall-clock budget in seconds (with budget_unit: device_seconds), > 0"),
    "micro_batch": Int("the micro-batch size: a step's batch is split into micro-batches of this size whose gradients "
                       "are accumulated (and shared among `nproc` ranks), an integer >= 1 dividing the batch", ge=1),
}
EVALUATE_FIELDS = {
    "n_gen": Int("the number of generated samples scored, an integer >= 2", ge=2),
    "kid_subsets": Int("the number of KID subsets, an integer >= 1", ge=1),
    "kid_subset_size": Int("the KID subset size, an integer >= 2", ge=2),
    "batch": Int("a batch size, an integer >= 1", ge=1),
    "backbones": Sequence(Text(doc="a backbone", choices=BACKBONES), doc="a list of backbones: inception, domain",
                          min_len=1, unique=True),
    "truncation_n": Int("samples per point of the truncation curve (variants that draw one), an integer >= 2 "
                        "(default 2000)", ge=2),
    "temperature": _positive("the tokenizer prior's sampling temperature, > 0 (default 1)"),
    "top_k": Int("the tokenizer prior samples among its k most likely codes, an integer >= 1 (default: all)", ge=1),
    "top_p": Number(doc="the tokenizer prior samples from the smallest set of codes holding this probability, in "
                        "(0, 1) (default: all codes)", gt=0, lt=1),
}
PRIOR_FIELDS = {
    "kimg": _positive("the prior's budget in thousands of code sequences shown, > 0 (e.g. 20)"),
    "batch": Int("sequences per step, an integer >= 1", ge=1),
    "lr": _positive("AdamW's learning rate, > 0 (e.g. 0.0003)"),
    "weight_decay": Number(doc="AdamW's weight decay, >= 0 (default 0.01)", ge=0),
    "width": Int("the transformer's width, an integer >= 1 divisible by heads", ge=1),
    "depth": Int("transformer blocks, an integer >= 1", ge=1),
    "heads": Int("attention heads, an integer >= 1", ge=1),
    "dropout": Number(doc="dropout (minGPT's places), in [0, 1) (default 0)", ge=0, lt=1),
    "n_train": Int("train images whose codes the prior learns: the first n (default: all)", ge=1),
    "curve_every_kimg": _positive("kimg between curve points, > 0"),
    "checkpoint_every_kimg": _positive("kimg between checkpoints, > 0"),
    "curve_n": Int("samples kept per curve point, an integer >= 2", ge=2),
}
STAGES = {
    "train": Mapping(TRAIN_FIELDS, required=("kimg", "width", "curve_every_kimg", "checkpoint_every_kimg", "curve_n"),
                     doc="train settings: {kimg, width, curve_every_kimg, checkpoint_every_kimg, curve_n}"),
    "evaluate": Mapping(EVALUATE_FIELDS, doc="evaluate settings: {n_gen, ...}"),
    "prior": Mapping(PRIOR_FIELDS, required=("kimg", "batch", "lr", "width", "depth", "heads", "curve_every_kimg",
                                             "checkpoint_every_kimg", "curve_n"),
                     doc="the tokenizer prior's settings: {kimg, batch, lr, width, depth, heads, curve_every_kimg, "
                         "checkpoint_every_kimg, curve_n}"),
    "reference": Mapping({"n_ref": Int("the number of reference images, an integer >= 2", ge=2),
                          "split": Text(doc="the split samples are scored against: eval (the default) or train",
                                        choices=("eval", "train")),
                          "batch": Int("a batch size, an integer >= 1", ge=1)},
                         doc="reference settings: {n_ref, split, batch}"),
    "classifier": Mapping({"epochs": Int("epochs, an integer >= 1", ge=1),
                           "batch": Int("a batch size, an integer >= 1", ge=1),
                           "lr": _positive("a learning rate > 0"),
                           "n_train": Int("training images, an integer >= 1", ge=1)},
                          required=("epochs", "batch", "lr"), doc="classifier settings: {epochs, batch, lr}"),
}
STUDY_OVERRIDE = Mapping({"train": Mapping(TRAIN_FIELDS, doc="train values replacing the dataset's"),
                          "evaluate": Mapping(EVALUATE_FIELDS, doc="evaluate values replacing the dataset's"),
                          "prior": Mapping(PRIOR_FIELDS, doc="prior values replacing the dataset's")},
                         doc="train/evaluate values that replace the dataset's own for this study's runs")
STUDY_PROFILE = Mapping(
    {"samples": Int("hyperparameter samples per loss of a sweep, an integer >= 1", ge=1),
     "seeds": SEEDS,
     "datasets": Sequence(DATASET, doc="a list of the study's datasets this profile runs", unique=True),
     "exclude": Sequence(VARIANT, doc="a list of the study's variants this profile skips", unique=True)},
    keys=DATASET, values=STUDY_OVERRIDE, doc="a study's settings in this profile")
PROFILE = Mapping(
    {"studies": Mapping(keys=Text(doc="a study name"), values=STUDY_PROFILE, doc="per study settings"),
     "group_runs": Flag(doc="true to train (and score) a variant's seeds, or a sweep loss's samples and seeds, in one "
                            "stage, one process; false for a stage per run (what a cluster wants)")},
    keys=DATASET, values=Mapping({**STAGES, "protocol": Text(
        doc="the metric protocol this dataset is scored under, by name, e.g. fid50k_full or fid10k_test "
            "(bench/protocol/metric_protocols.py): it sets evaluate.n_gen and the reference's split and size",
        valid=_protocol_name)}, doc="a dataset's stage settings"), doc="a profile")
PARAMS = Mapping(
    {"profile": Text(doc="the active profile's name, e.g. quick"),
     "seeds": SEEDS,
     "device": Text(doc="auto, cpu, cuda or cuda:N"),
     "nproc": Int("the ranks each train stage runs on (torch.distributed), an integer >= 1", ge=1),
     "data": Mapping({"fmnist_dir": Text(doc="the folder of the four Fashion-MNIST .gz files"),
                      "mnist_dir": Text(doc="the folder of the four MNIST .gz files"),
                      "cifar10_archive": Text(doc="the path of cifar-10-binary.tar.gz"),
                      **{f"{name}_archive": Text(doc=f"the path of the {name} archive (`gbench download {name} DIR`)")
                         for name in TRANSLATION_ARCHIVES},
                      **{f"{name}_sha256": Text(doc=f"the sha256 the {name} archive must have (optional: its "
                                                    "authors publish none; `gbench download` prints it)")
                         for name in TRANSLATION_ARCHIVES}},
                     doc="where source datasets are read from: {fmnist_dir: DIR, mnist_dir: DIR, "
                         "cifar10_archive: FILE, <translation set>_archive: FILE}"),
     "datasets": Mapping(keys=Text(doc="a dataset name (lower-case letters, digits, '-')", valid=_dataset_name),
                         values=DECLARED, doc="your datasets: {NAME: {source, resolution, channels, labels}}"),
     "plugins": Sequence(Text(doc="a plugin file (relative to the repository root) or module name"),
                         doc="a list of plugin files or modules, e.g. [methods/my_gan.py]"),
     "profiles": Mapping(keys=Text(doc="a profile name"), values=PROFILE, doc="the profiles")},
    required=("profile", "seeds", "profiles"), doc="params.yaml")


def load_params(root: Path) -> dict[str, Any]:
    """params.yaml, checked against the schema (every problem reported at once, with its key path)."""
    path = root / "params.yaml"
    if not path.is_file():
        raise ConfigError(f"{path} not found; run gbench from the repository root")
    params = read_yaml(path) or {}
    declared = params.get("datasets") if isinstance(params, dict) else None
    if isinstance(declared, dict):  # declared first: the rest of the file may name them
        problems = PARAMS.fields["datasets"].check(declared, "datasets") + _declaration_problems(declared)
        raise_problems("params.yaml", problems)
    declare(declared if isinstance(declared, dict) else None)
    raise_problems("params.yaml", PARAMS.check(params, ""))
    profiles = params["profiles"] or {}
    raise_problems("params.yaml", _protocol_problems(profiles))
    if params["profile"] not in profiles:
        raise ConfigError(f"params.yaml: profile: {params['profile']!r} is not defined under `profiles:` "
                          f"(defined: {', '.join(sorted(profiles))})")
    return params


def _declaration_problems(declared: dict[str, Any]) -> list[str]:
    problems = []
    for name, entry in declared.items():
        res, channels = entry.get("resolution"), entry.get("channels")
        if isinstance(res, int) and (res > 4096 or res & (res - 1)):
            problems.append(f"datasets.{name}.resolution: {res} is not a power of two; write 32, 64, 128, 256, ...")
        if isinstance(channels, int) and channels not in (1, 3):
            problems.append(f"datasets.{name}.channels: {channels} is not 1 or 3; write 1 (gray) or 3 (RGB)")
        if entry.get("labels") and "classes" not in entry:
            problems.append(f"datasets.{name}: `labels: true` needs `classes`, the number of label values")
        if name in BUILT_IN:
            problems.append(f"datasets.{name}: {name!r} is a built-in dataset; choose another name")
    return problems


def _protocol_problems(profiles: dict[str, Any]) -> list[str]:
    """A dataset block's `protocol` against the rest of the block: the N and reference it implies may not be
    contradicted, and without one the block states them (evaluate.n_gen, reference.n_ref)."""
    from bench.protocol.metric_protocols import parse

    problems = []
    for profile, body in profiles.items():
        for dataset, block in (body or {}).items():
            if dataset in ("studies", "group_runs") or not isinstance(block, dict) or dataset not in DATASETS:
                continue
            where = f"profiles.{profile}.{dataset}"
            ds = spec(dataset)
            if isinstance(ds, SubsetSpec):  # scored with its parent's reference and classifier, set there
                for key in ("reference", "classifier", "protocol"):
                    if key in block:
                        problems.append(f"{where}.{key}: {dataset} is scored against {ds.parent}'s reference with "
                                        f"{ds.parent}'s classifier; remove it (set it in profiles.{profile}."
                                        f"{ds.parent})")
                block = {k: v for k, v in block.items() if k not in ("reference", "classifier", "protocol")}
            evaluate, reference = block.get("evaluate") or {}, block.get("reference") or {}
            images = spec(dataset).kind == "images"
            if "protocol" not in block:
                if "evaluate" in block and "n_gen" not in evaluate:
                    problems.append(f"{where}.evaluate: n_gen is missing; add it, or name a `protocol:` "
                                    "(e.g. fid10k_test)")
                if images and "reference" in block and "n_ref" not in reference:
                    problems.append(f"{where}.reference: n_ref is missing; add it, or name a `protocol:`")
                continue
            try:
                named = parse(block["protocol"])
            except ValueError:
                continue  # the schema reported it
            if not images:
                problems.append(f"{where}.protocol: {dataset} is a 2-D set scored against its known modes; remove it")
                continue
            if "n_gen" in evaluate and evaluate["n_gen"] != named.n_gen:
                problems.append(f"{where}.evaluate.n_gen: {evaluate['n_gen']} contradicts protocol "
                                f"{named.name} (N = {named.n_gen}); remove n_gen (the protocol sets it)")
            if named.split is None:
                problems.append(f"{where}.protocol: {named.name} has no reference (IS); name one that has, e.g. "
                                f"fid{named.name[2:]}_full, and IS is measured beside it")
                continue
            if "split" in reference and reference["split"] != named.split:
                problems.append(f"{where}.reference.split: {reference['split']} contradicts protocol {named.name} "
                                f"(the {named.split} split); remove it")
            if "n_ref" in reference:
                problems.append(f"{where}.reference.n_ref: the protocol {named.name} sets the reference size; "
                                "remove n_ref")
            if named.split == "eval" and spec(dataset).reference_split == "train":
                problems.append(f"{where}.protocol: {dataset} has no eval split (a declared dataset is one split); "
                                f"name a `_full` or `_train<M>` protocol, e.g. fid{named.name[3:].split('_')[0]}_full")
    return problems


def settings_dataset(params: dict[str, Any], dataset: str, profile: str | None = None) -> str:
    """The dataset whose block of the profile (the active one by default) holds `dataset`'s settings: its own
    where the profile has one; else, for a subset of another dataset (SubsetSpec), its parent's. The DVC stages of
    `dataset` depend on that block's keys (bench/protocol/pipelines.py)."""
    blocks = params["profiles"][profile or params["profile"]] or {}
    while dataset not in blocks and dataset in DATASETS and isinstance(spec(dataset), SubsetSpec):
        dataset = spec(dataset).parent
    return dataset


def protocol_of(params: dict[str, Any], dataset: str):
    """The active profile's named protocol for `dataset` (bench/protocol/metric_protocols.py Protocol), or None."""
    from bench.protocol.metric_protocols import parse

    block = params["profiles"][params["profile"]].get(settings_dataset(params, dataset)) or {}
    return parse(block["protocol"]) if "protocol" in block else None


def stage_settings(params: dict[str, Any], dataset: str, stage: str) -> dict[str, Any]:
    """The active profile's settings of one stage for one dataset (with what its named protocol implies:
    evaluate.n_gen; reference.split and n_ref, None for the whole split). A subset dataset without a block of
    its own reads its parent's (`settings_dataset`)."""
    profile = params["profile"]
    dataset = settings_dataset(params, dataset)
    block = params["profiles"][profile].get(dataset)
    if block is None:
        raise ConfigError(f"params.yaml: profiles.{profile} has no settings for dataset {dataset!r}; add a "
                          f"`{dataset}:` block with its stages (copy another profile's)")
    named = protocol_of(params, dataset) if stage in ("evaluate", "reference") else None
    settings = block.get(stage)
    if named is not None:
        settings = dict(settings or {})
        if stage == "evaluate":
            settings["n_gen"] = named.n_gen
        else:
            settings.update(split=named.split, n_ref=named.n_ref)
    if settings is None:
        raise ConfigError(f"params.yaml: profiles.{profile}.{dataset}.{stage} is missing; add "
                          f"{STAGES[stage].doc}")
    return dict(settings)


def study_profile(params: dict[str, Any], study: str) -> dict[str, Any]:
    """The active profile's settings of one study (`profiles.<p>.studies.<study>`; empty when none):
    `samples` (hyperparameter samples per loss of a sweep), `seeds`, `datasets` (the subset of the study's
    datasets this profile runs), `exclude` (variants of the study this profile skips), and per dataset the
    train/evaluate values that replace the dataset's defaults for this study's runs."""
    return dict((params["profiles"][params["profile"]].get("studies") or {}).get(study) or {})


def run_settings(params: dict[str, Any], study: str, dataset: str, stage: str) -> dict[str, Any]:
    """A stage's settings for one run: its dataset's, with its study's overrides on top."""
    settings = stage_settings(params, dataset, stage)
    settings.update((study_profile(params, study).get(dataset) or {}).get(stage) or {})
    return settings


def reference_backbones(params: dict[str, Any], dataset: str) -> tuple[str, ...]:
    """The image backbones the active profile scores `dataset` with (its evaluate.backbones; the domain
    backbone only where the dataset has a classifier): the reference stage computes arrays for these. Those of
    the dataset whose reference scores `dataset` (its parent's, for a subset)."""
    dataset = spec(dataset).reference_dataset
    names = stage_settings(params, dataset, "evaluate").get("backbones", list(BACKBONES))
    return tuple(n for n in names if n != "domain" or spec(dataset).classifier is not None)


def images_of(kimg: float) -> int:
    """A budget or interval in kimg as a whole number of images, at least one."""
    return max(1, int(round(kimg * 1000)))


def family_width(train: dict[str, Any], family: str) -> dict[str, Any]:
    """Train settings with `width` resolved for one architecture family: `family_width` maps a family to
    the width its runs use instead (families whose published networks are wide at every resolution, so a
    CPU profile scales them further); the mapping itself is dropped, so a run's config holds only the
    width it trained at."""
    train = dict(train)
    widths = train.pop("family_width", None) or {}
    train["width"] = widths.get(family, train["width"])
    return train


def micro_batches(batch: int, micro_batch: int | None) -> int:
    """How many micro-batches a step's global batch is split into (1: no accumulation)."""
    if micro_batch is None or micro_batch >= batch:
        return 1
    return batch // micro_batch


def micro_batch_problem(batch: int, micro_batch: int | None) -> str | None:
    if micro_batch is not None and micro_batch < batch and batch % micro_batch:
        divisors = [k for k in range(1, batch) if batch % k == 0]
        return (f"{micro_batch} does not divide the variant's batch of {batch}; use a divisor, e.g. "
                f"{', '.join(map(str, divisors[-3:]))}")
    return None


def budget_problem(train: dict[str, Any]) -> str | None:
    """Why a run's train settings do not state the amount of the budget unit they choose, or None."""
    unit = train.get("budget_unit", "kimg")
    if unit != "kimg" and unit not in train:
        return f"budget_unit is {unit!r} but no `{unit}:` amount is set; add e.g. `{unit}: 100` beside it"
    return None
