"""The translation papers' own sets (bench/data/paper_translation.py) on small archives in their real formats that
the tests write: pix2pix .tar.gz of side-by-side A|B jpgs and CycleGAN .zip of trainA/trainB/testA/testB. Flat
colours on 16-pixel halves (JPEG's 16x16 blocks never straddle the seam) survive JPEG to within a few levels."""

import io
import tarfile
import urllib.request
import zipfile

import numpy as np
import pytest
from PIL import Image

from bench.cli import PAPER_ARCHIVES, main
from bench.data import download, paper_translation
from bench.data.datasets import SOURCE_PARAMS, load_prepared, prepare, spec
from bench.data.paper_translation import load_task
from bench.protocol.errors import DatasetError
from bench.protocol.io import read_json, sha256_file

TOL = 6  # JPEG on a flat 16x16 block: a level or two; a swapped half would be off by > 100


def left(i: int) -> tuple[int, int, int]:
    return (20 + 20 * i, 40, 200)


def right(i: int) -> tuple[int, int, int]:
    return (220, 200 - 20 * i, 30)


def flat(colour, side: int = 16) -> Image.Image:
    return Image.new("RGB", (side, side), colour)


def encode(image: Image.Image, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, quality=95) if fmt == "JPEG" else image.save(out, fmt)
    return out.getvalue()


def pair(i: int, side: int = 16) -> bytes:
    """A pix2pix pair: A (left(i)) and B (right(i)) side by side, 2W x W."""
    image = Image.new("RGB", (2 * side, side))
    image.paste(flat(left(i), side), (0, 0))
    image.paste(flat(right(i), side), (side, 0))
    return encode(image)


def write_tar(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def pix2pix_archive(path, root="facades", splits=None) -> dict[str, list[str]]:
    """<root>/<split>/<n>.jpg for n in each split's numbers, written in reverse (not sorted) order; the pair's
    colour index is its number. Returns the file names per split in sorted order."""
    splits = splits or {"train": [1, 10, 2], "val": [3], "test": [4, 5]}
    members = {f"{root}/{split}/{n}.jpg": pair(n) for split, numbers in splits.items() for n in reversed(numbers)}
    members[f"{root}/train/.DS_Store"] = b"junk"  # hidden and non-image members are skipped
    members[f"{root}/train/._1.jpg"] = b"junk"  # macOS's resource-fork twin of 1.jpg
    write_tar(path, members)
    return {split: sorted(f"{n}.jpg" for n in numbers) for split, numbers in splits.items()}


def cyclegan_archive(path, root="horse2zebra", sizes=None) -> None:
    """<root>/trainA ... testB of flat jpgs: domain A left(n), domain B right(n), n the file's number."""
    sizes = sizes or {"trainA": 3, "trainB": 5, "testA": 2, "testB": 1}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{root}/", b"")
        for folder, n in sizes.items():
            for i in range(n):
                colour = left(i) if folder.endswith("A") else right(i)
                zf.writestr(f"{root}/{folder}/{i}.jpg", encode(flat(colour)))
        zf.writestr(f"__MACOSX/{root}/trainA/._0.jpg", b"junk")


def colours(images: np.ndarray) -> np.ndarray:
    """The mean colour of each image, N x 3."""
    return images.reshape(len(images), 3, -1).mean(axis=2)


def assert_colours(images: np.ndarray, expected: list[tuple[int, int, int]]) -> None:
    np.testing.assert_allclose(colours(images), np.array(expected, dtype=float), atol=TOL)


def number(name: str) -> int:
    return int(name.split(".")[0])


# ---------------------------------------------------------------- pix2pix

def test_facades_input_is_the_label_map_on_the_right_half(tmp_path):
    names = pix2pix_archive(tmp_path / "facades.tar.gz")
    arrays, source = load_task("facades", tmp_path / "facades.tar.gz", 16)
    order = [number(n) for n in names["train"]]
    assert_colours(arrays["train_a"], [right(i) for i in order])  # BtoA: the paper's input is the archive's B
    assert_colours(arrays["train_x"], [left(i) for i in order])
    assert arrays["train_a"].dtype == np.uint8 and arrays["train_a"].shape == (3, 3, 16, 16)
    assert source["direction"] == "BtoA" and "right half (B)" in source["arrays"]


def test_maps_input_is_the_aerial_left_half_and_map2aerial_the_right(tmp_path):
    names = pix2pix_archive(tmp_path / "maps.tar.gz", root="maps", splits={"train": [0, 1], "val": [2, 3, 4]})
    aerial2map, _ = load_task("maps", tmp_path / "maps.tar.gz", 16)
    map2aerial, _ = load_task("map2aerial", tmp_path / "maps.tar.gz", 16)
    order = [number(n) for n in names["val"]]
    assert_colours(aerial2map["eval_a"], [left(i) for i in order])
    assert_colours(aerial2map["eval_x"], [right(i) for i in order])
    np.testing.assert_array_equal(map2aerial["eval_a"], aerial2map["eval_x"])
    np.testing.assert_array_equal(map2aerial["eval_x"], aerial2map["eval_a"])


def test_edges2shoes_input_is_the_left_half(tmp_path):
    pix2pix_archive(tmp_path / "e.tar.gz", root="edges2shoes", splits={"train": [0], "val": [1]})
    arrays, _ = load_task("edges2shoes", tmp_path / "e.tar.gz", 16)
    assert_colours(arrays["train_a"], [left(0)])
    assert_colours(arrays["train_x"], [right(0)])


def test_members_are_in_sorted_name_order_not_archive_order(tmp_path):
    pix2pix_archive(tmp_path / "f.tar.gz", splits={"train": [2, 10, 1], "test": [0]})
    arrays, _ = load_task("facades", tmp_path / "f.tar.gz", 16)
    assert_colours(arrays["train_x"], [left(1), left(10), left(2)])  # "1.jpg" < "10.jpg" < "2.jpg", as sorted()


def test_eval_split_is_test_where_the_archive_has_one_else_val(tmp_path):
    pix2pix_archive(tmp_path / "with_test.tar.gz", splits={"train": [0], "val": [1, 2, 3], "test": [4, 5]})
    pix2pix_archive(tmp_path / "no_test.tar.gz", splits={"train": [0], "val": [1, 2, 3]})
    with_test, source = load_task("facades", tmp_path / "with_test.tar.gz", 16)
    no_test, source_val = load_task("facades", tmp_path / "no_test.tar.gz", 16)
    assert_colours(with_test["eval_x"], [left(4), left(5)])
    assert_colours(no_test["eval_x"], [left(1), left(2), left(3)])
    assert source["folders"]["eval"] == "test" and source_val["folders"]["eval"] == "val"
    assert len(with_test["train_a"]) == 1  # val beside test is not trained on


def test_each_half_is_resized_bicubic_on_its_own_and_kept_when_already_that_size(tmp_path):
    rng = np.random.default_rng(0)
    halves = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(2)]
    image = Image.new("RGB", (64, 32))
    image.paste(halves[0], (0, 0))
    image.paste(halves[1], (32, 0))
    members = {"maps/train/0.png": encode(image, "PNG"), "maps/val/0.png": encode(image, "PNG")}
    write_tar(tmp_path / "m.tar.gz", members)
    same, _ = load_task("maps", tmp_path / "m.tar.gz", 32)
    smaller, _ = load_task("maps", tmp_path / "m.tar.gz", 8)
    np.testing.assert_array_equal(same["train_a"][0], np.asarray(halves[0]).transpose(2, 0, 1))
    np.testing.assert_array_equal(same["train_x"][0], np.asarray(halves[1]).transpose(2, 0, 1))
    expected = halves[1].resize((8, 8), Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(smaller["eval_x"][0], np.asarray(expected).transpose(2, 0, 1))


def test_labels_are_all_zero(tmp_path):
    pix2pix_archive(tmp_path / "f.tar.gz")
    arrays, _ = load_task("facades", tmp_path / "f.tar.gz", 16)
    for labels, images in (("train_a_y", "train_a"), ("train_y", "train_x"), ("eval_a_y", "eval_a"),
                           ("eval_y", "eval_x")):
        assert arrays[labels].dtype == np.int64 and not arrays[labels].any()
        assert len(arrays[labels]) == len(arrays[images])


# ---------------------------------------------------------------- CycleGAN

def test_unpaired_zip_keeps_each_domain_and_its_size(tmp_path):
    cyclegan_archive(tmp_path / "horse2zebra.zip")
    arrays, source = load_task("horse2zebra", tmp_path / "horse2zebra.zip", 16)
    assert {k: len(v) for k, v in arrays.items() if k.endswith(("_a", "_x"))} == {
        "train_a": 3, "train_x": 5, "eval_a": 2, "eval_x": 1}
    assert_colours(arrays["train_a"], [left(i) for i in range(3)])
    assert_colours(arrays["train_x"], [right(i) for i in range(5)])
    assert_colours(arrays["eval_a"], [left(0), left(1)])
    assert not source["paired"] and source["folders"]["eval_x"] == "testB"


# ---------------------------------------------------------------- the dataset, end to end

def test_paper_sets_are_registered_at_256_rgb_without_classes():
    for name, paired in (("facades", True), ("maps", True), ("map2aerial", True), ("edges2shoes", True),
                         ("horse2zebra", False)):
        ds = spec(name)
        assert (ds.shape, ds.classifier, ds.n_labels, ds.paired) == ((3, 256, 256), None, 0, paired)
        assert SOURCE_PARAMS[ds.source] == f"data.{ds.source}_archive"
    assert spec("map2aerial").source == "maps" and spec("edges2fmnist").classifier == "fmnist32"
    assert set(PAPER_ARCHIVES) == set(paper_translation.ARCHIVES)  # the CLI's list of download choices


def test_prepare_reads_the_archive_params_names_and_records_its_sha256(tmp_path):
    archive = tmp_path / "facades.tar.gz"
    names = pix2pix_archive(archive)
    prepare("facades", tmp_path, {"data": {"facades_archive": str(archive)}})
    data = load_prepared("facades", tmp_path)
    assert data["train_a"].shape == (3, 3, 256, 256) and data["eval_x"].shape == (2, 3, 256, 256)
    assert_colours(data["eval_a"], [right(number(n)) for n in names["test"]])
    meta = read_json(tmp_path / "results" / "data" / "facades" / "meta.json")
    assert meta["source"]["sha256"] == sha256_file(archive) and not meta["source"]["sha256_pinned"]
    assert meta["source"]["folders"] == {"train": "train", "eval": "test"}
    assert meta["splits"] == {"train_x": [3, 3, 256, 256], "eval_x": [2, 3, 256, 256]}


def test_prepare_unpaired_end_to_end(tmp_path):
    cyclegan_archive(tmp_path / "horse2zebra.zip")
    prepare("horse2zebra", tmp_path, {"data": {"horse2zebra_archive": str(tmp_path / "horse2zebra.zip")}})
    data = load_prepared("horse2zebra", tmp_path)
    assert data["train_a"].shape == (3, 3, 256, 256) and data["train_x"].shape == (5, 3, 256, 256)


def test_a_pinned_sha256_must_match(tmp_path):
    archive = tmp_path / "facades.tar.gz"
    pix2pix_archive(archive)
    params = {"data": {"facades_archive": str(archive), "facades_sha256": "0" * 64}}
    with pytest.raises(DatasetError, match=r"has sha256 [0-9a-f]{64}, not the 0{64} pinned .*data\.facades_sha256"):
        prepare("facades", tmp_path, params)
    assert not (tmp_path / "results" / "data" / "facades").exists()
    params["data"]["facades_sha256"] = sha256_file(archive)
    prepare("facades", tmp_path, params)
    assert read_json(tmp_path / "results" / "data" / "facades" / "meta.json")["source"]["sha256_pinned"]


# ---------------------------------------------------------------- download

def test_download_from_a_file_url_prints_and_keeps_the_sha256(tmp_path, capsys):
    served = tmp_path / "served.tar.gz"
    pix2pix_archive(served)
    assert main(["--root", str(tmp_path), "download", "facades", str(tmp_path / "dl"),
                 "--url", served.as_uri()]) == 0
    got = tmp_path / "dl" / "facades.tar.gz"
    digest = sha256_file(served)
    assert got.read_bytes() == served.read_bytes()
    out = capsys.readouterr().out
    assert f"sha256 {digest}" in out and f"facades_archive: {got}, facades_sha256: {digest}" in out
    assert main(["--root", str(tmp_path), "download", "facades", str(tmp_path / "dl"), "--url", served.as_uri(),
                 "--sha256", digest]) == 0  # already there and matching the pin: kept
    assert list((tmp_path / "dl").iterdir()) == [got]


def test_a_failed_download_leaves_nothing(tmp_path, capsys):
    served = tmp_path / "served.zip"
    cyclegan_archive(served)
    dest = tmp_path / "dl"
    assert main(["--root", str(tmp_path), "download", "horse2zebra", str(dest),
                 "--url", (tmp_path / "missing.zip").as_uri()]) == 2
    assert "could not download" in capsys.readouterr().err
    assert main(["--root", str(tmp_path), "download", "horse2zebra", str(dest), "--url", served.as_uri(),
                 "--sha256", "f" * 64]) == 2
    assert f"not the pinned {'f' * 64}" in capsys.readouterr().err
    assert list(dest.iterdir()) == []  # neither the file nor a temporary one


def test_a_download_cut_short_is_refused_and_leaves_the_old_file(tmp_path, monkeypatch):
    dest = tmp_path / "dl" / "facades.tar.gz"
    dest.parent.mkdir()
    dest.write_bytes(b"an earlier, complete download")

    class Short(io.BytesIO):
        headers = {"Content-Length": "1000"}

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Short(b"only 19 bytes here."))
    with pytest.raises(DatasetError, match=r"ended after 19 of the 1000 bytes the server announced"):
        download.fetch("http://example.invalid/facades.tar.gz", dest, md5=None, sha256="0" * 64)
    assert dest.read_bytes() == b"an earlier, complete download" and len(list(dest.parent.iterdir())) == 1


def test_sha256_is_only_for_the_translation_archives(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "download", "cifar10", str(tmp_path / "dl"), "--sha256", "0" * 64]) == 2
    assert "--sha256 is for the translation archives" in capsys.readouterr().err


# ---------------------------------------------------------------- errors

def test_an_unset_or_missing_archive_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetError, match=r"data\.facades_archive is not set.*gbench download facades DIR.*"
                                           r"facades_archive: DIR/facades\.tar\.gz"):
        prepare("facades", tmp_path, {})
    with pytest.raises(DatasetError, match=r"horse2zebra not found: .*nope\.zip does not exist.*"
                                           r"gbench download horse2zebra DIR"):
        prepare("horse2zebra", tmp_path, {"data": {"horse2zebra_archive": str(tmp_path / "nope.zip")}})


def test_a_file_that_is_no_archive_is_one_clear_error(tmp_path):
    (tmp_path / "f.tar.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(DatasetError, match=r"f\.tar\.gz cannot be read as a \.tar\.gz or \.zip .*"
                                           r"gbench download facades DIR"):
        load_task("facades", tmp_path / "f.tar.gz", 16)


def test_a_truncated_archive_is_one_clear_error(tmp_path):
    pix2pix_archive(tmp_path / "f.tar.gz")
    raw = (tmp_path / "f.tar.gz").read_bytes()
    (tmp_path / "f.tar.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match=r"f\.tar\.gz (cannot be read|is damaged).*gbench download facades DIR"):
        load_task("facades", tmp_path / "f.tar.gz", 16)


def test_an_archive_without_the_expected_folders_names_them(tmp_path):
    pix2pix_archive(tmp_path / "f.tar.gz", root="maps")  # another set's archive
    with pytest.raises(DatasetError, match=r"has no images in facades/train/ \(its top level: maps\); expected the "
                                           r"pix2pix archive facades\.tar\.gz with facades/train and facades/test "
                                           r"or facades/val; fix: .*gbench download facades DIR"):
        load_task("facades", tmp_path / "f.tar.gz", 16)
    cyclegan_archive(tmp_path / "h.zip", sizes={"trainA": 1, "trainB": 1, "testA": 1})
    with pytest.raises(DatasetError, match=r"no images in horse2zebra/testB/.*horse2zebra/trainA, "
                                           r"horse2zebra/trainB, horse2zebra/testA, horse2zebra/testB"):
        load_task("horse2zebra", tmp_path / "h.zip", 16)


def test_a_corrupt_or_unpaired_image_names_the_member(tmp_path):
    write_tar(tmp_path / "bad.tar.gz", {"facades/train/0.jpg": pair(0)[:40], "facades/test/0.jpg": pair(0)})
    with pytest.raises(DatasetError, match=r"facades/train/0\.jpg is not a readable image"):
        load_task("facades", tmp_path / "bad.tar.gz", 16)
    tall = encode(Image.new("RGB", (16, 32), left(0)))
    write_tar(tmp_path / "tall.tar.gz", {"facades/train/0.jpg": tall, "facades/test/0.jpg": pair(0)})
    with pytest.raises(DatasetError, match=r"facades/train/0\.jpg is 16x32, not a pair of images side by side"):
        load_task("facades", tmp_path / "tall.tar.gz", 16)
