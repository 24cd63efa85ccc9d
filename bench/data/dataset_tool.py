"""`gbench dataset-tool`: a folder or zip of images (a CelebA `img_align_celeba.zip`, an LSUN export, a
user's photos) -> a zip in the layout of NVlabs' dataset_tool.py, every image R x R with the same channels,
ready to be declared as a dataset in params.yaml.

Transforms (`--transform`), each ending in a LANCZOS resize to R x R when the size differs (the filter of
NVlabs' tool):
- none (the default): every image must already be R x R;
- `center-crop`: the central square of side min(width, height);
- `center-crop-wide`: the whole width kept: scaled to width R, then rows cropped or padded with black
  (letterboxed) about the centre to R;
- `center-crop-<S>`: the central S x S square (offsets rounded as DCGAN's and Lucic et al.'s CelebA 64
  protocol: crop 108 then resize to 64 is `--transform center-crop-108 --resolution 64`).
Channels (`--channels`): 3 converts every image to RGB (gray replicated, alpha dropped), 1 to gray
(PIL's ITU-R 601-2 luma); 16-bit gray keeps its top 8 bits (bench/data/pixels.py). Labels come from the
source's dataset.json, renamed with the images. The zip is written atomically.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from bench.data.image_folder import LABELS, ImageSource, decode
from bench.protocol.errors import DatasetError
from bench.protocol.io import atomic_write

TRANSFORMS = ("center-crop", "center-crop-wide", "center-crop-<S>")
HINT = "give --transform center-crop (or center-crop-wide, or center-crop-<S> for a fixed S x S crop)"


def _resized(image, resolution: int):
    from PIL import Image

    return image if image.size == (resolution, resolution) else image.resize((resolution, resolution),
                                                                             Image.LANCZOS)


def _crop(image, width: int, height: int):
    left, top = round((image.width - width) / 2), round((image.height - height) / 2)
    return image.crop((left, top, left + width, top + height))


def transform_of(name: str | None, resolution: int) -> Callable:
    """The function (PIL image, its name) -> R x R PIL image that `--transform name` stands for."""
    from PIL import Image

    def none(image, where: str):
        if image.size != (resolution, resolution):
            raise DatasetError(f"{where} is {image.width}x{image.height}, not {resolution}x{resolution}: {HINT}")
        return image

    def center_crop(image, where: str):
        side = min(image.size)
        return _resized(_crop(image, side, side), resolution)

    def center_crop_wide(image, where: str):
        height = max(1, round(resolution * image.height / image.width))
        scaled = image.resize((resolution, height), Image.LANCZOS)
        if height >= resolution:
            return _crop(scaled, resolution, resolution)
        canvas = Image.new(scaled.mode, (resolution, resolution))
        canvas.paste(scaled, (0, (resolution - height) // 2))
        return canvas

    def fixed_crop(size: int):
        def crop(image, where: str):
            if image.width < size or image.height < size:
                raise DatasetError(f"{where} is {image.width}x{image.height}, smaller than the {size}x{size} crop; "
                                   "remove it or choose a smaller crop")
            return _resized(_crop(image, size, size), resolution)
        return crop

    if name is None:
        return none
    if name == "center-crop":
        return center_crop
    if name == "center-crop-wide":
        return center_crop_wide
    if match := re.fullmatch(r"center-crop-([1-9][0-9]*)", name):
        return fixed_crop(int(match.group(1)))
    raise DatasetError(f"--transform {name!r} is not one of {', '.join(TRANSFORMS)}")


def check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution > 4096 or resolution & (resolution - 1):
        raise DatasetError(f"--resolution {resolution} is not a power of two from 4 to 4096 (e.g. 32, 64, 256)")


def convert(source: Path, dest: Path, resolution: int, transform: str | None = None, channels: int = 3,
            max_images: int | None = None) -> dict:
    """Write the converted dataset to `dest` (a .zip); returns what was written."""
    from PIL import Image

    check_resolution(resolution)
    if channels not in (1, 3):
        raise DatasetError(f"--channels {channels} is not 1 (gray) or 3 (RGB)")
    if Path(dest).suffix.lower() != ".zip":
        raise DatasetError(f"--dest {dest} must be a .zip file")
    images = ImageSource.open(Path(source))
    apply, mode = transform_of(transform, resolution), "L" if channels == 1 else "RGB"
    names = images.names[:max_images] if max_images else images.names

    def write(tmp: Path) -> None:
        labels = []
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for i, (name, data) in enumerate(images.read()):
                if i == len(names):
                    break
                pixels = decode(data, name, images.path, mode)
                out = apply(Image.fromarray(pixels, mode), f"{images.path}: {name}")
                target = f"{i // 1000:05d}/img{i:08d}.png"
                buffer = io.BytesIO()
                out.save(buffer, format="PNG")
                archive.writestr(target, buffer.getvalue())
                if images.labels is not None:
                    labels.append([target, images.labels[name]])
            archive.writestr(LABELS, json.dumps({"labels": labels if images.labels is not None else None}))

    atomic_write(dest, write)
    classes = len(set(images.labels.values())) if images.labels else 0
    return {"dest": str(dest), "images": len(names), "resolution": resolution, "channels": channels,
            "labels": images.labels is not None, "classes": classes, "transform": transform or "none"}
