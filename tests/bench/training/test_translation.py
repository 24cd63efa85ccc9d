"""The translation task kind (bench/training/tasks/translation.py): its loss terms against direct computations, the
learning-rate policy, and pix2pix / CycleGAN trained a few steps by the real loop on the Fashion-MNIST tasks."""

import json

import numpy as np
import pytest
import torch
import torch.nn as nn
import yaml

from bench.data.datasets import prepare
from bench.protocol.io import read_json
from bench.protocol.runs import RunId
from bench.training.checkpoint import CHECKPOINT
from bench.training.loop import train
from bench.training.tasks import translation


def test_gan_terms_are_the_references_bce_and_mse_on_every_patch():
    logits = torch.tensor([[[[0.3, -1.2], [2.0, 0.0]]]])
    x = logits.numpy().ravel()
    bce_real, bce_fake = np.mean(np.log1p(np.exp(-x))), np.mean(np.log1p(np.exp(x)))
    assert translation.gan_term(logits, True, "ns").item() == pytest.approx(bce_real, rel=1e-6)
    assert translation.gan_term(logits, False, "ns").item() == pytest.approx(bce_fake, rel=1e-6)
    assert translation.gan_term(logits, True, "lsgan").item() == pytest.approx(np.mean((x - 1) ** 2), rel=1e-6)
    assert translation.gan_term(logits, False, "lsgan").item() == pytest.approx(np.mean(x ** 2), rel=1e-6)
    with pytest.raises(ValueError, match="GAN criteria"):
        translation.gan_term(logits, True, "hinge")


class Scale(nn.Module):
    def __init__(self, factor, shift):
        super().__init__()
        self.factor, self.shift = factor, shift

    def forward(self, x):
        return self.factor * x + self.shift


def test_cycle_and_identity_terms_equal_their_definitions():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (2, 1, 4, 4)), rng.uniform(-1, 1, (2, 1, 4, 4))
    g_ab, g_ba = Scale(0.5, 0.1), Scale(-2.0, 0.3)
    terms = translation.cycle_terms(g_ab, g_ba, torch.tensor(a), torch.tensor(b))
    f, h = (lambda x: 0.5 * x + 0.1), (lambda x: -2.0 * x + 0.3)
    assert terms["cycle_a"].item() == pytest.approx(np.abs(h(f(a)) - a).mean())
    assert terms["cycle_b"].item() == pytest.approx(np.abs(f(h(b)) - b).mean())
    assert terms["identity_b"].item() == pytest.approx(np.abs(f(b) - b).mean())  # G_AB fed a B image
    assert terms["identity_a"].item() == pytest.approx(np.abs(h(a) - a).mean())
    np.testing.assert_allclose(terms["fake_b"].numpy(), f(a))


def test_learning_rates_decay_linearly_over_the_second_half():
    assert [translation.lr_factor(i, 100, 0.5) for i in (0, 50, 75, 100)] == [1.0, 1.0, 0.5, 0.0]
    assert translation.lr_factor(80, 100, 0.0) == 1.0


TASKS_STUDY = """tr:
  title: translation runs of the tests
  datasets:
    edges2fmnist: [pix2pix, pix2pix-l1]
    sneaker2boot: [cyclegan]
"""


@pytest.fixture(scope="module")
def translation_data(tmp_path_factory):
    """edges2fmnist and sneaker2boot prepared once for the module (read only by the runs)."""
    root = tmp_path_factory.mktemp("translation-data")
    for name in ("edges2fmnist", "sneaker2boot"):
        prepare(name, root)
    return root / "results" / "data"


@pytest.fixture
def translation_root(bench_root, translation_data):
    params = yaml.safe_load((bench_root / "params.yaml").read_text())
    for name in ("edges2fmnist", "sneaker2boot"):
        (bench_root / "results" / "data" / name).symlink_to(translation_data / name, target_is_directory=True)
        params["profiles"]["smoke"][name] = {
            "train": {"kimg": 0.012, "width": 0.125, "curve_every_kimg": 0.006, "checkpoint_every_kimg": 0.006,
                      "curve_n": 8},
            "reference": {"n_ref": 48, "batch": 16},
            "evaluate": {"n_gen": 16, "backbones": ["domain"]}}
    (bench_root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (bench_root / "pipelines" / "tr.yaml").write_text(TASKS_STUDY)
    return bench_root


def _g_moved(run: RunId, root) -> bool:
    """Whether the checkpoint's G has other weights than the G its seed initialises."""
    from bench.protocol.resolve import resolve
    from bench.protocol.seeding import stream_seed
    from bench.training.checkpoint import load_checkpoint

    resolved = resolve(run, root)
    torch.manual_seed(stream_seed(run.seed, "weights"))
    initial = dict(translation.TRANSLATION.build_networks(resolved)[0].named_parameters())
    trained = load_checkpoint(run.folder(root) / "train" / CHECKPOINT)["nets"][0]
    return any(not torch.equal(p, trained[k]) for k, p in initial.items())  # weights, not BatchNorm statistics


@pytest.mark.parametrize("run_id, signals", [
    ("tr/edges2fmnist/pix2pix/s0", {"loss_d", "loss_g", "loss_g_gan", "l1"}),
    ("tr/edges2fmnist/pix2pix-l1/s0", {"loss_g", "l1"}),
    ("tr/sneaker2boot/cyclegan/s0", {"loss_d", "loss_g", "loss_g_gan", "cycle", "identity"}),
])
def test_a_translation_run_trains_with_the_shared_loop_and_the_same_seed_gives_the_same_bytes(
        translation_root, run_id, signals):
    run = RunId.parse(run_id)
    train(run, translation_root)
    folder = run.folder(translation_root) / "train"
    first = (folder / CHECKPOINT).read_bytes()
    curve = read_json(folder / "curve.json")["points"]
    assert [p["kimg"] for p in curve] == [0.0, 0.006, 0.012] and signals <= set(curve[-1])
    assert all(np.isfinite(curve[-1][s]) for s in signals)
    assert _g_moved(run, translation_root)  # the counted FLOPs never swap the trained networks out
    cost = read_json(folder / "cost.json")
    assert cost["kimg"] == 0.012 and cost["steps"] == 12 and cost["flops_total"] > 0
    train(run, translation_root, restart=True)
    assert (folder / CHECKPOINT).read_bytes() == first


def test_a_cyclegan_step_weighs_its_terms_as_the_reference(translation_root):
    from bench.data.datasets import load_prepared
    from bench.protocol.resolve import resolve
    from bench.training.tasks import task_of

    run = resolve(RunId.parse("tr/sneaker2boot/cyclegan/s0"), translation_root)
    trainer = task_of(run.task).trainer(run, load_prepared("sneaker2boot", translation_root), torch.device("cpu"))
    a, b = trainer._next_batch()
    logs = trainer._cycle_step(a, b, optimise=False)
    assert logs["loss_g"] == pytest.approx(logs["loss_g_gan"] + 10 * logs["cycle"] + 0.5 * 10 * logs["identity"],
                                           rel=1e-6)
    assert len(trainer.pools[0].images) == 1 and len(trainer.pools[1].images) == 1  # one fake each, stored


def test_a_translation_variant_refuses_a_generation_dataset_and_options_it_would_ignore(translation_root):
    from bench.protocol.resolve import resolve
    from models.registry import RegistryError

    (translation_root / "pipelines" / "bad.yaml").write_text(
        "bad:\n  title: x\n  datasets:\n    fmnist32: [pix2pix]\n    sneaker2boot: [pix2pix]\n")
    with pytest.raises(RegistryError, match="handles \\['paired'\\] data, but 'fmnist32' is 'images'"):
        resolve(RunId.parse("bad/fmnist32/pix2pix/s0"), translation_root)
    with pytest.raises(RegistryError, match="'sneaker2boot' is 'unpaired'"):
        resolve(RunId.parse("bad/sneaker2boot/pix2pix/s0"), translation_root)


def test_a_translation_run_is_evaluated_against_its_ground_truth_and_content(translation_root):
    from PIL import Image

    from bench.data.datasets import load_prepared
    from bench.measurement.backbones import BackboneSet
    from bench.measurement.classifier import build_classifier
    from bench.measurement.evaluate import evaluate
    from bench.measurement.reference import build_reference

    build_classifier("fmnist32", translation_root)
    build_reference("edges2fmnist", translation_root, "domain")
    run = RunId.parse("tr/edges2fmnist/pix2pix/s0")
    train(run, translation_root)
    evaluate(run, translation_root)
    record = read_json(run.folder(translation_root) / "eval" / "metrics.json")
    metrics = record["metrics"]
    assert {"fid_domain", "l1_truth", "psnr_truth", "ssim_truth", "content_accuracy_domain", "diversity_l1"} <= set(
        metrics)
    assert 0 < metrics["l1_truth"] < 1 and metrics["psnr_truth"] > 0 and -1 <= metrics["ssim_truth"] <= 1
    assert metrics["diversity_l1"] > 0  # dropout at test time: two translations of one input differ
    assert record["spec"]["translation"]["n"] == 16 and "health" in record
    # Table 1's ground-truth row: the classifier's score of the reference's real targets, by a pass of our own
    real = load_prepared("edges2fmnist", translation_root)
    index = np.load(translation_root / "results/reference/edges2fmnist/domain/features.npz")["indices"]
    net = BackboneSet("domain", translation_root, "edges2fmnist")
    truth = (net(real["eval_x"][index])["probs"].argmax(axis=1) == real["eval_a_y"][index]).mean()
    assert record["spec"]["translation"]["truth_content_accuracy_domain"] == pytest.approx(truth)
    assert record["spec"]["translation"]["truth_n"] == len(index) == 48
    grid = np.asarray(Image.open(run.folder(translation_root) / "eval" / "translations.png"))
    assert grid.shape[:2] == (6 * 33 + 1, 8 * 33 + 1)  # inputs, outputs, ground truth: two groups of 8
    assert np.array_equal(grid[1:33, 1:33, 0], real["eval_a"][0, 0])  # the first input, top left
    assert np.array_equal(grid[2 * 33 + 1:3 * 33, 1:33, 0], real["eval_x"][0, 0])  # its ground truth under it
    build_reference("sneaker2boot", translation_root, "domain")
    run = RunId.parse("tr/sneaker2boot/cyclegan/s0")
    train(run, translation_root)
    evaluate(run, translation_root)
    metrics = read_json(run.folder(translation_root) / "eval" / "metrics.json")["metrics"]
    assert 0 < metrics["cycle_l1"] < 1 and 0 <= metrics["target_success_domain"] <= 1
    assert "l1_truth" not in metrics and "diversity_l1" not in metrics  # no pairs, no dropout


def test_a_cyclegan_run_killed_and_resumed_equals_the_uninterrupted_run(translation_root, tmp_path_factory):
    """CycleGAN keeps state outside its networks: two image pools (their stored fakes and the random draws that
    pick from them), four optimizers and the learning-rate decay; a SIGKILL and a restart must restore it all."""
    import shutil

    from tests.bench.training.test_loop import outputs
    from tests.conftest import kill_at_first_checkpoint

    params = yaml.safe_load((translation_root / "params.yaml").read_text())
    params["profiles"]["smoke"]["sneaker2boot"]["train"].update(kimg=0.2, checkpoint_every_kimg=0.02,
                                                                 curve_every_kimg=0.1)
    (translation_root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    uninterrupted = tmp_path_factory.mktemp("uninterrupted")
    shutil.copytree(translation_root / "pipelines", uninterrupted / "pipelines")
    shutil.copy(translation_root / "params.yaml", uninterrupted / "params.yaml")
    (uninterrupted / "results" / "data").mkdir(parents=True)
    (uninterrupted / "results" / "data" / "sneaker2boot").symlink_to(
        translation_root / "results" / "data" / "sneaker2boot", target_is_directory=True)
    run = RunId.parse("tr/sneaker2boot/cyclegan/s0")
    train(run, uninterrupted)

    killed_at = kill_at_first_checkpoint(translation_root, run)
    assert not killed_at["finished"] and 0 < json.loads(killed_at["state"])["images"] < 200
    train(run, translation_root)  # picks up the checkpoint
    assert outputs(translation_root, run) == outputs(uninterrupted, run)
