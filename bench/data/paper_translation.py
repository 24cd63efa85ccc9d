"""The image-to-image translation papers' own datasets, read from their published archives into a translation
task's arrays (the layout of bench/data/translation.py: `<split>_a` inputs, `<split>_x` targets, labels beside).

The archives, as the authors' download scripts fetch them (neither paper publishes a checksum):
- pix2pix (Isola et al. 2017): PIX2PIX_URL/<set>.tar.gz holds <set>/train/*.jpg, <set>/val/*.jpg and, for some
  sets, <set>/test/*.jpg. Each image is one pair side by side: the archive's A on the left half, B on the right
  (the reference splits at width // 2).
- CycleGAN (Zhu et al. 2017): CYCLEGAN_URL/<set>.zip holds <set>/trainA, trainB, testA and testB: two unpaired
  domains of different sizes.

Direction: `train_a`/`eval_a` always hold the paper's input. `facades` is trained labels -> photo, the archive's
B -> A (the reference's README: the set's A to B is photo to labels); `maps` is aerial photo -> map (A -> B) and
`map2aerial` the reverse, both of the paper's directions on the one archive; `edges2shoes` is edges -> photo
(A -> B); `horse2zebra` is horse (trainA) -> zebra (trainB).

Splits: train is the archive's `train` (trainA/trainB). The evaluation split is `test` where a pix2pix archive
has one, else `val` (the folder used is recorded in meta.json), and testA/testB for CycleGAN; a pix2pix `val`
beside a `test` is not used.

Images: decoded with Pillow, converted to RGB, each image (each half of a pair) resized on its own to the
spec's R x R with Pillow's bicubic filter: one fixed image per file. The references resize to a load size (286)
and take a random 256 crop and flip each epoch; that is training-time augmentation, and an evaluation set must not
change between reads. A half already R x R is kept pixel for pixel. uint8 N x 3 x R x R; no classes (labels all
0). Members are read from the archive stream in sorted name order (the references sort their file paths);
nothing is extracted to disk, and member names are only keys, never paths.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PIL import __version__ as PILLOW_VERSION

from bench.data.download import fetch
from bench.protocol.errors import DatasetError
from bench.protocol.io import sha256_file

FORMATS = {  # paper -> (archive suffix, the folder URL its download script fetches from)
    "pix2pix": (".tar.gz", "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/"),
    "cyclegan": (".zip", "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/"),
}
ARCHIVES = {"facades": "pix2pix", "maps": "pix2pix", "edges2shoes": "pix2pix", "horse2zebra": "cyclegan"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError)


@dataclass(frozen=True)
class PaperTask:
    archive: str  # the published archive it reads (a key of ARCHIVES, also its top folder)
    direction: str  # "AtoB" or "BtoA": which side of the archive is the paper's input
    description: str

    @property
    def paired(self) -> bool:
        return ARCHIVES[self.archive] == "pix2pix"


TASKS = {
    "facades": PaperTask("facades", "BtoA", "CMP Facades label map -> facade photo (pix2pix)"),
    "maps": PaperTask("maps", "AtoB", "aerial photo -> Google map (pix2pix)"),
    "map2aerial": PaperTask("maps", "BtoA", "Google map -> aerial photo (pix2pix; the maps archive reversed)"),
    "edges2shoes": PaperTask("edges2shoes", "AtoB", "HED edges -> UT Zappos50K shoe photo (pix2pix)"),
    "horse2zebra": PaperTask("horse2zebra", "AtoB", "ImageNet horses -> zebras (CycleGAN)"),
}


def archive_file(name: str) -> str:
    return name + FORMATS[ARCHIVES[name]][0]


def archive_url(name: str) -> str:
    return FORMATS[ARCHIVES[name]][1] + archive_file(name)


def _fix(name: str) -> str:
    return f"download it again (`gbench download {name} DIR`) and set data.{name}_archive to it"


# ---------------------------------------------------------------- download and source

def download_archive(name: str, dest: Path, url: str | None = None, sha256: str | None = None) -> tuple[Path, str]:
    """The published archive `name` into `dest` (atomically; kept if already there and matching `sha256`), and
    the sha256 of what is there: the source publishes no checksum, so this is the only record of the file."""
    if name not in ARCHIVES:
        raise DatasetError(f"no translation archive {name!r}; known: {', '.join(ARCHIVES)}")
    path = fetch(url or archive_url(name), Path(dest) / archive_file(name), md5=None, sha256=sha256)
    return path, sha256 or sha256_file(path)


def source_archive(name: str, params: dict | None) -> tuple[Path, str | None]:
    """The archive params.yaml names (`data.<name>_archive`) and the sha256 pinned for it (`data.<name>_sha256`)."""
    data = (params or {}).get("data") or {}
    if not data.get(f"{name}_archive"):
        raise DatasetError(f"params.yaml: data.{name}_archive is not set, and {name} has no offline copy here. Fix: "
                           f"on a machine with internet, `gbench download {name} DIR`, then set "
                           f"`data: {{{name}_archive: DIR/{archive_file(name)}}}` in params.yaml")
    return Path(data[f"{name}_archive"]), data.get(f"{name}_sha256")


def checked_sha256(name: str, archive: Path, pinned: str | None) -> str:
    """The archive's sha256, after checking it exists and matches the pin where there is one."""
    if not archive.is_file():
        raise DatasetError(f"{name} not found: {archive} does not exist (params.yaml data.{name}_archive); "
                           f"fix: {_fix(name)}")
    digest = sha256_file(archive)
    if pinned and digest != pinned:
        raise DatasetError(f"{archive} has sha256 {digest}, not the {pinned} pinned in params.yaml "
                           f"(data.{name}_sha256): it is another download or damaged; fix: {_fix(name)}, or pin "
                           "the new sha256 if you trust the file")
    return digest


# ---------------------------------------------------------------- reading an archive

def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__  # tarfile's reasons span lines


def _key(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def member_names(archive: Path, name: str) -> list[str]:
    """The file members of a .zip or a tar (any compression), in archive order."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return [_key(i.filename) for i in zf.infolist() if not i.is_dir()]
        with tarfile.open(archive, "r:*") as tar:
            return [_key(m.name) for m in tar.getmembers() if m.isfile()]
    except READ_ERRORS as exc:
        raise DatasetError(f"{archive} cannot be read as a .tar.gz or .zip ({_reason(exc)}): an error page or a "
                           f"cut-off download?; fix: {_fix(name)}") from exc


def member_bytes(archive: Path, wanted: set[str], name: str) -> Iterator[tuple[str, bytes]]:
    """(member name, content) of each member in `wanted`, in archive order (one pass over a compressed tar)."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if _key(info.filename) in wanted:
                        yield _key(info.filename), zf.read(info)
            return
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.isfile() and _key(member.name) in wanted:
                    yield _key(member.name), tar.extractfile(member).read()
    except READ_ERRORS as exc:
        raise DatasetError(f"{archive} is damaged: reading it failed ({_reason(exc)}); fix: {_fix(name)}") from exc


def images_by_folder(names: list[str], root: str) -> dict[str, list[str]]:
    """The image members directly inside each <root>/<folder>/, sorted by name; hidden files (macOS's ._x.jpg
    twins among them) are skipped."""
    folders: dict[str, list[str]] = {}
    for member in names:
        parts = member.split("/")
        if (len(parts) == 3 and parts[0] == root and not parts[2].startswith(".")
                and parts[2].lower().endswith(IMAGE_SUFFIXES)):
            folders.setdefault(parts[1], []).append(member)
    return {folder: sorted(members) for folder, members in folders.items()}


def layout(names: list[str], task: PaperTask, archive: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Which members fill which split (paired: split -> pair images) or array (unpaired: `train_a` etc. -> images),
    and the archive folder each came from."""
    folders = images_by_folder(names, task.archive)
    if task.paired:
        eval_folder = "test" if folders.get("test") else "val"
        wanted = {"train": "train", "eval": eval_folder}
        expected = f"{task.archive}/train and {task.archive}/test or {task.archive}/val"
    else:
        wanted = {"train_a": "trainA", "train_x": "trainB", "eval_a": "testA", "eval_x": "testB"}
        expected = ", ".join(f"{task.archive}/{f}" for f in wanted.values())
    missing = [folder for folder in wanted.values() if not folders.get(folder)]
    if missing:
        found = sorted({n.split("/")[0] for n in names}) or ["nothing"]
        raise DatasetError(f"{archive} has no images in {task.archive}/{missing[0]}/ (its top level: "
                           f"{', '.join(found[:5])}); "
                           f"expected the {ARCHIVES[task.archive]} archive {archive_file(task.archive)} with "
                           f"{expected}; fix: {_fix(task.archive)}")
    return {key: folders[folder] for key, folder in wanted.items()}, wanted


# ---------------------------------------------------------------- images

def decode(raw: bytes, member: str, archive: Path, name: str) -> Image.Image:
    """An archive member as an RGB image."""
    try:
        with Image.open(io.BytesIO(raw)) as image:
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{archive}: {member} is not a readable image ({exc}); fix: {_fix(name)}") from exc


def split_pair(image: Image.Image, member: str, archive: Path) -> tuple[Image.Image, Image.Image]:
    """The left (A) and right (B) halves of a pix2pix pair, split at width // 2 as the reference does."""
    width, height = image.size
    if width < 2 or width < height:
        raise DatasetError(f"{archive}: {member} is {width}x{height}, not a pair of images side by side (A left, B "
                           "right, at least as wide as tall); is this a pix2pix archive?")
    half = width // 2
    return image.crop((0, 0, half, height)), image.crop((half, 0, width, height))


def to_array(image: Image.Image, resolution: int) -> np.ndarray:
    """3 x R x R uint8: bicubic resize to R x R unless the image is that size already."""
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


# ---------------------------------------------------------------- a task's arrays

def _rows(plan: dict[str, list[str]], paired: bool) -> dict[str, int]:
    """Rows per image array: a paired split's members fill both its `_a` and its `_x` array."""
    if paired:
        return {f"{split}_{side}": len(members) for split, members in plan.items() for side in ("a", "x")}
    return {key: len(members) for key, members in plan.items()}


def _fill(arrays: dict[str, np.ndarray], plan: dict[str, list[str]], task: PaperTask, archive: Path,
          resolution: int) -> None:
    """Decode every planned member into its row (rows in sorted name order, members read in archive order)."""
    slots = {member: (key, row) for key, members in plan.items() for row, member in enumerate(members)}
    filled = set()
    for member, raw in member_bytes(archive, set(slots), task.archive):
        key, row = slots[member]
        image = decode(raw, member, archive, task.archive)
        if task.paired:
            left, right = split_pair(image, member, archive)
            source, target = (left, right) if task.direction == "AtoB" else (right, left)
            arrays[f"{key}_a"][row] = to_array(source, resolution)
            arrays[f"{key}_x"][row] = to_array(target, resolution)
        else:
            arrays[key][row] = to_array(image, resolution)
        filled.add(member)
    if lost := sorted(set(slots) - filled):
        raise DatasetError(f"{archive}: {lost[0]} is listed but could not be read; fix: {_fix(task.archive)}")


def _names_sha256(members: list[str]) -> str:
    return hashlib.sha256("\n".join(members).encode()).hexdigest()


def load_task(task_name: str, archive: Path, resolution: int) -> tuple[dict[str, np.ndarray], dict]:
    """A task's arrays from its archive (train_a, train_a_y, train_x, train_y and the same for eval), and how they
    were read (for meta.json)."""
    task = TASKS[task_name]
    plan, folders = layout(member_names(archive, task.archive), task, archive)
    arrays = {key: np.empty((n, 3, resolution, resolution), dtype=np.uint8)
              for key, n in _rows(plan, task.paired).items()}
    _fill(arrays, plan, task, archive, resolution)
    for split in ("train", "eval"):  # no classes
        arrays[f"{split}_a_y"] = np.zeros(len(arrays[f"{split}_a"]), dtype=np.int64)
        arrays[f"{split}_y"] = np.zeros(len(arrays[f"{split}_x"]), dtype=np.int64)
    if task.paired:
        sides = ("right half (B)", "left half (A)") if task.direction == "BtoA" else ("left half (A)", "right half (B)")
        arrangement = f"paired: <split>_a is each image's {sides[0]}, <split>_x its {sides[1]}"
    else:
        arrangement = "unpaired: <split>_a from trainA/testA, <split>_x from trainB/testB"
    source = {"archive": str(archive), "url": archive_url(task.archive), "task": task_name, "paired": task.paired,
              "direction": task.direction, "arrays": arrangement, "folders": folders,
              "members_sha256": {key: _names_sha256(members) for key, members in plan.items()},
              "resize": f"each image (each half) on its own to {resolution}x{resolution}, Pillow bicubic; "
                        "kept as is when already that size",
              "decoder": f"Pillow {PILLOW_VERSION}", "labels": "none: all 0"}
    return arrays, source


def prepare_task(task_name: str, params: dict | None, resolution: int) -> tuple[dict[str, np.ndarray], dict]:
    """The prepare stage's arrays for a paper task, from the archive params.yaml names, checked against its pin."""
    name = TASKS[task_name].archive
    archive, pinned = source_archive(name, params)
    digest = checked_sha256(name, archive, pinned)
    arrays, source = load_task(task_name, archive, resolution)
    source.update({"sha256": digest, "sha256_pinned": bool(pinned),
                   "checksum": "none published: sha256 of the archive read, checked against "
                               f"data.{name}_sha256 where pinned"})
    return arrays, source
