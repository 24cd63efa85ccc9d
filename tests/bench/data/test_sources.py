"""The published sources a prepare stage reads, on small files in their real formats that the tests write:
the CIFAR-10 binary archive and MNIST's IDX files, their checksum paths, their downloads (from a loopback
server), and the datasets built from them (cifar10, mnist32, stackedmnist)."""

import hashlib
import io
import tarfile
from dataclasses import replace

import numpy as np
import pytest

from bench.cli import main
from bench.data import cifar10, datasets, mnist
from bench.data.datasets import load_prepared, prepare
from bench.protocol.errors import DatasetError
from tests.bench.data.test_datasets import write_idx


def _cifar_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n)


def _records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """The binary layout as the CIFAR-10 page documents it, written pixel by pixel: <label><1024 red><1024 green>
    <1024 blue>, each plane row-major."""
    out = bytearray()
    for image, label in zip(images, labels, strict=True):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                for column in range(32):
                    out.append(int(image[channel, row, column]))
    return bytes(out)


def write_cifar_archive(path, per_batch: int = 3, drop: str | None = None):
    """A cifar-10-binary.tar.gz with `per_batch` records in each of its six batch files."""
    expected = {"train": [], "eval": []}
    members = [(f"data_batch_{i}.bin", "train") for i in range(1, 6)] + [("test_batch.bin", "eval")]
    with tarfile.open(path, "w:gz") as tar:
        for seed, (name, split) in enumerate(members):
            images, labels = _cifar_images(per_batch, seed)
            expected[split].append((images, labels))
            if name == drop:
                continue
            data = _records(images, labels)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        meta = "\n".join(cifar10.CIFAR10_CLASSES).encode()
        info = tarfile.TarInfo("cifar-10-batches-bin/batches.meta.txt")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    return {split: (np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts]))
            for split, parts in expected.items()}


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_cifar10_is_read_from_the_binary_layout(tmp_path, monkeypatch):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    expected = write_cifar_archive(archive)
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))  # the test archive stands in for the published one
    prepare("cifar10", tmp_path, {"data": {"cifar10_archive": str(archive)}})
    data = load_prepared("cifar10", tmp_path)
    for split, (images, labels) in expected.items():
        np.testing.assert_array_equal(data[f"{split}_x"], images)
        np.testing.assert_array_equal(data[f"{split}_y"], labels)
    assert data["train_x"].shape == (15, 3, 32, 32) and data["eval_x"].shape == (3, 3, 32, 32)


def test_a_tampered_or_incomplete_cifar10_archive_is_one_clear_error(tmp_path, monkeypatch):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    write_cifar_archive(archive)
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    params = {"data": {"cifar10_archive": str(archive)}}
    damaged = bytearray(archive.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    archive.write_bytes(bytes(damaged))
    with pytest.raises(DatasetError, match=r"is not the published CIFAR-10 binary archive \(md5 [0-9a-f]{32}, "
                                           r"published [0-9a-f]{32}\).*gbench download cifar10 DIR"):
        prepare("cifar10", tmp_path, params)
    write_cifar_archive(archive, drop="data_batch_3.bin")
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(archive))
    with pytest.raises(DatasetError, match="has no file cifar-10-batches-bin/data_batch_3.bin"):
        prepare("cifar10", tmp_path, params)
    with pytest.raises(DatasetError, match=r"data\.cifar10_archive is not set.*gbench download cifar10 DIR"):
        prepare("cifar10", tmp_path, {})
    assert not (tmp_path / "results/data/cifar10/data.npz").exists()


def test_the_published_cifar10_checksum():
    assert cifar10.CIFAR10_MD5 == "c32a1d4ab5d03f1284b67883e8d87530"  # the CIFAR-10 page, binary version


def test_download_checks_the_published_md5_and_leaves_no_damaged_file(tmp_path, monkeypatch, loopback_server,
                                                                      capsys):
    served, url = loopback_server
    write_cifar_archive(served / "cifar-10-binary.tar.gz")
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", _md5(served / "cifar-10-binary.tar.gz"))
    assert main(["--root", str(tmp_path), "download", "cifar10", str(tmp_path / "dl"),
                 "--url", url + "cifar-10-binary.tar.gz"]) == 0
    archive = tmp_path / "dl" / "cifar-10-binary.tar.gz"
    assert _md5(archive) == cifar10.CIFAR10_MD5 and f"cifar10_archive: {archive}" in capsys.readouterr().out
    archive.unlink()
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", "0" * 32)  # what the server sends is not the published file
    assert main(["--root", str(tmp_path), "download", "cifar10", str(tmp_path / "dl"),
                 "--url", url + "cifar-10-binary.tar.gz"]) == 2
    assert "not the published 00000000000000000000000000000000" in capsys.readouterr().err
    assert list((tmp_path / "dl").iterdir()) == []


def write_mnist(folder, per_class: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """The four MNIST files (IDX, gzipped) with `per_class` images of each digit per split."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, prefix in (("train", "train"), ("eval", "t10k")):
        labels = rng.permutation(np.repeat(np.arange(10), per_class)).astype(np.uint8)
        images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        arrays[f"{split}_x"], arrays[f"{split}_y"] = images, labels
    return arrays


@pytest.fixture
def mnist_files(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    arrays = write_mnist(folder)
    checksums = {key: (name, _md5(folder / name)) for key, (name, _) in mnist.MNIST_FILES.items()}
    monkeypatch.setattr(mnist, "MNIST_FILES", checksums)  # the test files stand in for the published ones
    return folder, arrays


def test_mnist32_is_mnist_zero_padded_to_32(tmp_path, mnist_files):
    folder, arrays = mnist_files
    prepare("mnist32", tmp_path, {"data": {"mnist_dir": str(folder)}})
    data = load_prepared("mnist32", tmp_path)
    assert data["train_x"].shape == (120, 1, 32, 32)
    np.testing.assert_array_equal(data["train_x"][:, 0, 2:30, 2:30], arrays["train_x"])
    assert data["train_x"][:, :, :2].max() == 0 and data["train_x"][:, :, :, 30:].max() == 0
    np.testing.assert_array_equal(data["eval_y"], arrays["eval_y"])


def test_stacked_mnist_stacks_three_digits_of_the_modes_classes(tmp_path, mnist_files, monkeypatch):
    folder, arrays = mnist_files
    small = replace(datasets.spec("stackedmnist"), per_mode=(("train", 1), ("eval", 1)))
    monkeypatch.setitem(datasets.DATASETS, "stackedmnist", small)  # 1 stack per mode: 100 images of a class
    with pytest.raises(DatasetError, match="class 0 has 12 images, 100 needed"):
        prepare("stackedmnist", tmp_path, {"data": {"mnist_dir": str(folder)}})
    write_mnist(folder, per_class=100)
    monkeypatch.setattr(mnist, "MNIST_FILES", {k: (n, _md5(folder / n)) for k, (n, _) in mnist.MNIST_FILES.items()})
    prepare("stackedmnist", tmp_path, {"data": {"mnist_dir": str(folder)}})
    data = load_prepared("stackedmnist", tmp_path)
    raw = mnist.load_mnist_source(folder)
    assert np.bincount(data["train_y"], minlength=1000).tolist() == [1] * 1000
    for stack, mode in zip(data["train_x"][:50], data["train_y"][:50], strict=True):
        for channel, digit in enumerate((mode // 100, mode // 10 % 10, mode % 10)):
            matches = [i for i in np.flatnonzero(raw["train_y"] == digit)
                       if np.array_equal(raw["train_x"][i], stack[channel, 2:30, 2:30])]
            assert matches, f"channel {channel} of mode {mode} is no MNIST {digit}"


def test_mnist_checksums_and_missing_files_name_the_fix(tmp_path, mnist_files):
    folder, _ = mnist_files
    with pytest.raises(DatasetError, match=r"data\.mnist_dir is not set.*gbench download mnist DIR"):
        prepare("mnist32", tmp_path, {})
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not the file")
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz is corrupt \(its md5 differs from the "
                                           r"published [0-9a-f]{32}\); fix: download it again"):
        prepare("mnist32", tmp_path, {"data": {"mnist_dir": str(folder)}})
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz does not exist"):
        prepare("mnist32", tmp_path, {"data": {"mnist_dir": str(folder)}})


def test_the_published_mnist_checksums():
    assert {name: md5 for name, md5 in mnist.MNIST_FILES.values()} == {  # torchvision's MNIST resources
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}


def test_mnist_download_from_a_mirror(tmp_path, mnist_files, loopback_server):
    folder, _ = mnist_files
    served, url = loopback_server
    for name, _ in mnist.MNIST_FILES.values():
        (served / name).write_bytes((folder / name).read_bytes())
    assert main(["--root", str(tmp_path), "download", "mnist", str(tmp_path / "dl"), "--url", url]) == 0
    prepare("mnist32", tmp_path, {"data": {"mnist_dir": str(tmp_path / "dl")}})
    assert load_prepared("mnist32", tmp_path)["train_x"].shape == (120, 1, 32, 32)


def test_each_source_is_a_parameter_of_its_prepare_stage():
    from bench.protocol.pipelines import dataset_pipeline
    from bench.protocol.resolve import Protocol
    from tests.conftest import REPO

    protocol = Protocol.load(REPO)
    for dataset, key in (("cifar10", "data.cifar10_archive"), ("mnist32", "data.mnist_dir"),
                         ("stackedmnist", "data.mnist_dir")):
        assert dataset_pipeline(dataset, protocol)["stages"]["prepare"]["params"] == [key]
