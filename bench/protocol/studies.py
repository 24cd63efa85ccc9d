"""Studies (pipelines/*.yaml): which variants run on which datasets with which seeds, and which table the
report draws from them. This is the one parser of the study files; every other module gets `Study`s.

A plain study (`kind: table`, `mode-collapse`, `ablation`, `robustness`, `translation`) lists variants per
dataset. A sweep (`kind: sweep`) crosses each listed base variant with every loss of `sweep.losses` and the first
`samples` hyperparameter samples the active profile asks for, as runs named `<base>+<loss>~hNN`
(bench/protocol/sweep.py draws the samples into pipelines/<file>.samples.json beside the study file). The
active profile's block `profiles.<p>.studies.<study>` in params.yaml picks seeds, datasets and variants to skip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.protocol.errors import ConfigError
from bench.protocol.names import sample_name
from bench.protocol.params import DATASET, SEEDS, VARIANT, study_profile
from bench.protocol.runs import RunId
from bench.protocol.schema import Int, Mapping, Number, Sequence, Text, did_you_mean, raise_problems, read_yaml

KINDS = ("table", "sweep", "mode-collapse", "ablation", "alignment", "limited-data", "robustness", "translation",
         "tokenizer")
SPACES = ("wide",)  # Lucic et al.'s hyperparameter ranges implemented by bench/protocol/sweep.py

SAMPLE = Mapping({"lr": Number(doc="a learning rate > 0", gt=0),
                  "beta1": Number(doc="Adam's beta1 in [0, 1)", ge=0, lt=1),
                  "n_critic": Int("D steps per G step, an integer >= 1", ge=1),
                  "penalty": Number(doc="a penalty weight > 0", gt=0),
                  "clip": Number(doc="a clipping bound > 0", gt=0)},
                 required=("lr", "beta1", "n_critic"), doc="a drawn sample {lr, beta1, n_critic[, penalty, clip]}")
SPACE = Text(doc="the hyperparameter ranges", choices=SPACES)
SAMPLER_SEED = Int("the sampler's seed, an integer >= 0", ge=0)
SWEEP = Mapping({"losses": Sequence(Text(doc="a loss name"), doc="a list of losses, e.g. [ns, wgan-gp]",
                                    min_len=1, unique=True),
                 "space": SPACE, "sampler_seed": SAMPLER_SEED},
                required=("losses",), doc="a sweep: {losses, space, sampler_seed}")
SAMPLES = Mapping(keys=Text(doc="a sweep study's name"),
                  values=Mapping({"space": SPACE, "sampler_seed": SAMPLER_SEED,
                                  "drawn": Mapping(keys=Text(doc="a loss name"),
                                                   values=Mapping(keys=Text(doc="a sample name hNN"), values=SAMPLE),
                                                   doc="{loss: {hNN: sample}}")},
                                 required=("space", "sampler_seed", "drawn"),
                                 doc="a study's samples: {space, sampler_seed, drawn}"),
                  doc="sweep studies' samples, written by `gbench sweep-sample`")
STUDY = Mapping({"title": Text(doc="a title"),
                 "kind": Text(doc="the study's kind", choices=KINDS),
                 "seeds": SEEDS,
                 "datasets": Mapping(keys=DATASET, values=Sequence(VARIANT, doc="a list of variant names",
                                                                   unique=True),
                                     doc="datasets with their variants, e.g. {fmnist32: [dcgan]}"),
                 "sweep": SWEEP,
                 "versus": Text(doc="the table study whose ranks this one's are set against (e.g. the equal-image "
                                    "leaderboard for an equal-FLOP one), or, for an alignment study, whose runs on "
                                    "the aligned source datasets are its aligned side")},
                required=("datasets",), doc="a study: {title, kind, seeds, datasets[, sweep, versus]}")


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    datasets: dict[str, list[str]]  # after the active profile's `datasets` and `exclude`
    seeds: list[int]
    kind: str = "table"
    losses: tuple[str, ...] = ()
    samples: int = 0
    drawn: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # loss -> sample -> values
    path: Path | None = None

    def variants(self, dataset: str) -> list[str]:
        bases = self.datasets.get(dataset, [])
        if self.kind != "sweep":
            return list(bases)
        return [f"{b}+{loss}~{sample_name(k)}" for b in bases for loss in self.losses for k in range(self.samples)]

    def runs(self) -> list[RunId]:
        return [RunId(self.name, ds, v, s) for ds in self.datasets for v in self.variants(ds) for s in self.seeds]

    def sample(self, loss: str, sample: str) -> dict[str, Any]:
        """The drawn hyperparameters of `sample` of `loss` (a sweep's run `<base>+<loss>~<sample>`)."""
        values = (self.drawn.get(loss) or {}).get(sample)
        if values is None:
            raise ConfigError(f"{self.path}: study {self.name!r} has no drawn sample {sample} for loss {loss!r}; "
                              f"run `gbench sweep-sample {self.name} --k {int(sample[1:]) + 1}`")
        return values


def samples_file(path: Path) -> Path:
    """pipelines/<file>.samples.json: the drawn samples of the sweep studies defined in pipelines/<file>.yaml.
    JSON, not YAML: the sampler writes it, nobody edits it, and each sweep stage's DVC params read it on every
    `dvc repro` (~1 ms to parse where the same samples in YAML took ~80 ms, 16 times per no-op repro)."""
    return path.with_name(path.stem + ".samples.json")


def study_paths(root: Path) -> list[Path]:
    """Every file that defines the studies: pipelines/*.yaml and their samples files (what a copy needs)."""
    folder = root / "pipelines"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.samples.json")])


def _drawn(path: Path, name: str, sweep: dict[str, Any], samples: int) -> dict[str, dict[str, dict[str, Any]]]:
    """The study's drawn samples from its samples file, drawn with the study's own sampler settings."""
    file, redraw = samples_file(path), f"run `gbench sweep-sample {name} --k {max(samples, 1)}`"
    relative = f"pipelines/{file.name}"
    if not file.is_file():
        return {}
    try:
        doc = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{relative}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); {redraw}") from None
    raise_problems(relative, SAMPLES.check(doc, ""))
    entry = doc.get(name)
    if entry is None:
        return {}
    wanted = {"space": sweep.get("space", "wide"), "sampler_seed": int(sweep.get("sampler_seed", 0))}
    drawn_with = {key: entry[key] for key in wanted}
    if drawn_with != wanted:
        raise ConfigError(f"{relative}: {name}'s samples were drawn with {drawn_with}, but pipelines/{path.name} "
                          f"now asks for {wanted}; {redraw}")
    return entry["drawn"]


def study_files(root: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every study of pipelines/*.yaml: name -> (file, its checked body)."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted((root / "pipelines").glob("*.yaml")):
        doc = read_yaml(path) or {}
        relative = f"pipelines/{path.name}"
        if not isinstance(doc, dict):
            raise ConfigError(f"{relative}: expected a mapping of study names to studies")
        for name, body in doc.items():
            if name in found:
                raise ConfigError(f"{relative}: study {name!r} is also defined in {found[name][0]}; rename one")
            if isinstance(body, dict) and "drawn" in (body.get("sweep") or {}):
                raise ConfigError(f"{relative}: {name}.sweep.drawn: the drawn samples live in pipelines/"
                                  f"{samples_file(path).name} now; delete `drawn:` here and run `gbench "
                                  f"sweep-sample {name} --k K` (the same sampler_seed draws the same samples)")
            raise_problems(relative, STUDY.check(body, str(name)))
            found[name] = (path, body)
    return found


def _check_profile_blocks(params: dict[str, Any], files: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    """Studies named under every profile exist (not only the active one: a typo must not wait for the day the
    profile is switched); their `datasets` and `exclude` name the study's own."""
    problems = []
    blocks = [(profile, name, block) for profile, settings in params["profiles"].items()
              for name, block in ((settings or {}).get("studies") or {}).items()]
    for profile, name, block in blocks:
        where = f"profiles.{profile}.studies.{name}"
        if name not in files:
            problems.append(f"{where}: no study {name!r} in pipelines/*.yaml{did_you_mean(name, files)}; "
                            "remove these settings or add the study's file")
            continue
        listed = files[name][1].get("datasets") or {}
        variants = {v for vs in listed.values() for v in vs}
        for dataset in (block or {}).get("datasets", []):
            if dataset not in listed:
                problems.append(f"{where}.datasets: {dataset!r} is not a dataset of the study "
                                f"({', '.join(listed)}){did_you_mean(dataset, listed)}")
        for variant in (block or {}).get("exclude", []):
            if variant not in variants:
                problems.append(f"{where}.exclude: {variant!r} is not a variant of the study"
                                f"{did_you_mean(variant, variants)}")
        for dataset in set(block or {}) - {"samples", "seeds", "datasets", "exclude"}:
            if dataset not in listed:
                problems.append(f"{where}.{dataset}: {dataset!r} is not a dataset of the study ({', '.join(listed)})")
    raise_problems("params.yaml", problems)


def load_studies(root: Path, params: dict[str, Any]) -> list[Study]:
    files = study_files(root)
    _check_profile_blocks(params, files)
    studies = []
    for name, (path, body) in files.items():
        relative = f"pipelines/{path.name}"
        kind = body.get("kind", "sweep" if "sweep" in body else "table")
        profile = study_profile(params, name)
        excluded = set(profile.get("exclude", []))
        datasets = {ds: [v for v in vs if v not in excluded] for ds, vs in (body.get("datasets") or {}).items()
                    if ds in profile.get("datasets", [ds])}
        seeds = list(profile.get("seeds", body.get("seeds", params["seeds"])))
        losses, samples, drawn = (), 0, {}
        if kind == "sweep":
            sweep = body.get("sweep") or {}
            if not sweep:
                raise ConfigError(f"{relative}: study {name!r} is a sweep without `sweep: losses: [...]`")
            losses = tuple(sweep["losses"])
            if "samples" not in profile:
                raise ConfigError(f"params.yaml: profiles.{params['profile']}.studies.{name}.samples is missing "
                                  "(hyperparameter samples per loss for this profile); add e.g. `samples: 3`")
            samples = int(profile["samples"])
            drawn = _drawn(path, name, sweep, samples)
            short = [loss for loss in losses
                     if any(sample_name(k) not in (drawn.get(loss) or {}) for k in range(samples))]
            if short:
                raise ConfigError(f"{relative}: study {name!r} has fewer than {samples} drawn samples for "
                                  f"{', '.join(short)}; run `gbench sweep-sample {name} --k {samples}`")
        elif "sweep" in body:
            raise ConfigError(f"{relative}: study {name!r} has a `sweep:` block but kind {kind!r}; set `kind: sweep`")
        versus = body.get("versus")
        if kind == "alignment":
            _check_alignment(relative, name, body, files)
        elif kind == "limited-data":
            _check_limited_data(relative, name, body)
        elif versus is not None and (versus == name or versus not in files
                                     or files[versus][1].get("kind", "table") != "table" or kind != "table"):
            tables = sorted(n for n, (_, b) in files.items() if b.get("kind", "table") == "table" and n != name)
            raise ConfigError(f"{relative}: {name}.versus: {versus!r} is not another table study; both must be "
                              f"`kind: table` (table studies: {', '.join(tables)})")
        studies.append(Study(name, body.get("title", name), datasets, seeds, kind, losses, samples, drawn, path))
    return studies


def _check_alignment(relative: str, name: str, body: dict, files: dict) -> None:
    """An alignment study lists unaligned datasets (bench/data/unaligned.py) and names, with `versus`, the table
    study whose runs of the same variants on each one's aligned source are the other side of its table."""
    from bench.data.datasets import UnalignedSpec, spec

    versus = body.get("versus")
    if versus is None or versus not in files or files[versus][1].get("kind", "table") != "table":
        tables = sorted(n for n, (_, b) in files.items() if b.get("kind", "table") == "table")
        raise ConfigError(f"{relative}: {name}.versus: an alignment study names the table study whose runs on the "
                          f"aligned datasets it compares against (table studies: {', '.join(tables)}), got {versus!r}")
    listed = files[versus][1].get("datasets") or {}
    for dataset, variants in (body.get("datasets") or {}).items():
        ds = spec(dataset)
        if not isinstance(ds, UnalignedSpec):
            raise ConfigError(f"{relative}: {name}.datasets.{dataset}: an alignment study lists unaligned datasets "
                              "(e.g. fmnist32-unaligned); the aligned side comes from its `versus` study")
        missing = [v for v in variants if v not in (listed.get(ds.aligned) or [])]
        if missing:
            raise ConfigError(f"{relative}: {name}.datasets.{dataset}: {', '.join(missing)} not in {versus}'s "
                              f"{ds.aligned} list, so they have no aligned side; add them there or remove them here")


def _check_limited_data(relative: str, name: str, body: dict) -> None:
    """A limited-data study lists training subsets of one dataset (bench/data/datasets.py SubsetSpec), and may
    list that dataset itself as the full size; at least two sizes."""
    from bench.data.datasets import spec

    listed = list(body.get("datasets") or {})
    parents = {getattr(spec(d), "parent", None) or d for d in listed}
    if len(parents) != 1 or len(listed) < 2:
        raise ConfigError(f"{relative}: {name}.datasets: a limited-data study lists at least two training subsets of "
                          "one dataset (e.g. fmnist32-n100, fmnist32-n1k, fmnist32), got "
                          f"{', '.join(listed) or 'none'}")


def find_study(studies: list[Study], name: str) -> Study:
    for study in studies:
        if study.name == name:
            return study
    raise ConfigError(f"no study {name!r} in pipelines/*.yaml{did_you_mean(name, [s.name for s in studies])}")
