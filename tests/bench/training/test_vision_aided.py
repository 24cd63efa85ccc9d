"""`+vision-aided`: the vision-aided D's loss against BCE computed by torch, its start, its place beside D (the
variant's D and its penalties untouched) and a few-step run that records the pretrained network."""

import math

import pytest
import torch
import torch.nn.functional as F

from bench.protocol import variants
from bench.training.objective import Objective, build_discriminator, vision_aided_d_loss, vision_aided_g_loss
from models.dcgan import DCGANDiscriminator, DCGANGenerator


def test_the_losses_are_bce_to_a_real_target_of_0_8_summed_over_levels_and_averaged_over_images():
    torch.manual_seed(0)
    real, fake = torch.randn(5, 3) * 3, torch.randn(5, 3) * 3
    bce = F.binary_cross_entropy_with_logits
    expected_d = sum(bce(real[:, k], torch.full((5,), 0.8)) + bce(fake[:, k], torch.zeros(5)) for k in range(3))
    expected_g = sum(bce(fake[:, k], torch.full((5,), 0.8)) for k in range(3))
    torch.testing.assert_close(vision_aided_d_loss(real, fake), expected_d)
    torch.testing.assert_close(vision_aided_g_loss(fake), expected_g)


def test_gs_loss_is_smallest_at_logit_ln_4_not_at_infinity():
    """With the real target 0.8, G's BCE 0.8 softplus(-l) + 0.2 softplus(l) has zero slope at sigmoid(l) = 0.8."""
    logit = torch.tensor([[math.log(4.0)] * 3], requires_grad=True)
    vision_aided_g_loss(logit).backward()
    assert logit.grad.abs().max() < 1e-6
    assert vision_aided_g_loss(torch.full((1, 3), 10.0)) > vision_aided_g_loss(logit.detach())


def _objective(name: str, budget: int):
    variant = variants.compose(name)
    torch.manual_seed(0)
    g = DCGANGenerator((1, 32, 32), 100, width=0.125)
    d = build_discriminator(variant.discriminator((1, 32, 32), width=0.125), variant.recipe)
    return Objective(variant.recipe, g, d, budget, torch.Generator().manual_seed(0)), g, d


def test_before_its_start_the_vision_aided_d_adds_nothing_and_after_it_adds_its_loss_times_the_weight():
    objective, g, d = _objective("dcgan+vision-aided-64", budget=1000)
    assert objective.recipe.vision_aided_start == 0.05 and objective.vision is d.vision_aided
    real, fake = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    before, logs = objective.d_loss(d, real, fake, images=49)
    assert "vision_d" not in logs
    base = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()  # the variant's own (non-saturating) D loss
    torch.testing.assert_close(before, base)
    torch.manual_seed(7)
    after, logs = objective.d_loss(d, real, fake, images=50)
    torch.manual_seed(7)  # the head's DiffAugment draws, reals then fakes, as the objective takes them
    by_hand = vision_aided_d_loss(*(d.vision_aided(objective.vision_augment(x)) for x in (real, fake)))
    torch.testing.assert_close(torch.tensor(logs["vision_d"]), by_hand.detach())
    torch.testing.assert_close(after, base + objective.recipe.vision_aided * by_hand)
    z = torch.randn(4, 100)
    assert objective.vision_on(50) and not objective.vision_on(49) and objective.vision_on(0, budget=0)
    assert objective.g_loss(g, d, None, z, None, None, images=50).item() > objective.g_loss(
        g, d, None, z, None, None, images=0).item() - 1e-6  # the added BCE terms are positive


def test_r1_and_the_variants_d_see_only_the_variants_d():
    objective, _, d = _objective("dcgan+r1+vision-aided-64", budget=10)
    real = torch.rand(4, 1, 32, 32) * 2 - 1
    _, logs = objective.d_loss(d, real, real.clone(), images=10)
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x)
    torch.testing.assert_close(torch.tensor(logs["r1"]), grad.square().sum(dim=(1, 2, 3)).mean())
    assert {n.split(".")[0] for n, _ in d.named_parameters()} >= {"trunk", "head", "vision_aided"}


def test_the_option_wraps_whatever_d_the_variant_ends_with_and_its_files_become_the_runs_dependencies():
    for name in ("dcgan+vision-aided-64+projected-64", "dcgan+projected-64+vision-aided-64"):
        variant = variants.compose(name)
        assert variants.made_class(variant.discriminator).__name__ == "ProjectedDiscriminator"
        files = {f.rsplit("/", 1)[-1] for f in variant.code_files()}
        assert {"vision_aided.py", "projected_gan.py", "dcgan.py"} <= files
        assert variant.describe()["discriminator"] == (
            "models.vision_aided.with_vision_aided(backbone='efficientnet-lite0', base=models.projected_gan."
            "projected_discriminator_64, input_side=64)")
    labelled = variants.compose("dcgan+hinge+vision-aided-64")  # every page shows a run's paper line
    assert labelled.paper.startswith("Radford") and "; +hinge: " in labelled.paper
    assert "; +vision-aided-64: Kumari et al. 2022" in labelled.paper and "SUBSTITUTE" in labelled.paper
    d = variants.compose("dcgan+vision-aided-64").discriminator((1, 32, 32), width=0.125)
    assert isinstance(d, DCGANDiscriminator) and d.vision_aided.backbone.input_side == 64


def test_variants_of_points_and_a_weight_without_the_head_are_refused():
    with pytest.raises(Exception, match="drop \\+vision-aided"):
        variants.compose("mlp-gan+vision-aided")
    with pytest.raises(Exception, match="take the \\+vision-aided option"):
        variants.check(variants.with_recipe(variants.compose("dcgan"), "x", {"vision_aided": 1.0}))


def test_a_few_steps_train_the_head_with_d_record_the_network_and_count_its_flops_from_its_start(bench_root):
    from bench.protocol.io import read_json
    from bench.protocol.resolve import resolve
    from bench.protocol.runs import RunId
    from bench.training.loop import train
    from bench.training.tasks import task_of
    from tests.bench.training.test_flops import _counted_steps
    from tests.conftest import write_params

    write_params(bench_root, fmnist32={"train": {"kimg": 0.128, "checkpoint_every_kimg": 0.128,
                                                 "curve_every_kimg": 0.128, "width": 0.0625}})
    run = RunId.parse("t/fmnist32/dcgan+vision-aided-64/s0")
    train(run, bench_root)
    cost = read_json(run.folder(bench_root) / "train" / "cost.json")
    assert cost["pretrained_networks"] == ["efficientnet-lite0"] and cost["steps"] == 2
    points = read_json(run.folder(bench_root) / "train" / "curve.json")["points"]
    assert math.isfinite(points[-1]["vision_d"]) and math.isfinite(points[-1]["loss_g"])

    resolved = resolve(run, bench_root)
    from bench.data.datasets import load_prepared

    trainer = task_of(resolved.task).trainer(resolved, load_prepared("fmnist32", bench_root), torch.device("cpu"))
    trained = {id(p) for group in trainer.opt_d.param_groups for p in group["params"]}
    assert {id(p) for p in trainer.d.vision_aided.parameters()} <= trained
    pairs = _counted_steps(trainer, 20 * trainer.images_per_step, 3)  # joins after 5% = the first step's 64 images
    assert [p for p, _ in pairs] == [e for _, e in pairs]
    assert pairs[1][1] > 2 * pairs[0][1]  # the backbone's passes cost more than the 1/16-width DCGAN


def test_a_run_against_the_inception_metrics_network_records_it_for_the_marks(bench_root):
    from bench.data.datasets import load_prepared
    from bench.measurement.metrics.info import trained_against
    from bench.protocol.resolve import resolve
    from bench.protocol.runs import RunId
    from bench.training.tasks import task_of

    run = resolve(RunId.parse("t/fmnist32/dcgan+vision-aided-inception/s0"), bench_root)
    trainer = task_of(run.task).trainer(run, load_prepared("fmnist32", bench_root), torch.device("cpu"))
    networks = trainer.pretrained_networks()
    assert networks == ["tf-inception-v3"]
    assert trained_against("inception", networks) == "tf-inception-v3" and trained_against("domain", networks) is None
