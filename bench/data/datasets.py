"""Datasets: definitions, the prepare stage and loading of prepared arrays.

`fmnist32` is Fashion-MNIST (Xiao et al. 2017) and `mnist32` MNIST (LeCun et al. 1998), each zero-padded from
28x28 to 32x32: train 60k, eval 10k. `cifar10` is CIFAR-10 (Krizhevsky 2009) from its binary archive: train
50k, eval 10k, 32x32 RGB. `ring8` and `grid25` are the 2-D Gaussian mixtures of VEEGAN/PacGAN (ring of 8 at
radius 1, sigma 0.01; 5x5 grid on {-4,-2,0,2,4}^2, sigma 0.05), drawn from a fixed seed.
`stackedmnist` is Stacked MNIST (VEEGAN, PacGAN) and `stackedfmnist` the same built from Fashion-MNIST: three
images stacked as the R, G, B channels, so 10^3 = 1000 modes labeled c0*100 + c1*10 + c2. Every mode appears
equally often (50 times in train, 10 in eval), each channel drawing without replacement from its class
within the matching split, so the true mode distribution is exactly uniform.
`fmnist32-unaligned` is fmnist32 with every item moved to a random place, angle and size inside the canvas
(bench/data/unaligned.py, fixed seed, same labels): the data-alignment study's unaligned set.
`edges2fmnist`, `fmnist-inpaint`, `sneaker2boot` and `fmnist-transposed` are image-to-image translation tasks
built from Fashion-MNIST (bench/data/translation.py, `TranslationSpec`). `facades`, `maps`, `map2aerial`,
`edges2shoes` (pix2pix) and `horse2zebra` (CycleGAN) are the translation papers' own sets at 256x256 RGB, read
from their published archives (bench/data/paper_translation.py: `data.<archive>_archive`, which publish no
checksum; the sha256 read is recorded, and checked where `data.<archive>_sha256` pins one); no classes, so no
domain classifier.
`fmnist32-n100`, `-n500`, `-n1k` and `-n5k` are limited-data training sets (Karras et al. 2020, ADA; Zhao et al.
2020, DiffAugment): a class-balanced subset of fmnist32's train split, nested (n100 in n500 in n1k in n5k, the
same images for every method and seed), with fmnist32's full eval split; they are scored against fmnist32's
reference and classifier, as ADA computes FID against the whole dataset (`SubsetSpec`).
Each source's reader checks it against its published checksum (bench/data/fashion_mnist.py, mnist.py,
cifar10.py). A prepared dataset is one `.npz` file plus `meta.json` holding its sha256; loading checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.cifar10 import CIFAR10_CLASSES, CIFAR10_MD5, CIFAR10_SIZES, cifar10_archive, load_cifar10
from bench.data.fashion_mnist import FMNIST_CLASSES, FMNIST_FILES, FMNIST_SIZES, fmnist_source_dir, load_fmnist_source
from bench.data.idx import pad_to_32
from bench.data.image_folder import load_image_dataset
from bench.data.mnist import MNIST_CLASSES, MNIST_FILES, MNIST_SIZES, load_mnist_source, mnist_source_dir
from bench.data.paper_translation import ARCHIVES as PAPER_ARCHIVES
from bench.data.paper_translation import TASKS as PAPER_TASKS
from bench.data.unaligned import ROTATE, SCALE, unalign
from bench.protocol.errors import DatasetError
from bench.protocol.io import atomic_write, read_json, sha256_file, write_json

SOURCE_PARAMS = {"fmnist": "data.fmnist_dir", "mnist": "data.mnist_dir", "cifar10": "data.cifar10_archive",
                 **{name: f"data.{name}_archive" for name in PAPER_ARCHIVES}}
# a declared dataset's prepare stage depends on `datasets.<name>` and on its source file (bench/protocol/pipelines.py)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: str  # "images" or "points"
    shape: tuple[int, ...]
    description: str
    classifier: str | None = None  # the labeled dataset whose domain classifier scores this one
    n_labels: int = 0  # classes of `train_y`/`eval_y` that class-conditional variants are trained on
    source: str | None = None  # the source files it is built from (a key of SOURCE_PARAMS)
    sizes: tuple[tuple[str, int], ...] = ()  # images per split of the published source

    def split_size(self, split: str) -> int | None:
        """Images in the `train` or `eval` split (None: the dataset has no such split, or its size is known only
        once it is prepared)."""
        return dict(self.sizes).get(split)

    @property
    def reference_split(self) -> str:
        """The split generated samples are scored against."""
        return "eval"

    @property
    def variant_kind(self) -> str:
        """The data a variant must handle to train on this set (a variant's `data_kinds`): its kind, except for
        translation tasks ("paired", "unpaired"), whose target images are scored as images all the same."""
        return self.kind

    @property
    def reference_dataset(self) -> str:
        """The dataset whose reference arrays (results/reference/<it>/<backbone>) score this one: itself, except
        for a subset of another dataset (SubsetSpec), which is scored against its parent's."""
        return self.name


@dataclass(frozen=True)
class MixtureSpec(DatasetSpec):
    layout: str = "ring"
    n_modes: int = 8
    scale: float = 1.0  # ring radius or grid spacing
    sigma: float = 0.01
    n_train: int = 100_000
    seed: int = 0

    def split_size(self, split: str) -> int | None:
        return self.n_train if split == "train" else None  # scored against the known modes: no eval split

    def modes(self) -> np.ndarray:
        if self.layout == "ring":
            angles = 2 * np.pi * np.arange(self.n_modes) / self.n_modes
            return self.scale * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        side = round(np.sqrt(self.n_modes))
        axis = (np.arange(side) - (side - 1) / 2) * self.scale
        return np.array([(x, y) for x in axis for y in axis], dtype=np.float64)


@dataclass(frozen=True)
class StackedSpec(DatasetSpec):
    per_mode: tuple[tuple[str, int], ...] = (("train", 50), ("eval", 10))
    n_stack: int = 3
    n_classes: int = 10
    seed: int = 0

    @property
    def n_modes(self) -> int:
        return self.n_classes ** self.n_stack

    def split_size(self, split: str) -> int | None:
        return dict(self.per_mode).get(split, 0) * self.n_modes or None


@dataclass(frozen=True)
class UnalignedSpec(DatasetSpec):
    """A centred source set with each item moved at random inside the canvas (bench/data/unaligned.py)."""

    aligned: str = ""  # the built-in dataset it unaligns (same source, splits and labels)
    seed: int = 0


@dataclass(frozen=True)
class SubsetSpec(DatasetSpec):
    """A limited-data training set: a class-balanced, nested subset of `parent`'s train split, read from the
    parent's source. For each class a fixed permutation of that class's train indices (numpy
    default_rng([seed, class])) is drawn, and its first n_train / n_classes are taken, so a smaller subset of the
    same seed lies inside every larger one and every method and seed trains on the same images; labels are
    kept, and the chosen indices (into the parent's train split, ascending) are stored as `train_index`. The eval
    split is the parent's, unchanged.

    Scoring follows ADA (Karras et al. 2020): against the parent's reference (`reference_dataset`), computed
    from the whole dataset, and with the parent's classifier, so a subset has no reference or classifier stage
    of its own. The memorization metric (the data-copying test) thus tests against the parent's train features:
    the subset is part of that full train split, so a generator that copies its training images is still
    flagged. Where the active profile has no block of its own for a subset, it takes its parent's settings
    (bench/protocol/params.py `settings_dataset`)."""

    parent: str = ""  # the built-in dataset it subsets (same source, eval split, classifier and reference)
    n_train: int = 0  # train images, a multiple of the class count
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_labels < 1 or self.n_train < self.n_labels or self.n_train % self.n_labels:
            raise DatasetError(f"dataset {self.name}: n_train = {self.n_train} is not a positive multiple of "
                               f"{self.parent}'s {self.n_labels} classes; use e.g. {10 * max(self.n_labels, 1)}")

    @property
    def reference_dataset(self) -> str:
        return self.parent

    @property
    def per_class(self) -> int:
        return self.n_train // self.n_labels


@dataclass(frozen=True)
class TranslationSpec(DatasetSpec):
    """An image-to-image translation task built from a source set (bench/data/translation.py): inputs A and
    targets B per split, paired or unpaired. Its `train_x`/`eval_x` are B's images, so its reference stages score
    translations against the target domain; the source's classifier scores content and class."""

    task: str = ""
    paired: bool = True

    @property
    def variant_kind(self) -> str:
        return "paired" if self.paired else "unpaired"


def _translation(name: str, description: str) -> TranslationSpec:
    from bench.data.translation import TASKS

    train, test = (dict(FMNIST_SIZES)[s] for s in ("train", "eval"))
    paired = TASKS[name][0]
    sizes = (("train", train), ("eval", test)) if paired else ()  # unpaired: known once prepared
    return TranslationSpec(name, "images", (1, 32, 32), description, classifier="fmnist32",
                           n_labels=len(FMNIST_CLASSES), source="fmnist", sizes=sizes, task=name, paired=paired)


def _paper_translation(name: str, resolution: int = 256) -> TranslationSpec:
    """A translation paper's own set (bench/data/paper_translation.py): RGB at the papers' 256x256, no classes (so
    no domain classifier), split sizes known once prepared."""
    task = PAPER_TASKS[name]
    kind = "paired" if task.paired else "unpaired"
    return TranslationSpec(name, "images", (3, resolution, resolution), f"{kind} translation: {task.description}",
                           source=task.archive, task=name, paired=task.paired)


def _subset(parent: DatasetSpec, n_train: int, label: str, seed: int = 0) -> SubsetSpec:
    eval_size = dict(parent.sizes)["eval"]
    return SubsetSpec(
        f"{parent.name}-n{label}", parent.kind, parent.shape,
        f"{n_train} images of {parent.name}'s train split ({n_train // parent.n_labels} per class, nested), "
        f"scored against {parent.name}'s reference", classifier=parent.classifier, n_labels=parent.n_labels,
        source=parent.source, sizes=(("train", n_train), ("eval", eval_size)), parent=parent.name, n_train=n_train,
        seed=seed)


DATASETS: dict[str, DatasetSpec] = {
    "fmnist32": DatasetSpec("fmnist32", "images", (1, 32, 32), "Fashion-MNIST, zero-padded to 32x32",
                            classifier="fmnist32", n_labels=len(FMNIST_CLASSES), source="fmnist", sizes=FMNIST_SIZES),
    "mnist32": DatasetSpec("mnist32", "images", (1, 32, 32), "MNIST, zero-padded to 32x32",
                           classifier="mnist32", n_labels=len(MNIST_CLASSES), source="mnist", sizes=MNIST_SIZES),
    "cifar10": DatasetSpec("cifar10", "images", (3, 32, 32), "CIFAR-10, 32x32 RGB (the binary archive)",
                           classifier="cifar10", n_labels=len(CIFAR10_CLASSES), source="cifar10",
                           sizes=CIFAR10_SIZES),
    "ring8": MixtureSpec("ring8", "points", (2,), "8 Gaussians on a ring of radius 1, sigma 0.01",
                         layout="ring", n_modes=8, scale=1.0, sigma=0.01, seed=8),
    "grid25": MixtureSpec("grid25", "points", (2,), "25 Gaussians on {-4,-2,0,2,4}^2, sigma 0.05",
                          layout="grid", n_modes=25, scale=2.0, sigma=0.05, seed=25),
    "stackedfmnist": StackedSpec("stackedfmnist", "images", (3, 32, 32),
                                 "three Fashion-MNIST images stacked as RGB (1000 modes), zero-padded to 32x32",
                                 classifier="fmnist32", seed=1000, source="fmnist"),
    "fmnist32-unaligned": UnalignedSpec(
        "fmnist32-unaligned", "images", (1, 32, 32),
        "Fashion-MNIST with each item moved, rotated and scaled at random inside the 32x32 canvas",
        classifier="fmnist32", n_labels=len(FMNIST_CLASSES), source="fmnist", sizes=FMNIST_SIZES,
        aligned="fmnist32", seed=32),
    "stackedmnist": StackedSpec("stackedmnist", "images", (3, 32, 32),
                                "Stacked MNIST: three MNIST digits stacked as RGB (1000 modes), zero-padded to 32x32",
                                classifier="mnist32", seed=1000, source="mnist"),
}
DATASETS.update({ds.name: ds for ds in (_subset(DATASETS["fmnist32"], n, label) for n, label in
                                         ((100, "100"), (500, "500"), (1000, "1k"), (5000, "5k")))})
DATASETS.update({ds.name: ds for ds in (
    _translation("edges2fmnist", "paired translation: Sobel edges of a Fashion-MNIST item -> the item (32x32)"),
    _translation("fmnist-inpaint", "paired translation: an item with its lower half missing -> the item (32x32)"),
    _translation("sneaker2boot", "unpaired translation: sneakers -> ankle boots, from disjoint halves of train"),
    _translation("fmnist-transposed", "unpaired translation with a hidden ground truth: items -> T(items), T a "
                                      "diagonal reflection with gamma 1/2, from disjoint halves of train"),
)})
DATASETS.update({name: _paper_translation(name) for name in PAPER_TASKS})


BUILT_IN = frozenset(DATASETS)


@dataclass(frozen=True)
class FolderSpec(DatasetSpec):
    """A dataset a user declares in params.yaml (`datasets:`): a zip or folder in the layout `gbench dataset-tool`
    writes, every image `resolution` x `resolution` with `channels` channels. It has one split, `train`,
    which is also the reference generated samples are scored against (NVlabs' `full` protocols), and no
    domain classifier (that needs a labeled eval split)."""

    path: str = ""
    labeled: bool = False

    @property
    def reference_split(self) -> str:
        return "train"


def declare(declared: dict | None) -> None:
    """Register params.yaml's `datasets:` (replacing those of an earlier call); built-in names are refused."""
    for name in [n for n, s in DATASETS.items() if isinstance(s, FolderSpec)]:
        del DATASETS[name]
    for name, entry in (declared or {}).items():
        if name in BUILT_IN:
            raise DatasetError(f"params.yaml: datasets.{name}: {name!r} is a built-in dataset; choose another name")
        res, channels = entry["resolution"], entry["channels"]
        DATASETS[name] = FolderSpec(
            name, "images", (channels, res, res),
            entry.get("description") or f"{entry['source']} ({res}x{res}, {channels} channel(s))",
            n_labels=entry.get("classes", 0) if entry.get("labels") else 0, source="folder",
            path=entry["source"], labeled=bool(entry.get("labels")))


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def prepared_dir(root: Path, name: str) -> Path:
    return root / "results" / "data" / name


# ---------------------------------------------------------------- sources

def load_source(source: str, params: dict | None) -> tuple[dict[str, np.ndarray], dict]:
    """The labeled train/eval arrays of a published source, and how they were read (for meta.json)."""
    if source == "fmnist":
        folder = fmnist_source_dir(params)
        return load_fmnist_source(folder), {"dir": str(folder), "content_sha256": {k: v[1] for k, v in
                                                                                 FMNIST_FILES.items()}}
    if source == "mnist":
        folder = mnist_source_dir(params)
        return load_mnist_source(folder), {"dir": str(folder), "gz_md5": {k: v[1] for k, v in MNIST_FILES.items()}}
    if source == "cifar10":
        archive = cifar10_archive(params)
        return load_cifar10(archive), {"archive": str(archive), "md5": CIFAR10_MD5}
    raise DatasetError(f"unknown source {source!r}; known: {', '.join(SOURCE_PARAMS)}")


# ---------------------------------------------------------------- 2-D mixtures

def sample_mixture(mix: MixtureSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    centers = mix.modes()
    which = rng.integers(0, len(centers), size=n)
    return (centers[which] + mix.sigma * rng.standard_normal((n, 2))).astype(np.float32)


# ---------------------------------------------------------------- stacked Fashion-MNIST

def mode_digits(labels: np.ndarray, n_stack: int = 3, n_classes: int = 10) -> np.ndarray:
    """Mode labels (c0*100 + c1*10 + c2) -> (N, n_stack) per-channel classes."""
    powers = n_classes ** np.arange(n_stack - 1, -1, -1)
    return (np.asarray(labels)[:, None] // powers) % n_classes


def stack_split(images: np.ndarray, labels: np.ndarray, ds: StackedSpec, per_mode: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) images with class labels -> (per_mode * n_modes, n_stack, 32, 32) stacks + mode labels."""
    modes = rng.permutation(np.repeat(np.arange(ds.n_modes), per_mode))
    digits = mode_digits(modes, ds.n_stack, ds.n_classes)
    padded = pad_to_32(images)[:, 0]
    out = np.empty((len(modes), ds.n_stack, 32, 32), dtype=np.uint8)
    for channel in range(ds.n_stack):
        for cls in range(ds.n_classes):
            slots = np.flatnonzero(digits[:, channel] == cls)
            pool = np.flatnonzero(labels == cls)
            if len(pool) < len(slots):
                raise DatasetError(f"class {cls} has {len(pool)} images, {len(slots)} needed for "
                                   f"{per_mode} stacks per mode")
            out[slots, channel] = padded[rng.permutation(pool)[: len(slots)]]
    return out, modes.astype(np.int64)


# ---------------------------------------------------------------- prepare / load

def prepare(name: str, root: Path, params: dict | None = None) -> Path:
    """The prepare stage: write results/data/<name>/data.npz and meta.json (with its sha256). `params` (of
    params.yaml) name the source files (`data.fmnist_dir`, `data.mnist_dir`, `data.cifar10_archive`, and a translation
    paper's `data.<archive>_archive`)."""
    ds = spec(name)
    out = prepared_dir(root, name)
    if isinstance(ds, MixtureSpec):
        rng = np.random.default_rng(ds.seed)
        arrays = {
            "train_x": sample_mixture(ds, ds.n_train, rng),
            "modes": ds.modes(),
            "sigma": np.array(ds.sigma),
        }
        source = {"generator": "numpy default_rng", "seed": ds.seed}
    elif isinstance(ds, FolderSpec):
        arrays, source = _load_folder(ds, root)
    elif isinstance(ds, UnalignedSpec):
        raw, source = load_source(ds.source, params)
        arrays = {}
        for index, split in enumerate(("train", "eval")):
            arrays[f"{split}_x"], arrays[f"{split}_transform"] = unalign(pad_to_32(raw[f"{split}_x"]), ds.seed, index)
            arrays[f"{split}_y"] = raw[f"{split}_y"].astype(np.int64)
        source.update({"unaligned_from": ds.aligned, "generator": "numpy default_rng([seed, split index])",
                       "seed": ds.seed, "scale": list(SCALE), "rotate_degrees": ROTATE,
                       "transform": "per image (scale, angle in radians, tx, ty) in <split>_transform"})
    elif isinstance(ds, SubsetSpec):
        raw, source = load_source(ds.source, params)
        arrays, chosen = _subset_arrays(ds, raw)
        source.update({"subset_of": ds.parent, "n_train": ds.n_train, "per_class": ds.per_class,
                       "generator": "numpy default_rng([seed, class]).permutation(the class's train indices), "
                                    "first per_class of each (nested across n_train)",
                       "seed": ds.seed, "train_index": f"indices into {ds.parent}'s train split, in train_index",
                       "train_index_sha256": chosen, "eval": f"{ds.parent}'s eval split, unchanged"})
    elif isinstance(ds, TranslationSpec):
        arrays, source = _translation_arrays(ds, params)
    elif isinstance(ds, StackedSpec):
        raw, source = load_source(ds.source, params)
        rng = np.random.default_rng(ds.seed)
        arrays = {}
        for split, per_mode in ds.per_mode:
            x, y = stack_split(raw[f"{split}_x"], raw[f"{split}_y"], ds, per_mode, rng)
            arrays[f"{split}_x"], arrays[f"{split}_y"] = x, y
        source.update({"generator": "numpy default_rng", "seed": ds.seed, "per_mode": dict(ds.per_mode)})
    else:
        raw, source = load_source(ds.source, params)
        padded = pad_to_32 if raw["train_x"].shape[1:] == (28, 28) else (lambda x: x)
        arrays = {"train_x": padded(raw["train_x"]), "train_y": raw["train_y"].astype(np.int64),
                  "eval_x": padded(raw["eval_x"]), "eval_y": raw["eval_y"].astype(np.int64)}
    data_path = atomic_write(out / "data.npz", lambda p: _save_npz(p, arrays))
    meta = {
        "dataset": name,
        "kind": ds.kind,
        "shape": list(ds.shape),
        "description": ds.description,
        "sha256": sha256_file(data_path),
        "splits": {k: list(v.shape) for k, v in arrays.items() if k.endswith("_x")},
        "source": source,
    }
    write_json(out / "meta.json", meta)
    return out


def subset_indices(labels: np.ndarray, n_train: int, n_classes: int, seed: int, name: str = "") -> np.ndarray:
    """The train indices of a class-balanced nested subset (ascending): for each class, the first
    n_train / n_classes of a permutation of its indices drawn from default_rng([seed, class])."""
    per_class = n_train // n_classes
    pools = [np.flatnonzero(labels == c) for c in range(n_classes)]
    smallest = min(len(pool) for pool in pools)
    if per_class > smallest:
        raise DatasetError(f"dataset {name}: {n_train} train images are {per_class} per class, but a class of the "
                           f"source has only {smallest}; use at most {smallest * n_classes}")
    chosen = [np.random.default_rng([seed, c]).permutation(pool)[:per_class] for c, pool in enumerate(pools)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _subset_arrays(ds: SubsetSpec, raw: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    """The subset's arrays (the parent's eval split as the parent prepares it) and its indices' sha256."""
    import hashlib

    padded = pad_to_32 if raw["train_x"].shape[1:] == (28, 28) else (lambda x: x)
    index = subset_indices(raw["train_y"], ds.n_train, ds.n_labels, ds.seed, ds.name)
    arrays = {"train_x": padded(raw["train_x"][index]), "train_y": raw["train_y"][index].astype(np.int64),
              "train_index": index,
              "eval_x": padded(raw["eval_x"]), "eval_y": raw["eval_y"].astype(np.int64)}
    return arrays, hashlib.sha256(index.astype("<i8").tobytes()).hexdigest()


def _translation_arrays(ds: TranslationSpec, params: dict | None) -> tuple[dict[str, np.ndarray], dict]:
    """A translation task's arrays: a paper's set from its archive, or a task built from Fashion-MNIST."""
    if ds.task in PAPER_TASKS:
        from bench.data.paper_translation import prepare_task

        return prepare_task(ds.task, params, ds.shape[-1])
    from bench.data.translation import TASKS, build_task

    raw, source = load_source(ds.source, params)
    arrays = build_task(ds.task, {s: pad_to_32(raw[f"{s}_x"]) for s in ("train", "eval")},
                        {s: raw[f"{s}_y"] for s in ("train", "eval")})
    source.update({"task": ds.task, "paired": ds.paired, "ground_truth": TASKS[ds.task][1],
                   "arrays": "<split>_a inputs (classes <split>_a_y), <split>_x targets (classes <split>_y)"})
    return arrays, source


def _load_folder(ds: FolderSpec, root: Path) -> tuple[dict[str, np.ndarray], dict]:
    path = Path(ds.path) if Path(ds.path).is_absolute() else root / ds.path
    res, channels = ds.shape[1], ds.shape[0]
    hint = (f"`gbench dataset-tool --source SOURCE --dest {ds.path} --resolution {res} --channels {channels}`, "
            f"or change datasets.{ds.name} in params.yaml")
    arrays = load_image_dataset(path, res, channels, ds.labeled, hint)
    if ds.labeled and arrays["train_y"].max() >= ds.n_labels:
        raise DatasetError(f"{path}: label {arrays['train_y'].max()} is not below params.yaml's "
                           f"datasets.{ds.name}.classes = {ds.n_labels}; raise `classes` or fix the labels")
    return arrays, {"path": ds.path, "sha256": sha256_file(path) if path.is_file() else None}


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def load_prepared(name: str, root: Path) -> dict[str, np.ndarray]:
    """Load a prepared dataset after checking its checksum."""
    folder = prepared_dir(root, name)
    data_path, meta_path = folder / "data.npz", folder / "meta.json"
    if not data_path.is_file() or not meta_path.is_file():
        raise DatasetError(f"{name} is not prepared ({folder} is missing); run `gbench prepare {name}` "
                           "or `dvc repro`")
    meta = read_json(meta_path)
    if sha256_file(data_path) != meta["sha256"]:
        raise DatasetError(f"{data_path} does not match the checksum in {meta_path}; re-run "
                           f"`gbench prepare {name}` (or `dvc repro --force` its prepare stage)")
    with np.load(data_path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
