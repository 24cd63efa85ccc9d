"""Limited-data subsets of fmnist32 (fmnist32-n100 ... -n5k): prepared as nested class-balanced subsets, set up
with their parent's profile block, and scored against their parent's reference and classifier."""

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest
import yaml

from bench.data import datasets, fashion_mnist
from bench.data.datasets import DatasetError, SubsetSpec, load_prepared, prepare, subset_indices
from bench.protocol.errors import ConfigError
from tests.bench.data.test_datasets import write_idx
from tests.conftest import REPO

PER_CLASS = 60  # train images per class of the fake source: enough for n100 and n500, not for n1k


@pytest.fixture
def fake_fmnist(tmp_path, monkeypatch):
    """A small Fashion-MNIST source (60 train, 5 eval images per class) standing in for the published files."""
    folder = tmp_path / "fmnist"
    folder.mkdir()
    rng = np.random.default_rng(7)
    checksums = {}
    for split, per_class in (("train", PER_CLASS), ("eval", 5)):
        labels = rng.permutation(np.repeat(np.arange(10), per_class)).astype(np.uint8)
        images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        for key, array in ((f"{split}_x", images), (f"{split}_y", labels)):
            name = fashion_mnist.FMNIST_FILES[key][0]
            checksums[key] = (name, hashlib.sha256(write_idx(folder / name, array)).hexdigest())
    monkeypatch.setattr(fashion_mnist, "FMNIST_FILES", checksums)
    return {"data": {"fmnist_dir": str(folder)}}


def test_the_subsets_are_fmnist32s_with_its_classifier_and_reference():
    for name, n in (("fmnist32-n100", 100), ("fmnist32-n500", 500), ("fmnist32-n1k", 1000), ("fmnist32-n5k", 5000)):
        ds = datasets.spec(name)
        assert isinstance(ds, SubsetSpec) and ds.parent == "fmnist32" and ds.n_train == n
        assert ds.reference_dataset == "fmnist32" and ds.classifier == "fmnist32" and ds.source == "fmnist"
        assert ds.split_size("train") == n and ds.split_size("eval") == 10_000
    assert datasets.spec("fmnist32").reference_dataset == "fmnist32"
    with pytest.raises(DatasetError, match="unknown dataset 'fmnist32-n200'"):
        datasets.spec("fmnist32-n200")


def test_prepared_subsets_are_balanced_nested_deterministic_and_keep_the_parents_eval_split(tmp_path, fake_fmnist):
    prepare("fmnist32", tmp_path / "a", fake_fmnist)
    parent = load_prepared("fmnist32", tmp_path / "a")
    index = {}
    for name, n in (("fmnist32-n100", 100), ("fmnist32-n500", 500)):
        prepare(name, tmp_path / "a", fake_fmnist)
        data = load_prepared(name, tmp_path / "a")
        assert data["train_x"].shape == (n, 1, 32, 32) and data["train_x"].dtype == np.uint8
        assert np.bincount(data["train_y"], minlength=10).tolist() == [n // 10] * 10
        index[name] = data["train_index"]
        np.testing.assert_array_equal(data["train_x"], parent["train_x"][data["train_index"]])
        np.testing.assert_array_equal(data["train_y"], parent["train_y"][data["train_index"]])
        np.testing.assert_array_equal(data["eval_x"], parent["eval_x"])
        np.testing.assert_array_equal(data["eval_y"], parent["eval_y"])
        meta = json.loads((tmp_path / "a/results/data" / name / "meta.json").read_text())["source"]
        assert meta["subset_of"] == "fmnist32" and meta["n_train"] == n and meta["seed"] == 0
        assert meta["train_index_sha256"] == hashlib.sha256(data["train_index"].astype("<i8").tobytes()).hexdigest()
    assert set(index["fmnist32-n100"]) < set(index["fmnist32-n500"])  # nested
    prepare("fmnist32-n100", tmp_path / "b", fake_fmnist)  # another root: the same file
    meta = [json.loads((tmp_path / r / "results/data/fmnist32-n100/meta.json").read_text()) for r in "ab"]
    assert meta[0]["sha256"] == meta[1]["sha256"]


def test_each_class_takes_the_head_of_its_own_seeded_permutation():
    labels = np.random.default_rng(1).permutation(np.repeat(np.arange(4), 30))
    chosen = subset_indices(labels, 20, 4, seed=3)
    pool = np.flatnonzero(labels == 2)
    expected = np.random.default_rng([3, 2]).permutation(pool)[:5]
    assert sorted(chosen[labels[chosen] == 2]) == sorted(expected)
    assert set(chosen) < set(subset_indices(labels, 40, 4, seed=3))
    assert set(chosen) != set(subset_indices(labels, 20, 4, seed=4))


def test_a_subset_needs_a_multiple_of_the_classes_no_larger_than_the_smallest_class(tmp_path, fake_fmnist):
    with pytest.raises(DatasetError, match="only 60; use at most 600"):
        prepare("fmnist32-n1k", tmp_path, fake_fmnist)
    with pytest.raises(DatasetError, match="n_train = 105 is not a positive multiple of fmnist32's 10 classes"):
        replace(datasets.spec("fmnist32-n100"), n_train=105)


# ---------------------------------------------------------------- settings

def _params(tmp_path, own: dict | None = None, study: dict | None = None) -> dict:
    """params.yaml (profile smoke) with one study `ld` over fmnist32-n100, loaded through the schema."""
    from bench.protocol.params import load_params

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = "smoke"
    for body in params["profiles"].values():  # the repository's studies are not in tmp_path/pipelines
        body.pop("studies", None)
    smoke = params["profiles"]["smoke"]
    smoke["studies"] = {"ld": {"seeds": [0], **({"fmnist32-n100": study} if study else {})}}
    if own is not None:
        smoke["fmnist32-n100"] = own
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    (tmp_path / "pipelines" / "ld.yaml").write_text(yaml.safe_dump(
        {"ld": {"title": "limited data", "datasets": {"fmnist32-n100": ["dcgan"]}}}))
    return load_params(tmp_path)


def test_a_subset_takes_its_parents_settings_and_a_studys_overrides_on_top(tmp_path):
    from bench.protocol.params import reference_backbones, run_settings, settings_dataset, stage_settings

    params = _params(tmp_path, study={"train": {"kimg": 0.5}})
    assert settings_dataset(params, "fmnist32-n100") == "fmnist32"
    for stage in ("train", "evaluate"):
        assert stage_settings(params, "fmnist32-n100", stage) == stage_settings(params, "fmnist32", stage)
    train = run_settings(params, "ld", "fmnist32-n100", "train")
    assert train == {**stage_settings(params, "fmnist32", "train"), "kimg": 0.5}
    assert reference_backbones(params, "fmnist32-n100") == reference_backbones(params, "fmnist32")

    own = {"train": {**stage_settings(params, "fmnist32", "train"), "kimg": 2}, "evaluate": {"n_gen": 16}}
    params = _params(tmp_path, own=own)
    assert settings_dataset(params, "fmnist32-n100") == "fmnist32-n100"
    assert stage_settings(params, "fmnist32-n100", "train")["kimg"] == 2
    # the references scoring it are still the parent's, on the parent's backbones
    assert reference_backbones(params, "fmnist32-n100") == reference_backbones(params, "fmnist32")


def test_a_subsets_own_block_may_not_set_the_parents_reference(tmp_path):
    own = {"reference": {"n_ref": 48}, "evaluate": {"n_gen": 16}}
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.fmnist32-n100\.reference: fmnist32-n100 is scored "
                                          r"against fmnist32's reference"):
        _params(tmp_path, own=own)


# ---------------------------------------------------------------- pipelines

def test_a_subsets_pipeline_uses_its_parents_reference_classifier_and_settings(tmp_path):
    from bench.protocol.pipelines import dataset_pipeline, render_all
    from bench.protocol.resolve import Protocol
    from bench.protocol.studies import load_studies

    params = _params(tmp_path, study={"train": {"kimg": 0.5}})
    protocol = Protocol(REPO, params, load_studies(tmp_path, params))  # the harness's files are REPO's
    files = render_all(tmp_path, protocol)
    assert {p.parent.name for p in files if p.parent.parent == tmp_path / "pipelines"} == {
        "fmnist32", "fmnist32-n100"}  # the parent's stages are generated with the subset's
    stages = dataset_pipeline("fmnist32-n100", protocol)["stages"]
    assert not [s for s in stages if s.startswith(("reference", "classifier"))]
    assert stages["prepare"]["params"] == ["data.fmnist_dir"]
    assert stages["prepare"]["outs"] == ["results/data/fmnist32-n100"]
    (train,) = [s["do"] for name, s in stages.items() if name.startswith("train-ld-")]
    (evaluate,) = [s["do"] for name, s in stages.items() if name.startswith("evaluate-ld-")]
    assert "results/data/fmnist32-n100" in train["deps"]
    assert train["params"] == ["profile", "profiles.${profile}.fmnist32.train",
                               "profiles.${profile}.studies.ld.fmnist32-n100.train"]
    assert evaluate["params"] == ["profiles.${profile}.fmnist32.evaluate"]
    parent = dataset_pipeline("fmnist32", protocol)["stages"]
    assert {"prepare", "classifier", "reference-inception", "reference-domain"} <= set(parent)
    parent_outs = {out for s in parent.values() for out in s.get("outs", [])}
    for dep in ("results/reference/fmnist32/inception", "results/reference/fmnist32/domain",
                "results/classifier/fmnist32"):
        assert dep in evaluate["deps"] and dep in parent_outs
    assert not [d for d in evaluate["deps"] if d.startswith("results/reference/fmnist32-n100")]


# ---------------------------------------------------------------- scoring

def _parent_reference(root):
    from bench.measurement.reference import reference_dir, save_npz
    from bench.protocol.io import write_json

    folder = reference_dir(root, "fmnist32", "inception")
    features = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    save_npz(folder / "features.npz", features=features, indices=np.arange(8))
    write_json(folder / "spec.json", {"backbone": "inception", "dataset": "fmnist32", "split": "eval", "n_ref": 8,
                                      "split_size": 10_000, "weights_sha256": "w"})
    return features


def test_evaluate_and_score_read_the_parents_reference(tmp_path):
    from bench.measurement.evaluate import StageInputs
    from bench.measurement.score import _dataset_reference

    features = _parent_reference(tmp_path)
    arrays, ref_spec = StageInputs(tmp_path).reference("fmnist32-n100", "inception")
    np.testing.assert_array_equal(arrays["features"], features)
    assert ref_spec["dataset"] == "fmnist32"

    class Net:
        def spec(self):
            return {"weights_sha256": "w"}

    arrays, info = _dataset_reference(Net(), "inception", tmp_path, "fmnist32-n500", None)
    np.testing.assert_array_equal(arrays["features"], features)
    assert info["dataset"] == "fmnist32" and info["source"] == "cached reference stage output"


def test_size_checks_use_the_parents_reference_split():
    from bench.protocol.checks import size_problems

    params = {"profiles": {"p": {"studies": {"ld": {"fmnist32-n100": {"evaluate": {"n_gen": 2}}}},
                                 "fmnist32-n100": {"reference": {"n_ref": 20_000}}}}}
    problems = " ".join(size_problems(params))
    assert "20000 is more than the 10000 images of fmnist32's eval split" in problems
    assert "profiles.p.studies.ld.fmnist32-n100.evaluate.n_gen: 2" in problems
