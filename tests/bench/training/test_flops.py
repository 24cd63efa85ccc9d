"""FLOP counting: the counter against an analytic layer-by-layer count, and the predicted FLOPs of each step
against the FLOPs the real step executes (lazy phases at their real steps, growing at each resolution)."""

import math

import pytest
import torch
import torch.nn as nn

from bench.data.datasets import load_prepared
from bench.protocol.resolve import resolve
from bench.protocol.runs import RunId
from bench.training.budget import flops_over, horizon_for_flops
from bench.training.flops import count_flops
from bench.training.tasks import task_of
from tests.conftest import write_params


def _trainer(root, run_id):
    run = resolve(RunId.parse(run_id), root)
    return task_of(run.task).trainer(run, load_prepared(run.run.dataset, root), torch.device("cpu"))


def _layers(module: nn.Module, x: torch.Tensor) -> list[tuple[nn.Module, float]]:
    """Each Linear / conv layer of `module` in call order with the FLOPs of its forward pass on `x`, by the
    textbook formula: 2 x batch x (multiply-adds per sample); a transposed conv does Cin x Cout x k^2
    multiply-adds per *input* position, a conv per *output* position."""
    found = []

    def hook(layer, inputs, output):
        batch = inputs[0].shape[0]
        if isinstance(layer, nn.Linear):
            macs = layer.in_features * layer.out_features
        else:
            positions = inputs[0].shape[2:] if isinstance(layer, nn.ConvTranspose2d) else output.shape[2:]
            macs = layer.in_channels * layer.out_channels * math.prod(layer.kernel_size) * math.prod(positions)
        found.append((layer, 2.0 * batch * macs))

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        module(x)
    for h in handles:
        h.remove()
    return found


def _analytic_steps(g: nn.Module, d: nn.Module, z: torch.Tensor, real: torch.Tensor,
                    g_on_d_fakes: bool) -> tuple[float, float]:
    """A D step (G forward for the fakes; D forward and backward on reals and fakes: weight gradients of every
    layer, input gradients of all but the first) and a G step (G forward, unless it takes the D step's fakes,
    and backward with input gradients of all but its first layer; D forward and input gradients only: its
    weights are frozen)."""
    g_layers, d_layers = _layers(g, z), _layers(d, real)
    forward_g, forward_d = sum(f for _, f in g_layers), sum(f for _, f in d_layers)
    d_backward = forward_d + (forward_d - d_layers[0][1])
    d_step = forward_g + 2 * (forward_d + d_backward)
    g_step = (0 if g_on_d_fakes else forward_g) + forward_d + forward_d + forward_g + (forward_g - g_layers[0][1])
    return d_step, g_step


@pytest.mark.parametrize("run_id", ["t/ring8/mlp-gan/s0", "t/fmnist32/dcgan/s0", "t/fmnist32/dcgan+ncritic5/s0"])
def test_phase_flops_equal_an_analytic_layer_by_layer_count(bench_root, run_id):
    trainer = _trainer(bench_root, run_id)
    batch = trainer.batch
    z = torch.zeros(batch, trainer.z_dim)
    d_step, g_step = _analytic_steps(trainer.g, trainer.d, z, trainer.x[:batch], trainer.recipe.g_on_d_fakes)
    parts = trainer.phase_flops()
    assert parts["d"] == d_step and parts["g"] == g_step
    assert set(parts) == {"d", "g"}  # no lazy phases in these recipes


def _counted_steps(trainer, budget: int, steps: int) -> list[tuple[int, int]]:
    """(predicted, executed) FLOPs of the first `steps` steps of a run with an image `budget`."""
    progress = {"images": 0, "step": 0}
    trainer.begin(progress, budget)
    pairs = []
    for _ in range(steps):
        predicted = trainer.step_flops(dict(progress), budget)
        executed = count_flops(lambda: trainer.step(progress, budget))
        pairs.append((predicted, executed))
    return pairs


def test_lazy_r1_and_path_length_steps_are_counted_at_the_steps_they_run(bench_root):
    write_params(bench_root, fmnist32={"train": {"width": 0.03125}})
    trainer = _trainer(bench_root, "t/fmnist32/stylegan2/s0")
    recipe = trainer.recipe
    assert (recipe.reg_every, recipe.pl_every) == (16, 4)
    pairs = _counted_steps(trainer, 10 * trainer.images_per_step, 6)
    assert [p for p, _ in pairs] == [e for _, e in pairs]
    parts = trainer.phase_flops()
    plain = parts["d"] + parts["g"]
    assert pairs[0][1] == plain + parts["d_reg"] + parts["g_reg"]  # step 0: R1 (D step 0) and path length
    assert [e for _, e in pairs[1:]] == [plain, plain, plain, plain + parts["g_reg"], plain]  # G step 4


def test_a_growing_run_is_counted_at_each_resolution_it_trains_at(bench_root):
    trainer = _trainer(bench_root, "t/fmnist32/progan/s0")
    segments = 2 * trainer.g.max_lod + 1  # a stable and a fade-in segment per resolution, the first stable only
    steps = 2 * segments  # two steps per segment: the second of a fade-in runs mid-fade
    pairs = _counted_steps(trainer, steps * trainer.images_per_step, steps)
    assert [p for p, _ in pairs] == [e for _, e in pairs]
    executed = [e for _, e in pairs]
    assert len(set(executed)) == segments  # every stable and fade-in segment has its own cost
    stable = [executed[2 * k] for k in range(0, segments, 2)]  # first step of each stable segment
    assert stable == sorted(stable) and len(set(stable)) == len(stable)  # 4x4 < 8x8 < 16x16 < 32x32
    assert executed[-1] > 20 * executed[0]  # 32x32 against 4x4


def test_a_flop_budget_becomes_the_longest_schedule_that_fits(bench_root):
    trainer = _trainer(bench_root, "t/fmnist32/progan/s0")
    per_step = trainer.images_per_step
    budget = flops_over(trainer, 9) + 1
    horizon = horizon_for_flops(trainer, budget)
    assert horizon == 9 * per_step
    assert flops_over(trainer, 10) > budget
    assert horizon_for_flops(trainer, flops_over(trainer, 9)) == 9 * per_step  # exactly spent: still fits


def test_flops_per_image_amortise_the_lazy_steps_at_their_frequency(bench_root):
    from bench.protocol.resolve import Protocol
    from bench.training.budget import flops_per_image

    write_params(bench_root, fmnist32={"train": {"width": 0.03125}})
    protocol = Protocol.load(bench_root)
    trainer = _trainer(bench_root, "t/fmnist32/stylegan2/s0")
    parts, recipe = trainer.phase_flops(), trainer.recipe
    per_step = parts["d"] + parts["d_reg"] / 16 + parts["g"] + parts["g_reg"] / 4
    assert flops_per_image(protocol.planning_run("stylegan2", "fmnist32")) == pytest.approx(per_step / recipe.batch)
    mlp = _trainer(bench_root, "t/ring8/mlp-gan/s0").phase_flops()
    assert flops_per_image(protocol.planning_run("mlp-gan", "ring8")) == pytest.approx((mlp["d"] + mlp["g"]) / 100)


@pytest.mark.parametrize("run_id", ["t/fmnist32/dcgan/s0", "t/fmnist32/dcgan+ncritic5/s0"])
def test_a_g_step_on_the_d_steps_fakes_is_predicted_as_executed(bench_root, run_id):
    write_params(bench_root, fmnist32={"train": {"width": 0.0625}})
    trainer = _trainer(bench_root, run_id)
    assert trainer.recipe.g_on_d_fakes
    pairs = _counted_steps(trainer, 4 * trainer.images_per_step, 2)
    assert [p for p, _ in pairs] == [e for _, e in pairs]
