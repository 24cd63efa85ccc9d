"""The domain classifier: deterministic training, the stage's files, the backbone and its per-channel mode."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from bench.data.datasets import load_prepared
from bench.measurement.classifier import (
    ClassifierError,
    DomainBackbone,
    build_classifier,
    classifier_dir,
    predict,
    train_classifier,
    train_subset,
)
from bench.protocol.errors import BackboneError
from bench.protocol.io import read_json, sha256_file
from tests.conftest import write_params

SMOKE = {"epochs": 2, "batch": 64, "lr": 0.003, "n_train": 512}


def bars(n: int, seed: int, size: int = 32, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Class c: a bright horizontal bar on rows 3c..3c+2 (of a 32-row grid scaled to `size`) over noise
    (unchanged by horizontal flips)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, channels, size, size), dtype=np.uint8)
    k = size // 32
    for i, c in enumerate(labels):
        images[i, :, 3 * c * k:(3 * c + 3) * k, 4 * k:28 * k] = 255
    return images, labels.astype(np.int64)


def with_classifier_settings(root: Path, settings: dict) -> None:
    write_params(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["profiles"]["smoke"]["fmnist32"]["classifier"] = settings
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def built(tmp_path_factory, prepared_data) -> Path:
    """A root whose fmnist32 classifier the smoke stage has built (once for this module)."""
    root = tmp_path_factory.mktemp("classifier")
    shutil.copytree(prepared_data, root / "results" / "data")
    with_classifier_settings(root, SMOKE)
    build_classifier("fmnist32", root)
    return root


@pytest.fixture(scope="module")
def eval_split(built) -> tuple[np.ndarray, np.ndarray]:
    data = load_prepared("fmnist32", built)
    return data["eval_x"], data["eval_y"]


def test_training_is_deterministic():
    x, y = bars(96, seed=0)

    def train(seed: int, global_seed: int) -> dict:
        torch.manual_seed(global_seed)
        state = train_classifier(x, y, epochs=1, batch=32, lr=0.003, seed=seed).state_dict()
        after = torch.rand(3)
        torch.manual_seed(global_seed)
        assert torch.equal(after, torch.rand(3)), "training changed the caller's random state"
        return state

    first, second, other = train(7, global_seed=1), train(7, global_seed=2), train(8, global_seed=1)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_learns_a_synthetic_problem():
    x, y = bars(600, seed=1)
    test_x, test_y = bars(300, seed=2)
    model = train_classifier(x, y, epochs=2, batch=32, lr=0.003)
    _, probs = predict(model, test_x)
    assert (probs.argmax(axis=1) == test_y).mean() >= 0.95


def test_a_64px_classifier_sees_64px_images_and_scores_other_sizes_resized_to_them():
    x, y = bars(320, seed=1, size=64, channels=3)
    test_x, test_y = bars(100, seed=2, size=64, channels=3)
    model = train_classifier(x, y, epochs=2, batch=32, lr=0.003)
    assert model.arch["input_size"] == 64 and model.arch["widths"] == [16, 32, 64, 64]  # 64 -> 4 px
    _, probs = predict(model, test_x)
    assert (probs.argmax(axis=1) == test_y).mean() >= 0.95
    backbone = DomainBackbone(model, {"dataset": "bars64", "weights_sha256": "-", "test_accuracy": 1.0}, batch=64)
    assert backbone.spec()["input_size"] == 64 and "to 64x64" in backbone.spec()["resize"]
    features, probs_again = backbone(test_x)
    np.testing.assert_allclose(probs_again, probs, rtol=1e-5, atol=1e-7)
    half = np.stack([np.stack([np.asarray(Image.fromarray(ch).resize((32, 32), Image.BICUBIC)) for ch in im])
                     for im in test_x[:50]])
    _, probs_half = backbone(half)  # 32 px images of the same bars, resized back up to the classifier's 64
    assert (probs_half.argmax(axis=1) == test_y[:50]).mean() >= 0.9


def test_train_subset_is_a_prefix_of_one_permutation():
    small, large = train_subset(1000, 100), train_subset(1000, 300)
    np.testing.assert_array_equal(small, large[:100])
    assert len(np.unique(large)) == 300 and not np.array_equal(small, np.arange(100))
    np.testing.assert_array_equal(train_subset(50, None), np.arange(50))
    with pytest.raises(ValueError, match="n_train"):
        train_subset(50, 51)


def test_stage_writes_a_weights_only_model_and_its_record(built, eval_split):
    folder = classifier_dir(built, "fmnist32")
    info = read_json(folder / "classifier.json")
    assert info["weights_sha256"] == sha256_file(folder / "model.pt")
    saved = torch.load(folder / "model.pt", weights_only=True)
    assert set(saved) == {"format", "arch", "state_dict"}
    assert saved["arch"] == info["architecture"] and info["feature_dim"] == 128 and info["n_classes"] == 10
    assert info["n_train"] == SMOKE["n_train"] and info["epochs"] == SMOKE["epochs"] and info["seed"] == 0
    assert len(info["per_class_accuracy"]) == 10 and info["wall_s"] > 0
    for split in ("train", "eval"):
        assert len(info["predicted_class_hist"][split]) == 10
        assert sum(info["predicted_class_hist"][split]) == pytest.approx(1.0)

    images, labels = eval_split
    features, probs = DomainBackbone.load(built, "fmnist32")(images)
    assert features.shape == (10_000, 128) and features.dtype == np.float32
    assert probs.shape == (10_000, 10) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    predicted = probs.argmax(axis=1)
    assert (predicted == labels).mean() == pytest.approx(info["test_accuracy"], abs=1e-3)
    hist = np.bincount(predicted, minlength=10) / len(predicted)
    np.testing.assert_allclose(hist, info["predicted_class_hist"]["eval"], atol=1e-3)
    assert info["test_accuracy"] > 0.3  # 512 images, two epochs: far above chance (0.1)


def test_spec_names_the_weights(built):
    spec = DomainBackbone.load(built, "fmnist32").spec()
    info = read_json(classifier_dir(built, "fmnist32") / "classifier.json")
    assert spec["backbone"] == "domain" and spec["dataset"] == "fmnist32"
    assert spec["weights_sha256"] == info["weights_sha256"] and spec["test_accuracy"] == info["test_accuracy"]
    assert (spec["feature_dim"], spec["n_classes"], spec["input_size"]) == (128, 10, 32)
    assert spec["normalization"] == "x / 127.5 - 1"


def test_a_tampered_or_missing_model_is_refused(built, tmp_path):
    folder = classifier_dir(tmp_path, "fmnist32")
    shutil.copytree(classifier_dir(built, "fmnist32"), folder)
    DomainBackbone.load(tmp_path, "fmnist32")
    raw = bytearray((folder / "model.pt").read_bytes())
    raw[-100] ^= 0xFF
    (folder / "model.pt").write_bytes(bytes(raw))
    with pytest.raises(ClassifierError, match=r"gbench classifier fmnist32.*dvc repro"):
        DomainBackbone.load(tmp_path, "fmnist32")
    (folder / "model.pt").unlink()
    with pytest.raises(BackboneError, match="gbench classifier fmnist32"):
        DomainBackbone.load(tmp_path, "fmnist32")


def test_per_channel_mode_scores_stacked_images(built, eval_split):
    images, _ = eval_split
    single = DomainBackbone.load(built, "fmnist32")
    stacked = DomainBackbone.load(built, "fmnist32", per_channel=True)
    picks = [[0, 1, 2], [3, 4, 5], [1, 1, 7]]
    channels = images[np.array(picks).ravel()]
    f1, p1 = single(channels)
    f3, p3 = stacked(images[np.array(picks), 0])
    assert f3.shape == (3, 384) and f3.dtype == np.float32 and p3.shape == (3, 1000) and p3.dtype == np.float64
    np.testing.assert_allclose(f3, f1.reshape(3, 384), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p3.sum(axis=1), 1.0, atol=1e-12)
    for n in range(3):
        a, b, c = p1[3 * n:3 * n + 3]
        np.testing.assert_allclose(p3[n], np.multiply.outer(np.multiply.outer(a, b), c).ravel(), rtol=1e-5)
        i, j, k = p1[3 * n:3 * n + 3].argmax(axis=1)
        assert p3[n].argmax() == 100 * i + 10 * j + k
        assert p3[n, 100 * i + 10 * j + k] == pytest.approx(a[i] * b[j] * c[k], rel=1e-5)
    assert stacked.spec()["n_classes"] == 1000 and stacked.spec()["feature_dim"] == 384
    with pytest.raises(ValueError, match="uint8"):
        stacked(images[:2])


def test_other_sizes_are_resized_with_pil_bicubic(built, eval_split):
    images = eval_split[0][:6]
    big = np.stack([np.asarray(Image.fromarray(im[0]).resize((48, 48), Image.BICUBIC))[None] for im in images])
    backbone = DomainBackbone.load(built, "fmnist32", batch=4)
    features, probs = backbone(big)
    by_hand = np.stack([np.asarray(Image.fromarray(im[0].astype(np.float32), mode="F").resize(
        (32, 32), Image.BICUBIC)).clip(0, 255)[None] for im in big])
    f_hand, p_hand = predict(backbone.model, by_hand)
    assert features.shape == (6, 128) and probs.shape == (6, 10)
    np.testing.assert_allclose(features, f_hand, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, p_hand, rtol=1e-5, atol=1e-9)


def test_the_data_copying_test_on_the_domain_backbone(built):
    """A "generator" that returns training images is flagged (C_T far below -3); one that returns eval images
    the reference did not use is not (Meehan et al. 2020, bench/measurement/metrics/memorization.py)."""
    from bench.measurement import health
    from bench.measurement.backbones import BackboneSet
    from bench.measurement.metrics.memorization import closest_to_training
    from bench.measurement.reference import build_reference, load_reference
    from bench.measurement.scoring import MetricSettings, score_features

    params = yaml.safe_load((built / "params.yaml").read_text())
    params["profiles"]["smoke"]["fmnist32"]["reference"]["n_ref"] = 2000
    params["profiles"]["smoke"]["fmnist32"]["evaluate"]["backbones"] = ["domain"]
    (built / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    build_reference("fmnist32", built, "domain")
    ref, spec = load_reference(built, "fmnist32", "domain")
    assert ref["train_features"].shape == (60_000, 128) and "data-copying" in spec["train_features"]
    data, net = load_prepared("fmnist32", built), BackboneSet("domain", built, "fmnist32")
    unused = np.setdiff1d(np.arange(10_000), ref["indices"])[:1000]
    settings = MetricSettings(which=("copying",))
    copied, how = score_features("domain", net(data["train_x"][5000:6000]), ref, settings)
    fresh, _ = score_features("domain", net(data["eval_x"][unused]), ref, settings)
    assert copied["data_copying_domain"] < -10 and how["data_copying"]["copying"]
    assert abs(fresh["data_copying_domain"]) < 3
    assert health.copying_check(copied)["flag"] and not health.copying_check(fresh)["flag"]
    # the nearest-neighbour grid pairs a copied sample with the very training image it copies
    order, nearest, distance = closest_to_training(net(data["train_x"][5000:5032])["features"],
                                                   ref["train_features"], 8)
    spread = health.mean_pairwise_distance(ref["train_features"][:500])
    assert (nearest == 5000 + order).all() and distance.max() < 0.01 * spread  # float16 features: not exactly 0
