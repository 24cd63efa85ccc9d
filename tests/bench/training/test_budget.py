"""Budget units: a run stops when its budget (kimg, gflop or device_seconds) is spent, records what it spent,
and a run killed mid-way resumes against the same budget to the uninterrupted run's bytes."""

import json

import pytest
import torch

from bench.data.datasets import load_prepared
from bench.protocol.errors import ConfigError
from bench.protocol.io import read_json
from bench.protocol.resolve import resolve
from bench.protocol.runs import RunId
from bench.training.budget import flops_over
from bench.training.checkpoint import CHECKPOINT, load_checkpoint
from bench.training.loop import train
from bench.training.tasks import task_of
from tests.conftest import kill_at_first_checkpoint, second_root, write_params


def _fresh_trainer(root, run):
    resolved = resolve(run, root)
    return task_of(resolved.task).trainer(resolved, load_prepared(run.dataset, root), torch.device("cpu"))


def test_a_flop_budget_trains_the_longest_schedule_it_pays_for(bench_root):
    run = RunId.parse("t/fmnist32/progan/s0")
    write_params(bench_root)
    per_step_model = _fresh_trainer(bench_root, run)
    amount = (flops_over(per_step_model, 6) + flops_over(per_step_model, 7)) / 2 / 1e9  # between 6 and 7 steps
    write_params(bench_root, fmnist32={"train": {"budget_unit": "gflop", "gflop": amount, "kimg": 100}})
    train(run, bench_root)
    folder = run.folder(bench_root) / "train"
    cost = read_json(folder / "cost.json")
    assert cost["steps"] == 6 and cost["kimg"] == 6 * per_step_model.images_per_step / 1000  # not the kimg of 100
    assert cost["flops_total"] == flops_over(per_step_model, 6)
    assert cost["budget"] == {"unit": "gflop", "amount": amount, "spent": cost["flops_total"] / 1e9,
                              "horizon_kimg": cost["kimg"], "reproducible": True}
    points = read_json(folder / "curve.json")["points"]
    assert points[0]["gflop"] == 0 and points[-1]["gflop"] == cost["flops_total"] / 1e9
    assert [p["gflop"] for p in points] == sorted(p["gflop"] for p in points)
    saved = json.loads(load_checkpoint(folder / CHECKPOINT)["state"])
    # the schedule is laid out over the 6 steps, so the last one fades in the full size (with a horizon of 100 kimg
    # it would still be at 4x4)
    assert saved["horizon"] == 6 * per_step_model.images_per_step and saved["lod"] < 1


def test_a_wall_clock_budget_stops_at_the_first_step_after_it_and_says_it_is_not_reproducible(bench_root):
    run = RunId.parse("t/ring8/mlp-gan/s0")
    write_params(bench_root, ring8={"train": {"budget_unit": "device_seconds", "device_seconds": 1.5, "kimg": 0.1}})
    train(run, bench_root)
    cost = read_json(run.folder(bench_root) / "train" / "cost.json")
    assert cost["budget"]["unit"] == "device_seconds" and cost["budget"]["reproducible"] is False
    assert 1.5 <= cost["budget"]["spent"] == cost["train_s"] < min(30, cost["wall_s"])
    assert cost["kimg"] > 0.1  # past the one-step kimg horizon its schedules use: the clock decides


def test_a_budget_unit_without_its_amount_is_refused_before_training(bench_root):
    write_params(bench_root, ring8={"train": {"budget_unit": "gflop"}})
    with pytest.raises(ConfigError, match="budget_unit is 'gflop' but no `gflop:` amount is set"):
        resolve(RunId.parse("t/ring8/mlp-gan/s0"), bench_root)


def test_sigkill_under_a_flop_budget_resumes_to_the_uninterrupted_bytes(bench_root, tmp_path_factory):
    run = RunId.parse("t/ring8/mlp-gan+r1+lazy/s0")  # lazy R1: the steps do not all cost the same
    write_params(bench_root)
    amount = (flops_over(_fresh_trainer(bench_root, run), 120) + 1) / 1e9  # 120 steps of 100 images
    settings = {"ring8": {"train": {"budget_unit": "gflop", "gflop": amount, "kimg": 1, "checkpoint_every_kimg": 1,
                                    "curve_every_kimg": 4}}}
    write_params(bench_root, **settings)
    reference_root = second_root(bench_root, tmp_path_factory, **settings)
    train(run, reference_root)
    expected = read_json(run.folder(reference_root) / "train" / "cost.json")
    assert expected["budget"]["spent"] <= amount and expected["kimg"] == 12  # the budget, not kimg, set the length

    assert not kill_at_first_checkpoint(bench_root, run)["finished"]
    train(run, bench_root)
    folder, reference = run.folder(bench_root) / "train", run.folder(reference_root) / "train"
    for name in (CHECKPOINT, "curve.json", "curve_samples.npz"):
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
    resumed = read_json(folder / "cost.json")
    assert resumed["flops_total"] == expected["flops_total"] and resumed["budget"] == expected["budget"]
