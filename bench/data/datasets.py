"""Datasets: definitions, the prepare stage and loading of prepared arrays.

`fmnist32` is Fashion-MNIST (Xiao et al. 2017) zero-padded from 28x28 to 32x32: train 60k, eval 10k.
`ring8` and `grid25` are the 2-D Gaussian mixtures of VEEGAN/PacGAN (ring of 8 at radius 1, sigma
0.01; 5x5 grid on {-4,-2,0,2,4}^2, sigma 0.05), drawn from a fixed seed.
`stackedfmnist` is Stacked-MNIST (VEEGAN, PacGAN) built from Fashion-MNIST: three images stacked as the
R, G, B channels, so 10^3 = 1000 modes labeled c0*100 + c1*10 + c2. Every mode appears equally often
(50 times in train, 10 in eval), each channel drawing without replacement from its class within the
matching Fashion-MNIST split, so the true mode distribution is exactly uniform.
A prepared dataset is one `.npz` file plus `meta.json` holding its sha256; loading checks it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.protocol.errors import DatasetError
from bench.protocol.io import atomic_write, read_json, sha256_file, write_json

DEBIAN_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

# (file name, sha256 of the *decompressed* IDX payload). Checked on the payload, not the .gz, because
# Debian's package recompresses the original files (their gzip bytes differ, the content does not).
FMNIST_FILES = {
    "train_x": ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train_y": ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "eval_x": ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "eval_y": ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
FMNIST_SIZES = {"train": 60_000, "eval": 10_000}
FMNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: str  # "images" or "points"
    shape: tuple[int, ...]
    description: str
    classifier: str | None = None  # the labeled dataset whose domain classifier scores this one
    n_labels: int = 0  # classes of `train_y`/`eval_y` that class-conditional variants are trained on
    source: str | None = None  # the source files it is built from ("fmnist": params.yaml data.fmnist_dir)

    def split_size(self, split: str) -> int | None:
        """Images in the `train` or `eval` split (None: the dataset has no such split)."""
        return FMNIST_SIZES.get(split)


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


DATASETS: dict[str, DatasetSpec] = {
    "fmnist32": DatasetSpec("fmnist32", "images", (1, 32, 32), "Fashion-MNIST, zero-padded to 32x32",
                            classifier="fmnist32", n_labels=len(FMNIST_CLASSES), source="fmnist"),
    "ring8": MixtureSpec("ring8", "points", (2,), "8 Gaussians on a ring of radius 1, sigma 0.01",
                         layout="ring", n_modes=8, scale=1.0, sigma=0.01, seed=8),
    "grid25": MixtureSpec("grid25", "points", (2,), "25 Gaussians on {-4,-2,0,2,4}^2, sigma 0.05",
                          layout="grid", n_modes=25, scale=2.0, sigma=0.05, seed=25),
    "stackedfmnist": StackedSpec("stackedfmnist", "images", (3, 32, 32),
                                 "three Fashion-MNIST images stacked as RGB (1000 modes), zero-padded to 32x32",
                                 classifier="fmnist32", seed=1000, source="fmnist"),
}


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def prepared_dir(root: Path, name: str) -> Path:
    return root / "results" / "data" / name


# ---------------------------------------------------------------- Fashion-MNIST

def fmnist_source_dir(params: dict | None = None) -> Path:
    """The folder of the four Fashion-MNIST .gz files: params.yaml's `data.fmnist_dir` (a DVC parameter of the
    prepare stages, so pointing it elsewhere re-runs them), else the Debian package's."""
    if os.environ.get("GBENCH_FMNIST_DIR"):
        raise DatasetError("GBENCH_FMNIST_DIR is not read any more: DVC cannot see an environment variable, so a "
                           "change would not re-run the prepare stage. Unset it and put the folder in params.yaml: "
                           "`data: {fmnist_dir: DIR}`")
    return Path(((params or {}).get("data") or {}).get("fmnist_dir") or DEBIAN_FMNIST_DIR)


def _missing_fmnist_message(source: Path, missing: Path) -> str:
    return (
        f"Fashion-MNIST not found: {missing} does not exist. Fix: as root, "
        "`apt-get install dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist); or, on a "
        "machine with internet, `gbench download-fmnist DIR` and set `data: {fmnist_dir: DIR}` in params.yaml; "
        f"or point data.fmnist_dir at a folder with the four original .gz files (looked in {source})."
    )


def read_idx_gz(path: Path, expect_sha256: str | None = None) -> np.ndarray:
    """Read one gzipped IDX file (the MNIST format) into a uint8 array, checking it thoroughly."""
    fix = "re-install the source (`apt-get install --reinstall dataset-fashion-mnist`) or re-download it"
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path} is corrupt (not a valid gzip file: {exc}); fix: {fix}") from exc
    if expect_sha256 is not None and hashlib.sha256(raw).hexdigest() != expect_sha256:
        raise DatasetError(f"{path} is corrupt (its content differs from the published Fashion-MNIST "
                           f"file); fix: {fix}")
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path} is corrupt (not an unsigned-byte IDX file); fix: {fix}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise DatasetError(f"{path} is corrupt (payload does not match its header {dims}); fix: {fix}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def load_fmnist_source(source: Path, check_content: bool = True) -> dict[str, np.ndarray]:
    arrays = {}
    for key, (filename, sha) in FMNIST_FILES.items():
        path = source / filename
        if not path.is_file():
            raise DatasetError(_missing_fmnist_message(source, path))
        arrays[key] = read_idx_gz(path, sha if check_content else None)
    for split in ("train", "eval"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.shape[0] != y.shape[0] or x.shape[1:] != (28, 28):
            raise DatasetError(f"Fashion-MNIST {split} split has shapes {x.shape} / {y.shape}; "
                               "the source files do not belong together")
    return arrays


def pad_to_32(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 1, 32, 32) uint8 with a 2-pixel zero border."""
    return np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None]


def download_fmnist(dest: Path) -> Path:
    """Fetch the four original files with torchvision (needs internet) into `dest`; returns the folder."""
    from torchvision.datasets import FashionMNIST

    FashionMNIST(str(dest), train=True, download=True)
    return Path(dest) / "FashionMNIST" / "raw"


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
    params.yaml) may name the Fashion-MNIST folder (`data.fmnist_dir`)."""
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
    elif isinstance(ds, StackedSpec):
        src = fmnist_source_dir(params)
        raw = load_fmnist_source(src)
        rng = np.random.default_rng(ds.seed)
        arrays = {}
        for split, per_mode in ds.per_mode:
            x, y = stack_split(raw[f"{split}_x"], raw[f"{split}_y"], ds, per_mode, rng)
            arrays[f"{split}_x"], arrays[f"{split}_y"] = x, y
        source = {"dir": str(src), "content_sha256": {k: v[1] for k, v in FMNIST_FILES.items()},
                  "generator": "numpy default_rng", "seed": ds.seed, "per_mode": dict(ds.per_mode)}
    else:
        src = fmnist_source_dir(params)
        raw = load_fmnist_source(src)
        arrays = {
            "train_x": pad_to_32(raw["train_x"]),
            "train_y": raw["train_y"].astype(np.int64),
            "eval_x": pad_to_32(raw["eval_x"]),
            "eval_y": raw["eval_y"].astype(np.int64),
        }
        source = {"dir": str(src), "content_sha256": {k: v[1] for k, v in FMNIST_FILES.items()}}
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
