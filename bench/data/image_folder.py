"""Images in a folder or a zip, with labels in an optional `dataset.json`: the layout of NVlabs'
dataset_tool.py (StyleGAN2-ADA), which is how FFHQ, AFHQ, LSUN exports, MetFaces, CelebA or a user's own
images come in.

`dataset.json` holds `{"labels": [[relative path, integer label], ...]}` or `{"labels": null}`. Files are
taken in sorted order of their path inside the folder or zip; hidden files and macOS metadata are skipped.
Only the standard library's zipfile reads a zip, member by member: nothing is extracted to disk.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.pixels import UNSUPPORTED, eight_bit
from bench.protocol.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
LABELS = "dataset.json"


def _is_image(name: str) -> bool:
    parts = name.split("/")
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in parts)
    return not hidden and name.lower().endswith(IMAGE_SUFFIXES)


@dataclass
class ImageSource:
    """A folder or a zip of images: their names in order, their bytes, and the labels its dataset.json gives."""

    path: Path
    names: list[str]
    labels: dict[str, int] | None

    @classmethod
    def open(cls, path: Path) -> ImageSource:
        path = Path(path)
        if path.is_dir():
            names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
            text = (path / LABELS).read_text() if (path / LABELS).is_file() else None
        elif path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = sorted(info.filename for info in archive.infolist() if not info.is_dir())
                text = archive.read(LABELS).decode() if LABELS in names else None
        elif path.exists():
            raise DatasetError(f"{path} is neither a folder nor a zip file; give a folder or a zip of images")
        else:
            raise DatasetError(f"{path} does not exist; give a folder or a zip of images")
        images = [name for name in names if _is_image(name)]
        if not images:
            raise DatasetError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return cls(path, images, _labels(path, text, images))

    def read(self) -> Iterator[tuple[str, bytes]]:
        if self.path.is_dir():
            for name in self.names:
                yield name, (self.path / name).read_bytes()
            return
        with zipfile.ZipFile(self.path) as archive:
            for name in self.names:
                yield name, archive.read(name)


def _labels(path: Path, text: str | None, images: list[str]) -> dict[str, int] | None:
    where = f"{path}/{LABELS}" if path.is_dir() else f"{path}:{LABELS}"
    if text is None:
        return None
    try:
        labels = json.loads(text).get("labels")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise DatasetError(f"{where} is not a JSON object {{\"labels\": [[file, label], ...]}} ({exc}); fix it "
                           "or remove it (no labels)") from None
    if labels is None:
        return None
    if not isinstance(labels, list) or not all(isinstance(e, list) and len(e) == 2 for e in labels):
        raise DatasetError(f"{where}: `labels` must be a list of [file, label] pairs, or null")
    mapping = {}
    for name, label in labels:
        if isinstance(label, bool) or not isinstance(label, int) or label < 0:
            raise DatasetError(f"{where}: the label of {name!r} is {label!r}; labels are integers >= 0")
        mapping[name] = label
    unlabeled = [name for name in images if name not in mapping]
    if unlabeled:
        raise DatasetError(f"{where} gives no label for {unlabeled[0]} ({len(unlabeled)} of {len(images)} images); "
                           "label every image, or write {\"labels\": null}")
    missing = sorted(set(mapping) - set(images))
    if missing:
        raise DatasetError(f"{where} labels {missing[0]}, which is not an image of {path} ({len(missing)} such "
                           "entries); remove those entries")
    return mapping


def decode(data: bytes, name: str, source: Path, mode: str) -> np.ndarray:
    """One image file's bytes as exact 8-bit pixels in PIL mode `mode` ('L' or 'RGB')."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = eight_bit(image, mode)
            if pixels is None:
                raise DatasetError(f"{source}: {name} is a {image.mode!r} image, which {UNSUPPORTED}")
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"{source}: {name} cannot be read as an image ({exc}); replace or remove it") from None
    return pixels


def load_image_dataset(path: Path, resolution: int, channels: int, labeled: bool, convert_hint: str) \
        -> dict[str, np.ndarray]:
    """A dataset-tool folder or zip as `train_x` (N, C, R, R) uint8 (and `train_y` when `labeled`): every image
    must already be R x R with C channels (gray 'L' or 'RGB'); anything else is refused with `convert_hint`."""
    source = ImageSource.open(path)
    if labeled and source.labels is None:
        raise DatasetError(f"{path} has no labels ({LABELS} is missing or says null), but the dataset is declared "
                           "with `labels: true`; add the labels or declare `labels: false`")
    want = "L" if channels == 1 else "RGB"
    out = np.empty((len(source.names), channels, resolution, resolution), dtype=np.uint8)
    from PIL import Image, UnidentifiedImageError

    for i, (name, data) in enumerate(source.read()):
        try:
            with Image.open(io.BytesIO(data)) as image:  # opened once: header checked, then pixels decoded
                if image.size != (resolution, resolution) or image.mode != want:
                    raise DatasetError(f"{path}: {name} is a {image.width}x{image.height} {image.mode!r} image, not "
                                       f"{resolution}x{resolution} {want!r}; convert the source with {convert_hint}")
                pixels = np.asarray(image)
        except (UnidentifiedImageError, OSError) as exc:
            raise DatasetError(f"{path}: {name} cannot be read as an image ({exc}); replace or remove it") from None
        out[i] = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    arrays = {"train_x": out}
    if labeled:
        arrays["train_y"] = np.array([source.labels[name] for name in source.names], dtype=np.int64)
    return arrays
