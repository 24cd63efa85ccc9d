"""`gbench dataset-tool` and image-folder datasets, on images the tests write: mixed sizes and modes (gray,
RGBA, 16-bit gray, palette), a fake CelebA `img_align_celeba.zip` of JPEGs, labels in dataset.json; each
transform checked on images whose expected output is known without resampling (solid regions)."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from bench.cli import main
from bench.data.dataset_tool import convert
from bench.data.image_folder import load_image_dataset
from bench.protocol.errors import DatasetError

RED, GREEN, BLUE = (220, 20, 30), (10, 200, 40), (20, 30, 210)


def framed(width: int, height: int, inner: int, centre=GREEN, frame=RED, mode="RGB") -> Image.Image:
    """A `frame`-coloured image with a `centre`-coloured square of side `inner` at its centre."""
    image = Image.new("RGB", (width, height), frame)
    left, top = round((width - inner) / 2), round((height - inner) / 2)
    image.paste(Image.new("RGB", (inner, inner), centre), (left, top))
    return image.convert(mode) if mode != "RGB" else image


def read_zip(path) -> tuple[list[str], dict, list[np.ndarray]]:
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".png"))
        meta = json.loads(archive.read("dataset.json"))
        images = [np.asarray(Image.open(io.BytesIO(archive.read(n)))) for n in names]
    return names, meta, images


@pytest.fixture
def mixed_folder(tmp_path):
    """Mixed sizes and modes, in subfolders, with labels; plus files that are not images."""
    folder = tmp_path / "photos"
    (folder / "b").mkdir(parents=True)
    framed(48, 40, 40).save(folder / "a.png")  # 6 px red frame left and right only: centre square is green
    framed(40, 64, 40, centre=(90, 90, 90), frame=(0, 0, 0), mode="L").save(folder / "b" / "gray.png")
    rgba = framed(50, 50, 50, centre=BLUE).convert("RGBA")
    rgba.putalpha(17)
    rgba.save(folder / "b" / "alpha.png")
    sixteen = Image.fromarray(np.full((40, 40), 257 * 123, dtype=np.uint16))  # 16-bit gray, v16 = 257 * 123
    sixteen.save(folder / "deep.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"skipped")
    labels = [["a.png", 3], ["b/gray.png", 1], ["b/alpha.png", 1], ["deep.png", 0]]
    (folder / "dataset.json").write_text(json.dumps({"labels": labels}))
    return folder


def test_center_crop_converts_sizes_and_modes_and_carries_the_labels(tmp_path, mixed_folder, capsys):
    dest = tmp_path / "out.zip"
    assert main(["--root", str(tmp_path), "dataset-tool", "--source", str(mixed_folder), "--dest", str(dest),
                 "--resolution", "32", "--transform", "center-crop"]) == 0
    assert f"wrote 4 images (32x32, 3 channel(s), labels: true, 3 classes) to {dest}" in capsys.readouterr().out
    names, meta, images = read_zip(dest)
    assert names == [f"00000/img{i:08d}.png" for i in range(4)]  # a.png, b/alpha.png, b/gray.png, deep.png
    assert meta["labels"] == [[names[0], 3], [names[1], 1], [names[2], 1], [names[3], 0]]
    assert all(image.shape == (32, 32, 3) and image.dtype == np.uint8 for image in images)
    assert (images[0] == GREEN).all()  # the central 40x40 square of a.png is all green
    assert (images[1] == BLUE).all()  # alpha dropped, as PIL's convert does
    assert (images[2] == 90).all()  # gray replicated to RGB
    assert (images[3] == 123).all()  # 16-bit gray: its top 8 bits


def test_center_crop_wide_keeps_the_width_and_letterboxes(tmp_path):
    folder = tmp_path / "wide"
    folder.mkdir()
    image = Image.new("RGB", (64, 32), RED)
    image.paste(Image.new("RGB", (64, 16), GREEN), (0, 16))  # top half red, bottom half green
    image.save(folder / "car.png")
    convert(folder, tmp_path / "wide.zip", 32, "center-crop-wide")
    (out,) = read_zip(tmp_path / "wide.zip")[2]
    assert (out[:8] == 0).all() and (out[24:] == 0).all()  # black bars above and below the 32x16 content
    assert (out[8:12] == RED).all() and (out[20:24] == GREEN).all()  # away from the edge LANCZOS rings at


def test_a_fake_celeba_zip_with_the_dcgan_crop(tmp_path, capsys):
    """CelebA's aligned 178x218 JPEGs, cropped 108x108 at the centre and resized to 64 (DCGAN, Lucic et al.)."""
    archive = tmp_path / "img_align_celeba.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(1, 4):
            buffer = io.BytesIO()
            framed(178, 218, 112).save(buffer, format="JPEG", quality=95)  # green where the 108 crop falls
            zf.writestr(f"img_align_celeba/{i:06d}.jpg", buffer.getvalue())
        zf.writestr("__MACOSX/img_align_celeba/._000001.jpg", b"metadata")
    dest = tmp_path / "celeba64.zip"
    assert main(["--root", str(tmp_path), "dataset-tool", "--source", str(archive), "--dest", str(dest),
                 "--resolution", "64", "--transform", "center-crop-108"]) == 0
    names, meta, images = read_zip(dest)
    assert len(images) == 3 and meta == {"labels": None}
    assert all(image.shape == (64, 64, 3) for image in images)
    assert all(np.abs(image.astype(int) - GREEN).max() <= 12 for image in images)  # JPEG, then LANCZOS
    data = load_image_dataset(dest, 64, 3, labeled=False, convert_hint="gbench dataset-tool")
    assert data["train_x"].shape == (3, 3, 64, 64) and "train_y" not in data


@pytest.mark.parametrize(("case", "message"), [
    ("mixed sizes", r"photos: b/alpha\.png is 50x50, not 32x32: give --transform center-crop"),
    ("unreadable", r"photos: broken\.png cannot be read as an image .*replace or remove it"),
    ("unlabeled", r"photos/dataset\.json gives no label for b/alpha\.png \(1 of 4 images\)"),
    ("stale label", r"photos/dataset\.json labels gone\.png, which is not an image of"),
    ("bad label", r"photos/dataset\.json: the label of 'a\.png' is -1; labels are integers >= 0"),
    ("resolution", r"--resolution 48 is not a power of two"),
    ("transform", r"--transform 'squash' is not one of center-crop, center-crop-wide, center-crop-<S>"),
    ("small for crop", r"photos: a\.png is 48x40, smaller than the 108x108 crop"),
])
def test_bad_sources_are_one_error_naming_the_file_and_the_fix(tmp_path, mixed_folder, case, message):
    resolution, transform = 32, "center-crop"
    labels = json.loads((mixed_folder / "dataset.json").read_text())["labels"]
    if case == "mixed sizes":
        transform = None
        for name in ("a.png", "b/gray.png", "deep.png"):
            Image.new("RGB", (32, 32)).save(mixed_folder / name)
    elif case == "unreadable":
        (mixed_folder / "broken.png").write_bytes(b"\x89PNG not really")
        labels.append(["broken.png", 0])
    elif case == "unlabeled":
        labels = [e for e in labels if e[0] != "b/alpha.png"]
    elif case == "stale label":
        labels.append(["gone.png", 2])
    elif case == "bad label":
        labels[0][1] = -1
    elif case == "resolution":
        resolution = 48
    elif case == "transform":
        transform = "squash"
    else:
        transform = "center-crop-108"
    (mixed_folder / "dataset.json").write_text(json.dumps({"labels": labels}))
    with pytest.raises(DatasetError, match=message):
        convert(mixed_folder, tmp_path / "out.zip", resolution, transform)
    assert not (tmp_path / "out.zip").exists()  # nothing half-written


def test_a_dataset_zip_must_match_its_declaration(tmp_path, mixed_folder):
    dest = tmp_path / "gray.zip"
    convert(mixed_folder, dest, 16, "center-crop", channels=1)
    data = load_image_dataset(dest, 16, 1, labeled=True, convert_hint="gbench dataset-tool")
    assert data["train_x"].shape == (4, 1, 16, 16) and data["train_y"].tolist() == [3, 1, 1, 0]
    assert (data["train_x"][2] == 90).all()
    with pytest.raises(DatasetError, match=r"00000/img00000000\.png is a 16x16 'L' image, not 32x32 'RGB'; "
                                           r"convert the source with gbench dataset-tool"):
        load_image_dataset(dest, 32, 3, labeled=False, convert_hint="gbench dataset-tool")
    unlabeled = tmp_path / "unlabeled.zip"
    with pytest.raises(DatasetError, match="does not exist; give a folder or a zip of images"):
        convert(tmp_path / "missing", unlabeled, 16)
