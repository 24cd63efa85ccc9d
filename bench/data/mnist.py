"""MNIST (LeCun, Bottou, Bengio & Haffner 1998), the source of mnist32 and stackedmnist (the Stacked MNIST
of VEEGAN and PacGAN): four gzipped IDX files in a folder params.yaml names (`data.mnist_dir`), each checked
against the md5 of its published .gz (torchvision's mirror of the original files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.download import fetch, md5_file
from bench.data.idx import check_pairs, read_idx_gz
from bench.protocol.errors import DatasetError

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES = {  # (file name, md5 of the published .gz)
    "train_x": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_y": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "eval_x": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "eval_y": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
MNIST_SIZES = (("train", 60_000), ("eval", 10_000))
MNIST_CLASSES = tuple(str(digit) for digit in range(10))
FIX = "download it again (`gbench download mnist DIR`)"


def mnist_source_dir(params: dict | None = None) -> Path:
    folder = ((params or {}).get("data") or {}).get("mnist_dir")
    if not folder:
        raise DatasetError("params.yaml: data.mnist_dir is not set, and MNIST has no offline copy here. Fix: on a "
                           "machine with internet, `gbench download mnist DIR`, then set `data: {mnist_dir: DIR}` "
                           "in params.yaml (or point it at a folder with the four original .gz files)")
    return Path(folder)


def load_mnist_source(source: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for key, (filename, md5) in MNIST_FILES.items():
        path = source / filename
        if not path.is_file():
            raise DatasetError(f"MNIST not found: {path} does not exist (params.yaml data.mnist_dir = {source}). "
                               f"Fix: {FIX}, or point data.mnist_dir at the folder of the four original .gz files")
        if md5_file(path) != md5:
            raise DatasetError(f"{path} is corrupt (its md5 differs from the published {md5}); fix: {FIX}")
        arrays[key] = read_idx_gz(path, None, FIX)
    check_pairs(arrays, "MNIST", (28, 28))
    return arrays


def download_mnist(dest: Path, base_url: str = MNIST_URL) -> Path:
    """The four published files into `dest`, each checked against its md5; returns `dest`."""
    for filename, md5 in MNIST_FILES.values():
        fetch(base_url + filename, Path(dest) / filename, md5)
    return Path(dest)
