"""ADA's p update (bench/training/ada_control.py) against the paper's formula by hand, our clamp and speed policy,
and `+ada` / `+ada-fixed-p` wired into every D input and into the run's curve."""

import math

import pytest
import torch

from bench.protocol import variants
from bench.training.ada_control import AdaController, effective_ada_kimg, p_adjustment
from models.registry import Recipe, RegistryError
from tests.conftest import RecordingD


class Pipe:
    def __init__(self, p: float = 0.0) -> None:
        self.p = torch.tensor(p)


def test_p_adjustment_is_the_papers_formula_by_hand():
    # batch 64, 4 D steps per update, ada_kimg 500 (the reference's defaults): 256 / 500,000
    assert p_adjustment(0.9, 0.6, 256, 500.0) == pytest.approx(0.000512)
    assert p_adjustment(0.1, 0.6, 256, 500.0) == pytest.approx(-0.000512)
    assert p_adjustment(0.6, 0.6, 256, 500.0) == 0.0


def test_speed_is_the_reference_share_of_the_budget_with_a_floor_of_ten_updates():
    # 2,000 kimg standard budget: 500 x 2,000 / 25,000 = 40 kimg for p 0 -> 1
    assert effective_ada_kimg(500.0, 2_000_000, 64, 4) == pytest.approx(40.0)
    # 10 kimg quick budget: the share (0.2 kimg) is under one update of 256 images; the floor is 10 updates
    assert effective_ada_kimg(500.0, 10_000, 64, 4) == pytest.approx(2.56)


def test_controller_moves_p_every_interval_and_clamps_it_to_zero_and_one():
    recipe = Recipe(ada_target=0.6, ada_kimg=500.0, ada_interval=4, batch=64)
    pipe = Pipe()
    control = AdaController(recipe, pipe, budget_images=10_000)  # speed 2.56 kimg: 0.1 per update
    for _ in range(3):
        assert control.after_d_step(1.0) == {"ada_p": 0.0}  # no update before the 4th D step, no r_t yet
    logs = control.after_d_step(1.0)
    assert logs["ada_p"] == pytest.approx(0.1) and logs["ada_rt"] == 1.0
    for _ in range(4 * 20):  # D keeps overfitting: p saturates at 1 instead of growing past it
        control.after_d_step(0.9)
    assert control.p == 1.0
    for _ in range(4):  # one update of underfitting brings it down at once (no hysteresis above 1)
        logs = control.after_d_step(-0.2)
    assert logs["ada_p"] == pytest.approx(0.9) and logs["ada_rt"] == pytest.approx(-0.2)
    for _ in range(4 * 20):
        control.after_d_step(0.0)
    assert control.p == 0.0  # and never below 0, as the reference


def test_r_t_is_the_mean_over_the_interval_and_survives_a_resume():
    recipe = Recipe(ada_target=0.6, ada_kimg=500.0, ada_interval=4, batch=64)
    first, second = AdaController(recipe, Pipe(), 10_000), AdaController(recipe, Pipe(), 10_000)
    for sign in (1.0, 0.5):
        first.after_d_step(sign)
    second.load_state_dict(first.state_dict())
    for control in (first, second):
        for sign in (0.5, 0.0):
            logs = control.after_d_step(sign)
    assert logs["ada_rt"] == pytest.approx((1.0 + 0.5 + 0.5 + 0.0) / 4)  # 0.5 < 0.6: p stays at its floor 0
    assert first.state_dict() == second.state_dict() and first.p == second.p == 0.0


def test_a_fixed_p_never_moves():
    recipe = variants.compose("dcgan+ada-fixed-p").recipe
    pipe = Pipe(recipe.ada_p)
    control = AdaController(recipe, pipe, 10_000)
    for _ in range(40):
        logs = control.after_d_step(1.0)
    assert logs == {"ada_p": pytest.approx(0.2)}


def test_ada_reaches_every_d_input_and_logs_r_t_from_the_real_scores():
    from bench.training.ada import AdaptiveAugment
    from bench.training.augment import Augmented
    from bench.training.objective import Objective, build_discriminator

    recording = RecordingD()
    seen = recording.seen
    recipe = variants.compose("dcgan+ada+r1").recipe
    d = build_discriminator(recording, recipe)
    assert isinstance(d, Augmented) and isinstance(d.augment, AdaptiveAugment) and float(d.augment.p) == 0.0
    d.augment.p.fill_(1.0)
    objective = Objective(recipe, torch.nn.Identity(), d, 10_000, torch.Generator().manual_seed(0))
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    torch.manual_seed(0)
    _, logs = objective.d_loss(d, x, x.flip(0), 0)
    assert len(seen) == 2 and not torch.equal(seen[0], x)  # the reals D scored were augmented
    scores = (seen[0].flatten(1) @ d.base.w).sign().mean().item()
    assert logs["real_sign"] == pytest.approx(scores)
    objective.after_d_step(d, logs)
    assert "real_sign" not in logs and logs["ada_p"] == 1.0 and "ada_rt" not in logs
    assert "augment.p" in d.state_dict()  # p travels in D's checkpoint


@pytest.mark.parametrize(("name", "message"), [
    ("mlp-gan+ada", "ADA augments images; this variant trains on points: drop \\+ada"),
    ("dcgan+ada+diffaug", "keep one"),
])
def test_ada_is_refused_where_it_cannot_apply(name, message):
    with pytest.raises(RegistryError, match=message):
        variants.check(variants.compose(name))


def test_recipe_refuses_an_adaptive_ada_without_a_speed_and_a_p_outside_zero_one():
    with pytest.raises(ValueError, match="needs ada_kimg > 0"):
        Recipe(ada_target=0.6)
    with pytest.raises(ValueError, match="ada_p must be in"):
        Recipe(ada_p=1.5)
    assert math.isclose(Recipe(ada_p=0.3).ada_p, 0.3)


def test_a_run_with_ada_records_p_and_r_t_in_its_curve(bench_root):
    from bench.protocol.io import read_json
    from bench.protocol.runs import RunId
    from bench.training.loop import train
    from tests.conftest import write_params

    write_params(bench_root, fmnist32={"train": {"kimg": 0.768, "checkpoint_every_kimg": 0.768,
                                                 "curve_every_kimg": 0.256, "width": 0.0625}})
    run = RunId.parse("t/fmnist32/dcgan+ada/s0")
    train(run, bench_root)
    points = read_json(run.folder(bench_root) / "train" / "curve.json")["points"][1:]
    assert all(0.0 <= p["ada_p"] <= 1.0 and -1.0 <= p["ada_rt"] <= 1.0 for p in points)
    # 12 D steps of 64 images, an update every 4 at 0.1 (the 10-update floor): p is a multiple of 0.1, moved
    # up while r_t > 0.6 and down while below
    assert all(abs(p["ada_p"] * 10 - round(p["ada_p"] * 10)) < 1e-5 for p in points)
    assert points[-1]["ada_p"] > 0.0
