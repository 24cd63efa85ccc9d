"""`gbench score` on folders the tests write: any image size, clear errors, numbers from one pass."""

import json

import numpy as np
import pytest
from PIL import Image

from bench.cli import main
from bench.measurement.inception import InceptionFeatures, resize_batch
from bench.measurement.metrics.fid import frechet_distance_features
from bench.measurement.score import ScoreError, image_files, read_images, score, to_batch


def write_folder(folder, images, suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(folder / f"{i:03d}{suffix}")
    return folder


def random_images(n, size, channels, seed):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), dtype=np.uint8))


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(ScoreError, match="holds no PNG/JPEG images"):
        image_files((tmp_path / "empty").mkdir() or tmp_path / "empty")
    folder = write_folder(tmp_path / "mixed", random_images(2, 8, 3, 0))
    (folder / "notes.txt").write_text("not an image")
    with pytest.raises(ScoreError, match="notes.txt is not a PNG or JPEG"):
        image_files(folder)
    (folder / "notes.txt").unlink()
    (folder / "broken.png").write_bytes(b"garbage")
    with pytest.raises(ScoreError, match="broken.png cannot be read"):
        read_images(image_files(folder), "RGB")
    with pytest.raises(ScoreError, match="fewer than --n 9"):
        image_files(folder, n=9)
    with pytest.raises(ScoreError, match="neither a folder nor a dataset"):
        score(folder, str(tmp_path / "nowhere"), root=tmp_path)


def test_gray_and_odd_sized_images_read_like_clean_fid(tmp_path):
    """Gray PNGs become RGB by channel copy and each image is resized on its own, as clean-fid's folder
    mode does, so a folder of mixed sizes equals resizing every image separately."""
    gray = random_images(1, 28, 1, 1)[0]
    rgb = random_images(1, 45, 3, 2)[0]
    write_folder(tmp_path / "a", [gray])
    Image.fromarray(rgb).save(tmp_path / "a" / "001.jpg", quality=95)
    images = read_images(image_files(tmp_path / "a"), "RGB")
    assert [im.shape for im in images] == [(28, 28, 3), (45, 45, 3)]
    np.testing.assert_array_equal(images[0], np.repeat(gray, 3, axis=2))
    from bench.measurement.inception import resize_list

    separately = [resize_batch(im.transpose(2, 0, 1)[None])[0] for im in images]
    np.testing.assert_array_equal(resize_list(images).numpy(), np.stack([t.numpy() for t in separately]))
    assert to_batch(images, 32).shape == (2, 3, 32, 32)


def test_score_equals_metrics_on_directly_computed_features(tmp_path):
    gen = write_folder(tmp_path / "gen", random_images(8, 20, 1, 3))
    ref = write_folder(tmp_path / "ref", random_images(8, 36, 3, 4))
    result = score(gen, str(ref), root=tmp_path, metrics=("fid", "pr"))
    net = InceptionFeatures()
    f_gen = net(read_images(image_files(gen), "RGB"))
    f_ref = net(read_images(image_files(ref), "RGB"))
    assert result["metrics"]["fid"] == pytest.approx(frechet_distance_features(f_gen, f_ref), rel=1e-6)
    assert set(result["metrics"]) == {"fid", "precision", "recall"}
    assert result["images"]["n"] == 8 and result["reference"]["n_ref"] == 8
    assert result["spec"]["weights_sha256"].startswith("7ff4a85c")


def test_cli_prints_a_table_and_writes_json_with_the_spec(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GBENCH_INCEPTION_HEAD", str(tmp_path / "absent.pth"))
    images = random_images(7, 24, 1, 5)
    write_folder(tmp_path / "gen", images)
    out = tmp_path / "scores.json"
    code = main(["--root", str(tmp_path), "score", "--images", str(tmp_path / "gen"), "--reference",
                 str(tmp_path / "gen"), "--metrics", "fid,pr,dc,is", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "precision" in printed and "is: n/a because" in printed
    result = json.loads(out.read_text())
    metrics = result["metrics"]
    assert abs(metrics["fid"]) < 1e-6  # a folder against itself
    assert metrics["precision"] == metrics["recall"] == metrics["coverage"] == 1.0
    assert metrics["is"] is None and "fetch-inception-head" in result["spec"]["is"]["reason"]
    assert main(["--root", str(tmp_path), "score", "--images", str(tmp_path / "nope"), "--reference",
                 str(tmp_path / "gen")]) == 2


def write_png16(path, pixels: np.ndarray) -> None:
    """A 16-bit PNG as the format defines it (PIL writes no 16-bit RGB): signature, IHDR, one zlib IDAT of
    filter-0 rows of big-endian samples, IEND."""
    import struct
    import zlib

    height, width = pixels.shape[:2]
    color_type = 2 if pixels.ndim == 3 else 0
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def _mode_files(folder):
    """One file per input mode the scorer accepts, each with the 8-bit RGB pixels it stands for."""
    folder.mkdir()
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (24, 24), dtype=np.uint8)
    files = {}
    for name, image, equivalent in [
        ("rgb.png", Image.fromarray(rgb), rgb),
        ("rgba.png", Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (24, 24), dtype=np.uint8)]), "RGBA"), rgb),
        ("gray.png", Image.fromarray(gray), np.dstack([gray] * 3)),
        ("gray-alpha.png", Image.fromarray(np.dstack([gray, gray]), "LA"), np.dstack([gray] * 3)),
        ("bilevel.png", Image.fromarray(gray > 127), np.dstack([np.where(gray > 127, 255, 0).astype(np.uint8)] * 3)),
        ("palette.png", Image.fromarray(rgb).quantize(64), None),
    ]:
        image.save(folder / name)
        files[name] = equivalent if equivalent is not None else np.asarray(image.convert("RGB"))
    write_png16(folder / "rgb16.png", rgb.astype(np.uint16) * 257)  # 8-bit data stored in 16 bits
    files["rgb16.png"] = rgb
    write_png16(folder / "gray16.png", gray.astype(np.uint16) * 257)
    files["gray16.png"] = np.dstack([gray] * 3)
    return files


def test_every_accepted_input_mode_gives_the_features_of_its_8_bit_rgb_equivalent(tmp_path):
    files = _mode_files(tmp_path / "modes")
    for name, equivalent in files.items():
        (image,) = read_images([tmp_path / "modes" / name], "RGB")
        np.testing.assert_array_equal(image, equivalent, err_msg=name)
    read = read_images([tmp_path / "modes" / n for n in files], "RGB")
    net = InceptionFeatures()
    np.testing.assert_array_equal(net(read), net(list(files.values())))


def test_16_bit_pixels_keep_their_top_8_bits_as_pil_does_for_rgb(tmp_path):
    values = np.array([[0, 255, 256, 1000], [32767, 32768, 65280, 65535]], dtype=np.uint16)
    write_png16(tmp_path / "gray16.png", values)
    write_png16(tmp_path / "rgb16.png", np.dstack([values] * 3))
    expected = values // 256  # the top byte: 0, 0, 1, 3, 127, 128, 255, 255
    for name in ("gray16.png", "rgb16.png"):
        (image,) = read_images([tmp_path / name], "RGB")
        np.testing.assert_array_equal(image[:, :, 0], expected, err_msg=name)
    assert Image.open(tmp_path / "gray16.png").mode == "I;16" and Image.open(tmp_path / "rgb16.png").mode == "RGB"


def test_images_with_no_exact_8_bit_form_are_refused(tmp_path):
    Image.fromarray(np.zeros((4, 4), dtype=np.float32), "F").save(tmp_path / "float.tiff")
    (tmp_path / "float.png").write_bytes((tmp_path / "float.tiff").read_bytes())  # a TIFF under a .png name
    with pytest.raises(ScoreError, match="'F' image, which has no exact 8-bit form"):
        read_images([tmp_path / "float.png"], "RGB")


def test_the_cli_default_scores_every_metric_group():
    from bench.cli import SCORE_METRICS
    from bench.measurement.scoring import ALL

    assert SCORE_METRICS.split(",") == list(ALL)
