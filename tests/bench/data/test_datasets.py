import gzip
import hashlib
import struct

import numpy as np
import pytest

from bench.data import datasets, fashion_mnist
from bench.data.datasets import DatasetError, load_prepared, prepare
from bench.data.idx import pad_to_32, read_idx_gz


def write_idx(path, array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload))
    return payload


def test_idx_reader_round_trips_a_file_it_did_not_write(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    payload = write_idx(tmp_path / "x.gz", images)
    out = read_idx_gz(tmp_path / "x.gz", hashlib.sha256(payload).hexdigest())
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("damage", ["not gzip", "truncated payload", "wrong content"])
def test_corrupt_source_gives_one_clear_error_naming_the_fix(tmp_path, damage):
    images = np.ones((3, 28, 28), dtype=np.uint8)
    path = tmp_path / "x.gz"
    payload = write_idx(path, images)
    expected = hashlib.sha256(payload).hexdigest()
    if damage == "not gzip":
        path.write_bytes(b"hello")
    elif damage == "truncated payload":
        path.write_bytes(gzip.compress(payload[:-5]))
    else:
        path.write_bytes(gzip.compress(payload[:-1] + b"\x07"))
    with pytest.raises(DatasetError, match="corrupt.*fix: re-install"):
        read_idx_gz(path, expected, fashion_mnist.FIX)


def test_missing_fmnist_names_the_debian_package(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist.*data: {fmnist_dir: DIR}"):
        prepare("fmnist32", tmp_path, {"data": {"fmnist_dir": str(tmp_path)}})


def test_the_source_folder_is_a_parameter_of_the_prepare_stage_not_an_environment_variable(monkeypatch):
    """DVC re-runs a stage when its parameters change; it cannot see the environment."""
    from bench.protocol.pipelines import dataset_pipeline
    from bench.protocol.resolve import Protocol
    from tests.conftest import REPO

    protocol = Protocol.load(REPO)
    assert dataset_pipeline("fmnist32", protocol)["stages"]["prepare"]["params"] == ["data.fmnist_dir"]
    assert "params" not in dataset_pipeline("ring8", protocol)["stages"]["prepare"]
    monkeypatch.setenv("GBENCH_FMNIST_DIR", "/somewhere")
    with pytest.raises(DatasetError, match="GBENCH_FMNIST_DIR is not read any more"):
        fashion_mnist.fmnist_source_dir()


def test_fmnist32_is_padded_fashion_mnist(prepared_data):
    data = load_prepared("fmnist32", prepared_data.parent.parent)
    assert data["train_x"].shape == (60_000, 1, 32, 32) and data["eval_x"].shape == (10_000, 1, 32, 32)
    assert data["train_x"].dtype == np.uint8
    border = np.concatenate([data["eval_x"][:, 0, :2].ravel(), data["eval_x"][:, 0, -2:].ravel(),
                             data["eval_x"][:, 0, :, :2].ravel(), data["eval_x"][:, 0, :, -2:].ravel()])
    assert border.max() == 0
    assert np.bincount(data["train_y"]).tolist() == [6000] * 10


def test_mixture_modes_match_the_papers():
    ring = datasets.spec("ring8").modes()
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0)
    assert len(ring) == 8 and datasets.spec("ring8").sigma == 0.01
    grid = datasets.spec("grid25").modes()
    assert sorted({float(v) for v in grid.ravel()}) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(p) for p in grid}) == 25 and datasets.spec("grid25").sigma == 0.05


def test_prepare_is_deterministic_and_checksummed(tmp_path):
    first = (prepare("ring8", tmp_path) / "data.npz").read_bytes()
    second = (prepare("ring8", tmp_path) / "data.npz").read_bytes()
    assert first == second
    data = load_prepared("ring8", tmp_path)
    distances = np.linalg.norm(data["train_x"][:, None] - data["modes"][None], axis=2).min(axis=1)
    assert distances.max() < 6 * 0.01  # every point is near a mode


def test_tampered_prepared_file_is_refused(tmp_path):
    folder = prepare("grid25", tmp_path)
    blob = bytearray((folder / "data.npz").read_bytes())
    blob[-100] ^= 0xFF
    (folder / "data.npz").write_bytes(bytes(blob))
    with pytest.raises(DatasetError, match="gbench prepare grid25"):
        load_prepared("grid25", tmp_path)


def test_download_path_reads_what_torchvision_fetched(tmp_path, monkeypatch, loopback_server):
    """The internet code path, run against small files the test serves on the loopback interface."""
    from torchvision.datasets import FashionMNIST

    served, url = loopback_server
    resources = []
    for name, shape in [("train-images-idx3-ubyte", (4, 28, 28)), ("train-labels-idx1-ubyte", (4,)),
                        ("t10k-images-idx3-ubyte", (2, 28, 28)), ("t10k-labels-idx1-ubyte", (2,))]:
        write_idx(served / f"{name}.gz", np.full(shape, 3))
        resources.append((f"{name}.gz", hashlib.md5((served / f"{name}.gz").read_bytes()).hexdigest()))
    monkeypatch.setattr(FashionMNIST, "mirrors", [url])
    monkeypatch.setattr(FashionMNIST, "resources", resources)
    folder = fashion_mnist.download_fmnist(tmp_path / "dl")
    arrays = fashion_mnist.load_fmnist_source(folder, check_content=False)
    assert arrays["train_x"].shape == (4, 28, 28) and arrays["eval_y"].shape == (2,)


def test_stacked_fmnist_has_every_mode_equally_often_from_the_right_classes(tmp_path):
    prepare("stackedfmnist", tmp_path)
    data = load_prepared("stackedfmnist", tmp_path)
    source = fashion_mnist.load_fmnist_source(fashion_mnist.fmnist_source_dir())
    assert data["train_x"].shape == (50_000, 3, 32, 32) and data["eval_x"].shape == (10_000, 3, 32, 32)
    assert (np.bincount(data["train_y"], minlength=1000) == 50).all()
    assert (np.bincount(data["eval_y"], minlength=1000) == 10).all()
    digits = datasets.mode_digits(data["eval_y"])
    padded = pad_to_32(source["eval_x"])[:, 0].reshape(10_000, -1)
    lookup = {row.tobytes(): i for i, row in enumerate(padded)}
    for channel in range(3):
        used = [lookup[data["eval_x"][i, channel].tobytes()] for i in range(10_000)]
        assert len(set(used)) == 10_000  # each eval image once per channel: without replacement
        assert (source["eval_y"][used] == digits[:, channel]).all()
    first = (tmp_path / "results/data/stackedfmnist/data.npz").read_bytes()
    prepare("stackedfmnist", tmp_path)
    assert (tmp_path / "results/data/stackedfmnist/data.npz").read_bytes() == first


def test_mode_digits_round_trip():
    labels = np.array([0, 7, 42, 999, 305])
    digits = datasets.mode_digits(labels)
    assert digits.tolist() == [[0, 0, 0], [0, 0, 7], [0, 4, 2], [9, 9, 9], [3, 0, 5]]
