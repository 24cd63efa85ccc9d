"""Datasets a user declares in params.yaml (`datasets:`), from a zip `gbench dataset-tool` wrote: checked with
the rest of params.yaml, prepared with their source as a stage dependency, trained and scored like a built-in
one (a few steps), and a variant that cannot take their image size is refused before any stage."""

import numpy as np
import pytest
import yaml
from PIL import Image

from bench.data import datasets
from bench.data.dataset_tool import convert
from bench.protocol.errors import ConfigError
from bench.protocol.params import load_params
from tests.conftest import write_params, write_studies

SMALL = {"train": {"kimg": 0.064, "width": 0.125, "curve_every_kimg": 0.032, "checkpoint_every_kimg": 0.064,
                   "curve_n": 16},
         "evaluate": {"n_gen": 16, "backbones": ["inception"]}, "reference": {"n_ref": 16}}


def _shapes(folder, n: int, size: int) -> None:
    """`n` images of one of three classes (a bright square, bar or cross on black), labeled in dataset.json."""
    import json

    folder.mkdir(parents=True)
    rng, labels = np.random.default_rng(0), []
    for i in range(n):
        image, cls = np.zeros((size, size, 3), dtype=np.uint8), i % 3
        x, y = rng.integers(2, size // 2, 2)
        if cls == 0:
            image[y:y + size // 4, x:x + size // 4] = 230
        elif cls == 1:
            image[y:y + 2, :] = 200
        else:
            image[y:y + 2, :] = image[:, x:x + 2] = 180
        Image.fromarray(image).save(folder / f"{i:03d}.png")
        labels.append([f"{i:03d}.png", cls])
    (folder / "dataset.json").write_text(json.dumps({"labels": labels}))


def _declare(root, name: str, size: int, variants: list[str], n: int = 24, **entry):
    params = write_params(root)
    params["datasets"] = {name: {"source": f"data/{name}.zip", "resolution": size, "channels": 3, "labels": True,
                                 "classes": 3, **entry}}
    params["profiles"]["smoke"][name] = SMALL
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_studies(root)
    (root / "pipelines" / "mine.yaml").write_text(yaml.safe_dump({"mine": {"datasets": {name: variants}}}))
    _shapes(root / "photos", n, size)
    convert(root / "photos", root / "data" / f"{name}.zip", size)


@pytest.fixture(autouse=True)
def _forget_declarations():
    yield
    datasets.declare(None)


@pytest.mark.parametrize(("size", "variants"), [(32, ["dcgan", "cgan"]), (64, ["dcgan"])])
def test_a_declared_dataset_is_prepared_trained_and_scored(tmp_path, size, variants):
    from bench.cli import main
    from bench.measurement.evaluate import evaluate
    from bench.protocol.pipelines import dataset_pipeline
    from bench.protocol.resolve import Protocol
    from bench.protocol.runs import RunId
    from bench.protocol.studies import load_studies
    from bench.training.loop import train
    from tests.conftest import REPO

    name = f"shapes{size}"
    _declare(tmp_path, name, size, variants)
    (tmp_path / "results").mkdir()
    params = load_params(tmp_path)
    protocol = Protocol(REPO, params, load_studies(tmp_path, params))  # the harness's files are REPO's
    stage = dataset_pipeline(name, protocol)["stages"]["prepare"]
    assert stage["deps"][0] == f"data/{name}.zip" and stage["params"] == [f"datasets.{name}"]
    assert "classifier" not in dataset_pipeline(name, protocol)["stages"]
    assert main(["--root", str(tmp_path), "prepare", name]) == 0
    data = datasets.load_prepared(name, tmp_path)
    assert data["train_x"].shape == (24, 3, size, size) and data["train_y"].tolist() == [i % 3 for i in range(24)]
    assert main(["--root", str(tmp_path), "reference", name]) == 0
    for variant in variants:
        run = RunId.parse(f"mine/{name}/{variant}/s0")
        train(run, tmp_path)
        metrics = yaml.safe_load((evaluate(run, tmp_path) / "metrics.json").read_text())
        inception = metrics["spec"]["backbones"]["inception"]
        assert metrics["metrics"]["fid"] > 0 and inception["reference"] == {
            "dataset": name, "split": "train", "n_ref": 16, "split_size": 24}
        assert inception["protocols"]["fid"] == "fid16_train16"  # 16 of the 24 train images
        samples = np.asarray(Image.open(run.folder(tmp_path) / "eval" / "samples.png"))
        assert samples.shape[:2] == (2 * (size + 1) + 1, 8 * (size + 1) + 1)  # 16 samples, 8 a row, 1 px apart
        if variant == "cgan":
            assert metrics["metrics"]["intra_fid_domain"] is None  # no domain classifier without an eval split
            assert f"does not evaluate {name} on the domain backbone" in metrics["spec"]["conditional"]["reason"]


def test_a_variant_that_cannot_take_the_size_is_refused_before_any_stage(tmp_path):
    from bench.protocol.resolve import Protocol

    _declare(tmp_path, "faces256", 256, ["dcgan", "acgan"])
    with pytest.raises(ConfigError, match=r"pipelines/mine\.yaml: variant 'acgan' cannot be built for 'faces256' "
                                          r"\(3x256x256\): this AC-GAN is built for 32x32, 64x64 or 128x128 images"):
        Protocol.load(tmp_path).resolve_all()


@pytest.mark.parametrize(("entry", "message"), [
    ({"resolution": 48}, r"datasets\.mine\.resolution: 48 is not a power of two"),
    ({"channels": 2}, r"datasets\.mine\.channels: 2 is not 1 or 3"),
    ({"labels": True}, r"datasets\.mine: `labels: true` needs `classes`"),
    ({"labels": "yes"}, r"datasets\.mine\.labels: 'yes' is not true or false"),
    ({"resolutoin": 32}, r"datasets\.mine\.resolutoin: unknown key \(did you mean 'resolution'\?\)"),
    ({"name": "fmnist32"}, r"datasets\.fmnist32: 'fmnist32' is a built-in dataset; choose another name"),
    ({"name": "My_Data"}, r"datasets\.My_Data: unknown key; allowed: none, or a dataset name \(lower-case letters"),
])
def test_bad_declarations_name_the_key_and_the_fix(tmp_path, entry, message):
    params = write_params(tmp_path)
    declared = {"source": "data/mine.zip", "resolution": 32, "channels": 3, **entry}
    params["datasets"] = {declared.pop("name", "mine"): declared}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ConfigError, match=message):
        load_params(tmp_path)


def test_a_profile_block_for_a_dataset_nobody_declared_is_refused(tmp_path):
    params = write_params(tmp_path)
    params["profiles"]["smoke"]["shapes23"] = SMALL
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.shapes23: unknown key"):
        load_params(tmp_path)


def test_a_missing_or_mismatched_source_is_one_error_at_prepare(tmp_path):
    _declare(tmp_path, "shapes32", 32, ["dcgan"], classes=2)
    load_params(tmp_path)
    with pytest.raises(datasets.DatasetError, match=r"label 2 is not below params\.yaml's datasets\.shapes32\.classes "
                                                    r"= 2; raise `classes` or fix the labels"):
        datasets.prepare("shapes32", tmp_path)
    (tmp_path / "data" / "shapes32.zip").unlink()
    with pytest.raises(datasets.DatasetError, match=r"shapes32\.zip does not exist; give a folder or a zip"):
        datasets.prepare("shapes32", tmp_path)


def test_a_full_protocol_scores_against_the_whole_split_and_names_itself(tmp_path):
    """`protocol: fid16_full` (16 samples against every image of the one split): the reference stage takes all
    24 images, and the metric spec names each metric's protocol from what was measured."""
    from bench.cli import main
    from bench.measurement.evaluate import evaluate
    from bench.protocol.runs import RunId
    from bench.training.loop import train

    _declare(tmp_path, "shapes32", 32, ["dcgan"])
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    block = params["profiles"]["smoke"]["shapes32"]
    block["protocol"] = "fid16_full"
    block["reference"].pop("n_ref")
    block["evaluate"].pop("n_gen")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "results").mkdir()
    assert main(["--root", str(tmp_path), "prepare", "shapes32"]) == 0
    assert main(["--root", str(tmp_path), "reference", "shapes32"]) == 0
    run = RunId.parse("mine/shapes32/dcgan/s0")
    train(run, tmp_path)
    spec = yaml.safe_load((evaluate(run, tmp_path) / "metrics.json").read_text())["spec"]
    inception = spec["backbones"]["inception"]
    assert spec["n_gen"] == 16
    assert inception["reference"] == {"dataset": "shapes32", "split": "train", "n_ref": 24, "split_size": 24}
    assert inception["protocols"] == {"fid": "fid16_full", "kid": "kid16_full", "pr": "pr163_full",
                                      "dc": "dc165_full", "is": "is16"}


def test_a_test_protocol_on_a_dataset_of_one_split_is_refused(tmp_path):
    _declare(tmp_path, "shapes32", 32, ["dcgan"])
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["profiles"]["smoke"]["shapes32"].update(protocol="fid16_test")
    params["profiles"]["smoke"]["shapes32"]["reference"].pop("n_ref")
    params["profiles"]["smoke"]["shapes32"]["evaluate"].pop("n_gen")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.shapes32\.protocol: shapes32 has no eval split"):
        load_params(tmp_path)
