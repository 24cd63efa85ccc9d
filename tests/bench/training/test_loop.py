"""Training: same seed => identical bytes; SIGKILL + restart => the uninterrupted run's result."""

import json

import pytest
import torch

from bench.protocol.io import read_json
from bench.protocol.resolve import resolve
from bench.protocol.runs import RunId
from bench.training.checkpoint import CHECKPOINT, finished_checkpoint, load_checkpoint, save_checkpoint
from bench.training.loop import resume_dir, train
from bench.training.tasks import task_of
from tests.conftest import (
    UNSTABLE_PLUGIN,
    kill_at_first_checkpoint,
    second_root,
    strict_json,
    write_params,
)


def evaluated_generator(run: RunId, root):
    """The network evaluate reports for a finished run, and the run resolved."""
    resolved = resolve(run, root)
    saved = finished_checkpoint(run.folder(root) / "train", resolved.config_hash)
    return task_of(resolved.task).evaluated_module(resolved, saved), resolved


def outputs(root, run):
    folder = run.folder(root) / "train"
    live = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted((folder / "dvclive").rglob("*"))
            if p.is_file()}
    return ((folder / CHECKPOINT).read_bytes(), read_json(folder / "curve.json"),
            (folder / "curve_samples.npz").read_bytes(), live)


@pytest.mark.parametrize("run_id", ["t/fmnist32/dcgan/s0", "t/ring8/mlp-gan/s1",
                                    "t/ring8/mlp-gan+dragan+ha+noise+r1+lazy+mbstd/s0",
                                    "t/fmnist32/cgan/s0"])  # class-conditional: the label stream is seeded too
def test_same_seed_gives_identical_checkpoint_bytes_and_curve(bench_root, tmp_path_factory, run_id):
    run = RunId.parse(run_id)
    other = tmp_path_factory.mktemp("again")
    (other / "results").symlink_to(bench_root / "results", target_is_directory=True)
    write_params(other)
    train(run, bench_root)
    first = outputs(bench_root, run)
    train(run, bench_root, restart=True)  # from scratch again, not from the finished run's state
    assert outputs(bench_root, run) == first
    different_seed = RunId(run.study, run.dataset, run.variant, run.seed + 1)
    train(different_seed, bench_root)
    assert outputs(bench_root, different_seed)[0] != first[0]


def test_curve_logs_losses_and_keeps_samples_from_kimg_zero(bench_root):
    from bench.training.snapshots import load_snapshots

    write_params(bench_root, fmnist32={"train": {"kimg": 0.3}})  # not a multiple of the batch of 64
    run = RunId.parse("t/fmnist32/dcgan/s0")
    train(run, bench_root)
    curve = read_json(run.folder(bench_root) / "train" / "curve.json")
    assert [p["kimg"] for p in curve["points"]] == [0, 0.128, 0.256, 0.32]
    assert all("loss_d" in p and "loss_g" in p for p in curve["points"][1:])
    kimg, samples = load_snapshots(run.folder(bench_root) / "train")
    assert kimg.tolist() == [p["kimg"] for p in curve["points"]]
    assert samples.shape == (4, 128, 1, 32, 32) and samples.dtype == "uint8"
    assert not (samples[0] == samples[-1]).all()  # the generator moved between the first and last point
    cost = read_json(run.folder(bench_root) / "train" / "cost.json")
    assert cost["kimg"] == 0.32 and cost["steps"] == 5 and cost["wall_s"] > 0
    assert cost["flops_total"] > 0 and cost["device"] == "cpu"


def test_curve_points_average_each_signal_over_their_steps_and_dvclive_mirrors_them(bench_root, monkeypatch):
    """A point holds the mean of every per-step signal since the previous point (losses, D's accuracies and
    real-fake gap, gradient norms), computed here from the steps' own logs; dvclive's files hold the same."""
    import csv

    from bench.training.tasks.generation import GanTrainer

    steps = []
    step = GanTrainer.step

    def recording(self, progress, budget):
        logs = step(self, progress, budget)
        steps.append((progress["step"], dict(logs)))
        return logs

    monkeypatch.setattr(GanTrainer, "step", recording)
    write_params(bench_root, fmnist32={"train": {"kimg": 0.384, "curve_every_kimg": 0.192}})
    run = RunId.parse("t/fmnist32/dcgan/s0")
    train(run, bench_root)
    folder = run.folder(bench_root) / "train"
    points = read_json(folder / "curve.json")["points"]
    assert [p["step"] for p in points] == [0, 3, 6]
    signals = {"loss_d", "loss_g", "d_acc_real", "d_acc_fake", "d_gap", "grad_d", "grad_g"}
    for point, window in zip(points[1:], (steps[:3], steps[3:]), strict=True):
        assert set(point) == {"kimg", "step", "gflop", *signals}
        for name in signals:
            assert point[name] == pytest.approx(sum(logs[name] for _, logs in window) / 3, rel=1e-12)
        assert 0 <= point["d_acc_real"] <= 1 and 0 <= point["d_acc_fake"] <= 1 and point["grad_d"] > 0
    with open(folder / "dvclive" / "plots" / "metrics" / "d_acc_real.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [(int(r["step"]), float(r["d_acc_real"])) for r in rows] == [(p["step"], p["d_acc_real"])
                                                                         for p in points[1:]]
    summary = read_json(folder / "dvclive" / "metrics.json")
    assert summary["step"] == 6 and summary["grad_g"] == points[-1]["grad_g"]


@pytest.mark.parametrize("run_id", ["t/ring8/mlp-gan/s0", "t/ring8/mlp-gan+wgan-gp+ha+noise+r1+lazy/s0",
                                    "t/fmnist32/dcgan+ada/s0"])
def test_sigkill_then_restart_equals_uninterrupted_run(bench_root, tmp_path_factory, run_id):
    """The second variant keeps state outside G and D (penalty random stream, historical averages, lazy
    step count, annealed noise), the third draws its augmentations from the global torch RNG (as DiffAugment
    does) and keeps ADA's p and its r_t accumulator between updates: a resume must restore it all."""
    run = RunId.parse(run_id)
    budget = {"ring8": {"train": {"kimg": 12, "checkpoint_every_kimg": 2, "curve_every_kimg": 4, "width": 0.25}},
              "fmnist32": {"train": {"kimg": 1.28, "checkpoint_every_kimg": 0.128, "curve_every_kimg": 0.64,
                                     "width": 0.125}}}
    budget = {run.dataset: budget[run.dataset]}
    write_params(bench_root, **budget)
    reference_root = second_root(bench_root, tmp_path_factory, **budget)
    train(run, reference_root)

    killed_at = kill_at_first_checkpoint(bench_root, run)
    assert not killed_at["finished"] and 0 < json.loads(killed_at["state"])["images"] < budget[run.dataset][
        "train"]["kimg"] * 1000

    train(run, bench_root)  # picks up the checkpoint
    assert outputs(bench_root, run) == outputs(reference_root, run)


def test_checkpoint_of_another_config_is_not_resumed(bench_root, capsys):
    run = RunId.parse("t/ring8/mlp-gan/s0")
    ckpt = resume_dir(bench_root, run) / CHECKPOINT
    write_params(bench_root, ring8={"train": {"kimg": 4, "checkpoint_every_kimg": 1}})
    train(run, bench_root)
    finished = ckpt.read_bytes()
    saved = load_checkpoint(ckpt)
    saved["finished"] = False  # as if killed at the end, then the protocol changed
    save_checkpoint(ckpt, saved)
    write_params(bench_root, ring8={"train": {"kimg": 1}})
    train(run, bench_root)
    assert "belongs to another configuration" in capsys.readouterr().err
    assert read_json(run.folder(bench_root) / "train" / "cost.json")["kimg"] == 1.0
    write_params(bench_root, ring8={"train": {"kimg": 4, "checkpoint_every_kimg": 1}})
    train(run, bench_root)  # a finished checkpoint is never resumed: DVC re-ran the stage for a reason
    assert "training t/ring8/mlp-gan/s0 again from scratch" in capsys.readouterr().err
    assert ckpt.read_bytes() == finished == (run.folder(bench_root) / "train" / CHECKPOINT).read_bytes()


EMA_PLUGIN = '''
from models.registry import Recipe, Variant, register
from models.mlp_gan import MLPDiscriminator, MLPGenerator

register(Variant(name="mlp-gan-ema", family="test", paper="test", generator=MLPGenerator,
                 discriminator=MLPDiscriminator, z_dim=2, data_kinds=("points",),
                 recipe=Recipe(lr_g=1e-3, lr_d=1e-3, batch=100, ema_beta=0.9)))
'''


def test_ema_generator_is_what_gets_evaluated(bench_root):
    from bench.protocol import variants

    (bench_root / "ema_plugin.py").write_text(EMA_PLUGIN)
    variants.load(["ema_plugin.py"], bench_root)
    run = RunId.parse("t/ring8/mlp-gan-ema/s0")
    train(run, bench_root)
    saved = load_checkpoint(run.folder(bench_root) / "train" / CHECKPOINT)
    g, _ = evaluated_generator(run, bench_root)
    ema_weight = saved["ema_G"]["module.net.0.weight"]
    torch.testing.assert_close(g.net[0].weight, ema_weight)
    assert not torch.equal(ema_weight, saved["G"]["net.0.weight"])
    assert not g.training


def test_conditional_variant_needs_a_labeled_dataset(bench_root):
    from models.registry import RegistryError

    with pytest.raises(RegistryError, match="no class labels"):
        train(RunId.parse("t/stackedfmnist/sngan-proj/s0"), bench_root)


def test_conditional_generator_is_trained_and_sampled_with_dataset_labels(bench_root):
    run = RunId.parse("t/fmnist32/acgan/s0")
    train(run, bench_root)
    g, resolved = evaluated_generator(run, bench_root)
    config = read_json(run.folder(bench_root) / "train" / "config.json")
    assert config == json.loads(json.dumps(resolved.config)) and resolved.task == "class-conditional"
    assert config["n_classes"] == 10 and config["variant"]["conditional"] is True
    with torch.no_grad():
        images = g(torch.zeros(10, config["variant"]["z_dim"]), torch.arange(10))
    assert not torch.allclose(images[0], images[1])  # the same z, two classes: two images


def test_a_diverging_run_stops_and_is_recorded_as_a_result(bench_root):
    from bench.measurement.evaluate import evaluate
    from bench.protocol import variants

    (bench_root / "unstable.py").write_text(UNSTABLE_PLUGIN)  # lr 1e30
    variants.load(["unstable.py"], bench_root)
    run = RunId.parse("t/ring8/unstable-gan/s0")
    train(run, bench_root)  # no exception: divergence is a result
    folder = run.folder(bench_root)
    saved = load_checkpoint(folder / "train" / CHECKPOINT)
    progress = json.loads(saved["state"])
    assert saved["finished"] and progress["diverged"]["kimg"] == 0.1 and "nan" in progress["diverged"]["reason"]
    assert progress["images"] == 100  # stopped at the step that diverged, not at the 2 kimg budget
    cost = strict_json(folder / "train" / "cost.json")
    assert cost["diverged"] == progress["diverged"] and cost["kimg"] == 0.1
    curve = strict_json(folder / "train" / "curve.json")
    assert curve["points"][-1]["diverged"] == progress["diverged"]["reason"]
    evaluate(run, bench_root)
    record = strict_json(folder / "eval" / "metrics.json")
    assert record["diverged"] == progress["diverged"] and record["metrics"] == {}
    assert "before divergence" in record["spec"]["samples"] and (folder / "eval" / "samples.png").stat().st_size > 0
    assert strict_json(folder / "eval" / "curve.json")["points"][0]["kimg"] == 0.0  # the curve up to there


def test_a_run_that_does_not_diverge_has_no_divergence_record(bench_root):
    run = RunId.parse("t/ring8/mlp-gan/s0")
    train(run, bench_root)
    assert "diverged" not in json.loads(load_checkpoint(run.folder(bench_root) / "train" / CHECKPOINT)["state"])
    assert strict_json(run.folder(bench_root) / "train" / "cost.json")["diverged"] is None


def test_counting_step_flops_leaves_the_global_random_stream_alone(bench_root):
    """StyleGAN2's noise inputs draw from the global torch RNG, which a checkpoint restores; the FLOP count runs
    after that at every start of the process, so drawing there would make a resumed run differ from an
    uninterrupted one."""
    import torch

    from bench.data.datasets import load_prepared

    write_params(bench_root, fmnist32={"train": {"width": 0.03125}})
    run = resolve(RunId.parse("t/fmnist32/stylegan2/s0"), bench_root)
    trainer = task_of(run.task).trainer(run, load_prepared("fmnist32", bench_root), torch.device("cpu"))
    before = torch.get_rng_state()
    assert trainer.step_flops({"images": 0, "step": 0}, 256) > 0
    assert torch.equal(torch.get_rng_state(), before)
