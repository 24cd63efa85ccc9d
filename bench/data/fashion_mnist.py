"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), the source of fmnist32 and stackedfmnist: four gzipped IDX
files, from Debian's `dataset-fashion-mnist` (offline) or a folder params.yaml names (`data.fmnist_dir`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.data.idx import check_pairs, read_idx_gz
from bench.protocol.errors import DatasetError

DEBIAN_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

# (file name, sha256 of the *decompressed* IDX payload). Checked on the payload, not the .gz, because
# Debian's package recompresses the original files (their gzip bytes differ, the content does not).
FMNIST_FILES = {
    "train_x": ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train_y": ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "eval_x": ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "eval_y": ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
FMNIST_SIZES = (("train", 60_000), ("eval", 10_000))
FMNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
)
FIX = "re-install the source (`apt-get install --reinstall dataset-fashion-mnist`) or re-download it"


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


def load_fmnist_source(source: Path, check_content: bool = True) -> dict[str, np.ndarray]:
    arrays = {}
    for key, (filename, sha) in FMNIST_FILES.items():
        path = source / filename
        if not path.is_file():
            raise DatasetError(_missing_fmnist_message(source, path))
        arrays[key] = read_idx_gz(path, sha if check_content else None, FIX, "the published Fashion-MNIST file")
    check_pairs(arrays, "Fashion-MNIST", (28, 28))
    return arrays


def download_fmnist(dest: Path) -> Path:
    """Fetch the four original files with torchvision (needs internet) into `dest`; returns the folder."""
    from torchvision.datasets import FashionMNIST

    FashionMNIST(str(dest), train=True, download=True)
    return Path(dest) / "FashionMNIST" / "raw"
