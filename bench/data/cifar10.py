"""CIFAR-10 (Krizhevsky 2009) from its official *binary* archive, `cifar-10-binary.tar.gz`: no pickle is
ever loaded. The archive is checked against its published md5, then its six batch files are read from the
tar stream (nothing is extracted to disk, so no member path is ever trusted). Each batch is a run of
3073-byte records: one label byte, then the 1024 red, 1024 green and 1024 blue bytes of a 32x32 image,
row-major. data_batch_1..5 are the 50k train images, test_batch the 10k eval images."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from bench.data.download import fetch, md5_file
from bench.protocol.errors import DatasetError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # published on https://www.cs.toronto.edu/~kriz/cifar.html
CIFAR10_SIZES = (("train", 50_000), ("eval", 10_000))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDER = "cifar-10-batches-bin"
BATCHES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "eval": ["test_batch.bin"]}
RECORD = 1 + 3 * 32 * 32
FIX = "download it again (`gbench download cifar10 DIR`) and set data.cifar10_archive to it"


def cifar10_archive(params: dict | None = None) -> Path:
    archive = ((params or {}).get("data") or {}).get("cifar10_archive")
    if not archive:
        raise DatasetError("params.yaml: data.cifar10_archive is not set, and CIFAR-10 has no offline copy here. "
                           "Fix: on a machine with internet, `gbench download cifar10 DIR`, then set "
                           "`data: {cifar10_archive: DIR/cifar-10-binary.tar.gz}` in params.yaml")
    return Path(archive)


def _records(raw: bytes, member: str, archive: Path) -> tuple[np.ndarray, np.ndarray]:
    if not raw or len(raw) % RECORD:
        raise DatasetError(f"{archive}: {member} holds {len(raw)} bytes, not a whole number of {RECORD}-byte "
                           f"records; fix: {FIX}")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CIFAR10_CLASSES):
        raise DatasetError(f"{archive}: {member} has label {labels.max()}, but CIFAR-10 has 10 classes; fix: {FIX}")
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def load_cifar10(archive: Path) -> dict[str, np.ndarray]:
    """train_x/eval_x (N, 3, 32, 32) uint8 and train_y/eval_y int64 from the binary archive."""
    md5 = CIFAR10_MD5
    if not archive.is_file():
        raise DatasetError(f"CIFAR-10 not found: {archive} does not exist (params.yaml data.cifar10_archive); "
                           f"fix: {FIX}")
    if (got := md5_file(archive)) != md5:
        raise DatasetError(f"{archive} is not the published CIFAR-10 binary archive (md5 {got}, published {md5}): "
                           f"it is truncated, damaged or another file; fix: {FIX}")
    arrays = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for split, members in BATCHES.items():
                parts = []
                for name in members:
                    try:
                        handle = tar.extractfile(f"{FOLDER}/{name}")
                    except KeyError:
                        handle = None
                    if handle is None:
                        raise DatasetError(f"{archive} has no file {FOLDER}/{name}; fix: {FIX}")
                    parts.append(_records(handle.read(), name, archive))
                arrays[f"{split}_x"] = np.concatenate([x for x, _ in parts])
                arrays[f"{split}_y"] = np.concatenate([y for _, y in parts])
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"{archive} cannot be read as a .tar.gz ({exc}); fix: {FIX}") from exc
    return arrays


def download_cifar10(dest: Path, url: str = CIFAR10_URL) -> Path:
    """The published archive into `dest`, checked against its md5; returns the archive's path."""
    return fetch(url, Path(dest) / "cifar-10-binary.tar.gz", CIFAR10_MD5)
