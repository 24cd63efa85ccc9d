"""The IDX format of MNIST and Fashion-MNIST (LeCun's layout: a magic number saying unsigned bytes and the
number of dimensions, the big-endian size of each, then the payload), read from its gzipped file."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from bench.protocol.errors import DatasetError


def read_idx_gz(path: Path, expect_sha256: str | None = None, fix: str = "re-download it",
                what: str = "the published file") -> np.ndarray:
    """One gzipped IDX file as a uint8 array, after checking the gzip stream, the header against the payload
    and, if given, the payload's sha256; any fault is one DatasetError naming the file and `fix`."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path} is corrupt (not a valid gzip file: {exc}); fix: {fix}") from exc
    if expect_sha256 is not None and hashlib.sha256(raw).hexdigest() != expect_sha256:
        raise DatasetError(f"{path} is corrupt (its content differs from {what}); fix: {fix}")
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path} is corrupt (not an unsigned-byte IDX file); fix: {fix}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise DatasetError(f"{path} is corrupt (payload does not match its header {dims}); fix: {fix}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def check_pairs(arrays: dict[str, np.ndarray], name: str, image_shape: tuple[int, int]) -> None:
    """Each split's images and labels belong together: as many labels as images, images of `image_shape`."""
    for split in ("train", "eval"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.shape[0] != y.shape[0] or x.shape[1:] != image_shape:
            raise DatasetError(f"{name} {split} split has shapes {x.shape} / {y.shape}; "
                               "the source files do not belong together")


def pad_to_32(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 1, 32, 32) uint8 with a 2-pixel zero border."""
    return np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None]
