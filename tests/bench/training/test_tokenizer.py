"""The tokenizer task kind end to end on the smoke profile: stage 1 (train), stage 2 (prior) and evaluate, and what
each stage's config depends on."""

import json

import numpy as np
import pytest
import torch
import yaml

from bench.protocol.io import read_json
from bench.protocol.runs import RunId
from bench.training.checkpoint import CHECKPOINT, load_checkpoint
from bench.training.loop import train

STUDY = """tk:
  title: tokenizer test runs
  kind: tokenizer
  datasets:
    fmnist32: [vqgan]
"""
RUN = RunId.parse("tk/fmnist32/vqgan/s0")


@pytest.fixture
def tokenizer_root(bench_root):
    params = yaml.safe_load((bench_root / "params.yaml").read_text())
    params["profiles"]["smoke"]["fmnist32"]["evaluate"]["backbones"] = ["domain"]  # Inception: the suite's time
    (bench_root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (bench_root / "pipelines" / "tk.yaml").write_text(STUDY)
    return bench_root


def _prior_config(root):
    return read_json(RUN.folder(root) / "prior" / "config.json")


def test_a_tokenizer_run_trains_its_two_stages_and_is_scored_on_reconstructions_and_samples(tokenizer_root):
    from PIL import Image

    from bench.measurement.classifier import build_classifier
    from bench.measurement.evaluate import evaluate
    from bench.measurement.reference import build_reference

    root = tokenizer_root
    train(RUN, root)
    points = read_json(RUN.folder(root) / "train" / "curve.json")["points"]
    # 256 images at batch 64: D starts at half the budget, step 2; lambda is logged before it starts too
    assert [p.get("gan_factor") for p in points[1:]] == [0.0, 1.0]
    assert all(p["lambda"] > 0 and p["rec"] > 0 and "perceptual" in p for p in points[1:])
    train(RUN, root, stage="prior")
    prior = load_checkpoint(RUN.folder(root) / "prior" / CHECKPOINT)
    tokenizer = load_checkpoint(RUN.folder(root) / "train" / CHECKPOINT)
    assert all(torch.equal(prior["tokenizer"]["nets"][0][k], v) for k, v in tokenizer["nets"][0].items())
    config = _prior_config(root)
    assert config["tokenizer"]["config_hash"] == tokenizer["config_hash"] and len(config["tokenizer"]["sha256"]) == 64
    prior_points = read_json(RUN.folder(root) / "prior" / "curve.json")["points"]
    assert prior_points[-1]["kimg"] == pytest.approx(0.128) and prior_points[-1]["loss"] > 0

    build_classifier("fmnist32", root)
    build_reference("fmnist32", root, "domain")
    evaluate(RUN, root)
    record = read_json(RUN.folder(root) / "eval" / "metrics.json")
    metrics, spec = record["metrics"], record["spec"]
    assert {"fid_domain", "rfid_domain", "psnr_rec", "ssim_rec", "codebook_usage", "codebook_perplexity",
            "sample_ms_per_image"} <= set(metrics)
    assert 0 < metrics["codebook_usage"] <= 1 and 1 <= metrics["codebook_perplexity"] <= 512
    assert metrics["psnr_rec"] > 0 and metrics["sample_ms_per_image"] > 0
    assert spec["tokenizer"]["n_test"] == 10_000 and spec["tokenizer"]["grid"] == [8, 8]
    assert spec["tokenizer"]["codes"] == "512 codes, plain 64-d"
    grid = np.asarray(Image.open(RUN.folder(root) / "eval" / "reconstructions.png"))
    assert grid.shape[:2] == (4 * 33 + 1, 8 * 33 + 1)  # two groups of 8 test images over their reconstructions


def test_a_change_to_the_prior_retrains_the_prior_and_not_the_tokenizer(tokenizer_root):
    from bench.protocol.resolve import resolve
    from bench.training.tasks import LATER_STAGES, run_stage, task_of

    root = tokenizer_root
    before = resolve(RUN, root)
    assert tuple(task_of("tokenizer").stages(before, root)) == LATER_STAGES["tokenizer"]  # what pipelines generate
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["profiles"]["smoke"]["fmnist32"]["prior"]["depth"] = 2
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    after = resolve(RUN, root)
    assert after.config_hash == before.config_hash  # the train stage's config
    assert run_stage(after, root, "prior").config_hash != run_stage(before, root, "prior").config_hash
    # a retrained tokenizer (other checkpoint bytes) is a new prior config too
    (RUN.folder(root) / "train").mkdir(parents=True)
    (RUN.folder(root) / "train" / CHECKPOINT).write_bytes(b"one tokenizer")
    first = run_stage(after, root, "prior").config_hash
    (RUN.folder(root) / "train" / CHECKPOINT).write_bytes(b"another tokenizer")
    assert run_stage(after, root, "prior").config_hash != first


def test_the_pipeline_gives_a_tokenizer_run_a_prior_stage_between_train_and_evaluate():
    from tests.conftest import REPO

    stages = yaml.safe_load((REPO / "pipelines" / "fmnist32" / "dvc.yaml").read_text())["stages"]
    prior, evaluate = stages["prior-tokenizer-vqgan"]["do"], stages["evaluate-tokenizer-vqgan"]["do"]
    assert prior["cmd"] == "exec gbench prior ${item.runs}"
    assert "${item.dir}/s0/train" in prior["deps"] and prior["outs"] == ["${item.dir}/s0/prior", "${item.dir}/s1/prior"]
    assert "profiles.${profile}.fmnist32.prior" in prior["params"]
    assert "profiles.${profile}.fmnist32.train" not in json.dumps(prior["params"])  # the prior never retrains it
    assert "results/code/prior-tokenizer.json" in prior["deps"]
    assert {"${item.dir}/s0/train", "${item.dir}/s0/prior"} <= set(evaluate["deps"])
    assert set(stages["prior-tokenizer-vit-vqgan"]["foreach"]) == {"vit-vqgan", "vit-vqgan+plain-codes"}


def test_a_tiny_tokenizer_run_keeps_its_codebook_above_the_collapse_floor_and_a_collapsed_one_is_flagged(
        prepared_data):
    from bench.data.datasets import load_prepared
    from bench.measurement.health import CODEBOOK_FLOOR, codebook_collapse_check
    from bench.measurement.metrics.codebook import codebook_metrics
    from bench.training.tokenizer_objective import reconstruction_loss
    from models.vqgan import vqgan_tokenizer

    data = load_prepared("fmnist32", prepared_data.parent.parent)
    images = torch.from_numpy(data["train_x"][:256]).float() / 127.5 - 1
    test = torch.from_numpy(data["eval_x"][:256]).float() / 127.5 - 1
    torch.manual_seed(0)
    model = vqgan_tokenizer(width=0.25, n_codes=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, betas=(0.5, 0.9))
    draw = torch.Generator().manual_seed(0)
    for _ in range(20):
        batch = images[torch.randint(len(images), (16,), generator=draw)]
        out = model(batch)
        loss = reconstruction_loss(batch, out.images)[0] + out.loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def usage() -> float:
        with torch.no_grad():
            return codebook_metrics(model.eval().encode(test).indices.numpy(), 64)["codebook_usage"]

    trained = usage()
    assert trained >= 4 * CODEBOOK_FLOOR and not codebook_collapse_check({"codebook_usage": trained})["flag"]
    with torch.no_grad():  # a dead codebook: every code but the first far from any encoding
        model.quantizer.codebook.fill_(1e3)
        model.quantizer.codebook[0].zero_()
    assert usage() == 1 / 64 and codebook_collapse_check({"codebook_usage": usage()})["flag"]


def test_a_prior_stage_killed_and_resumed_equals_the_uninterrupted_one(tokenizer_root, tmp_path_factory):
    """The prior stage resumes through the shared loop: its prior, optimizer, data order and the random streams of
    its curve samples must come back from the checkpoint."""
    import shutil

    from tests.conftest import kill_at_first_checkpoint

    root = tokenizer_root
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["profiles"]["smoke"]["fmnist32"]["prior"].update(kimg=0.512, checkpoint_every_kimg=0.032,
                                                           curve_every_kimg=0.128)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    train(RUN, root)
    uninterrupted = tmp_path_factory.mktemp("uninterrupted")
    shutil.copytree(root / "pipelines", uninterrupted / "pipelines")
    shutil.copy(root / "params.yaml", uninterrupted / "params.yaml")
    (uninterrupted / "results" / "data").mkdir(parents=True)
    (uninterrupted / "results" / "data" / "fmnist32").symlink_to(root / "results" / "data" / "fmnist32",
                                                                 target_is_directory=True)
    shutil.copytree(RUN.folder(root) / "train", RUN.folder(uninterrupted) / "train")  # the same tokenizer bytes
    train(RUN, uninterrupted, stage="prior")

    killed_at = kill_at_first_checkpoint(root, RUN, "prior")
    assert not killed_at["finished"] and 0 < json.loads(killed_at["state"])["images"] < 512
    train(RUN, root, stage="prior")  # picks up the checkpoint

    def outputs(base):
        folder = RUN.folder(base) / "prior"
        return ((folder / CHECKPOINT).read_bytes(), read_json(folder / "curve.json"),
                (folder / "curve_samples.npz").read_bytes())

    assert outputs(root) == outputs(uninterrupted)
