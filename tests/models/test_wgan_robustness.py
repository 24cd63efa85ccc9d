"""WGAN-GP's robustness architectures (models/wgan_robustness.py): shapes, the property that defines each, `+ln-d`,
parameter counts against the reference's layer shapes, and a few steps of training through the real trainer."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.protocol import variants
from models.registry import RegistryError
from models.wgan_robustness import (
    Bottleneck,
    CrippledDCGANGenerator,
    DCGANDiscriminator,
    DCGANGenerator,
    FCGenerator,
    Gate,
    ResnetDiscriminator,
    ResnetGenerator,
    resnet_layers,
)

NAMES = ["wgan-arch-dcgan", "wgan-arch-nobn-g", "wgan-arch-mlp-g", "wgan-arch-no-norm", "wgan-arch-gated",
         "wgan-arch-tanh", "wgan-arch-resnet"]
NORMS = (nn.BatchNorm2d, nn.GroupNorm, nn.BatchNorm1d, nn.LayerNorm)
REF = (3, 64, 64)  # the reference's data; DIM = 64 is width 1


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(name: str, shape=(1, 32, 32), width=0.25):
    v = variants.compose(name)
    torch.manual_seed(0)
    return v, v.generator(shape, v.z_dim, width=width, **v.arch), v.discriminator(shape, width=width, **v.arch)


def kinds(module: nn.Module, *types: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, types)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 64, 64)])
def test_output_shapes_and_image_range(name, shape):
    v, g, d = build(name, shape)
    assert v.z_dim == 128 and v.family == "wgan-gp-robustness" and not v.recipe.g_on_d_fakes
    with torch.no_grad():
        x = g(torch.randn(3, 128))
        assert x.shape == (3, *shape) and torch.isfinite(x).all() and x.abs().max() <= 1.0
        assert d(x).shape == (3,) and d.features(x).shape[0] == 3


def test_the_recipe_is_dcgans_and_the_loss_options_switch_it():
    base = variants.compose("wgan-arch-tanh").recipe
    assert (base.loss, base.lr_g, base.lr_d, base.betas, base.batch, base.n_critic) == (
        "ns", 2e-4, 2e-4, (0.5, 0.999), 64, 1)
    gp = variants.compose("wgan-arch-tanh+wgan-gp+ln-d")
    assert (gp.recipe.loss, gp.recipe.penalty_weight, gp.recipe.n_critic) == ("wgan-gp", 10.0, 5)
    assert variants.compose("wgan-arch-resnet+lsgan").recipe.loss == "lsgan"
    assert variants.compose("wgan-arch-resnet+wgan").recipe.clip == 0.01


# --- what defines each architecture -------------------------------------------------------------------------------


def test_nobn_g_has_no_normalization_and_dim_filters_in_every_layer_of_g():
    _, g, d = build("wgan-arch-nobn-g", width=1.0)
    assert isinstance(g, CrippledDCGANGenerator) and isinstance(d, DCGANDiscriminator) and not kinds(g, *NORMS)
    assert [m.out_channels for m in kinds(g, nn.ConvTranspose2d)] == [64, 64, 1]  # 32x32: two doublings + output
    assert g.net[0].out_features == 64 * 16 and kinds(d, nn.BatchNorm2d)


def test_mlp_g_is_four_relu_layers_of_512_units():
    _, g, d = build("wgan-arch-mlp-g", width=1.0)
    assert isinstance(g, FCGenerator) and isinstance(d, DCGANDiscriminator)
    sizes = [(m.in_features, m.out_features) for m in kinds(g, nn.Linear)]
    assert sizes == [(128, 512), (512, 512), (512, 512), (512, 512), (512, 32 * 32)]
    assert len(kinds(g, nn.ReLU)) == 4 and not kinds(g, nn.Conv2d, nn.ConvTranspose2d, *NORMS)


@pytest.mark.parametrize("name", ["wgan-arch-no-norm", "wgan-arch-no-norm+ln-d"])
def test_no_norm_has_no_normalization_in_g_or_d(name):
    _, g, d = build(name)
    assert not kinds(g, *NORMS) and not kinds(d, *NORMS)
    assert len(kinds(g, nn.ConvTranspose2d)) == 3 and len(kinds(d, nn.Conv2d)) == 3  # the baseline's layers


def test_the_gate_is_sigmoid_of_even_channels_times_tanh_of_odd_ones():
    x = torch.randn(2, 6, 3, 3)
    by_hand = torch.empty(2, 3, 3, 3)
    for i in range(3):
        by_hand[:, i] = 1 / (1 + torch.exp(-x[:, 2 * i])) * (torch.exp(2 * x[:, 2 * i + 1]) - 1) / (
            torch.exp(2 * x[:, 2 * i + 1]) + 1)
    torch.testing.assert_close(Gate()(x), by_hand)


def test_gated_networks_gate_every_hidden_layer_and_have_no_other_nonlinearity():
    _, g, d = build("wgan-arch-gated")
    activations = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)
    assert len(kinds(g, Gate)) == 3 and kinds(g, *activations) == [g.net[-1]]  # G's output tanh, as every G here
    assert len(kinds(d, Gate)) == 3 and not kinds(d, *activations)
    # each gated layer computes twice the channels it passes on: 4DIM -> 2DIM -> DIM at 32x32, DIM = 16
    assert [m.out_channels for m in kinds(g, nn.ConvTranspose2d)] == [64, 32, 1]
    assert [m.out_channels for m in kinds(d, nn.Conv2d)] == [32, 64, 128]
    assert [m.num_features for m in kinds(g, nn.BatchNorm2d)] == [128, 64, 32]


def test_tanh_networks_have_tanh_as_their_only_nonlinearity():
    _, g, d = build("wgan-arch-tanh")
    for net in (g, d):
        assert kinds(net, nn.Tanh) and not kinds(net, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, Gate)
    assert len(kinds(g, nn.Tanh)) == 4 and len(kinds(d, nn.Tanh)) == 3 and kinds(d, nn.BatchNorm2d)


def _residual_path(net: nn.Module) -> int:
    """Weight layers from input to output through the blocks' branches: the reference's layer count."""
    layers = net.net if isinstance(net, ResnetGenerator) else net.trunk
    blocks = sum(isinstance(m, Bottleneck) for m in layers)
    return 3 * blocks + sum(isinstance(m, nn.Linear | nn.Conv2d) for m in layers) + hasattr(net, "head")


def test_resnet_depth_is_101_layers_at_the_reference_setting_and_20_as_registered():
    g, d = ResnetGenerator(REF, 128, width=0.125), ResnetDiscriminator(REF, width=0.125)
    assert resnet_layers(REF, 6) == 101 and _residual_path(g) == _residual_path(d) == 101
    v, g, d = build("wgan-arch-resnet")
    assert v.arch == {"blocks": 1} and resnet_layers((1, 32, 32), 1) == 20
    assert _residual_path(g) == _residual_path(d) == 20
    assert [len(m.branch) for m in kinds(g, Bottleneck)] == [7] * 6  # 3 convs, 3 ReLUs, a norm


# --- +ln-d --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in NAMES if n != "wgan-arch-no-norm"])
def test_ln_d_puts_layer_norm_in_place_of_every_batch_norm_of_d_and_leaves_g_alone(name):
    _, g0, d0 = build(name)
    _, g, d = build(name + "+ln-d")
    batch = [m.num_features for m in kinds(d0, nn.BatchNorm2d)]
    assert batch and not kinds(d, nn.BatchNorm2d)
    assert [(m.num_groups, m.num_channels) for m in kinds(d, nn.GroupNorm)] == [(1, c) for c in batch]
    assert n_params(d) == n_params(d0) and [type(m) for m in g.modules()] == [type(m) for m in g0.modules()]


def test_group_norm_of_one_group_is_the_references_layer_norm_over_c_h_w():
    """tflib Layernorm(name, [1, 2, 3], x): moments over (C, H, W) per sample, then a per-channel scale and offset."""
    _, _, d = build("wgan-arch-dcgan+ln-d")
    norm = kinds(d, nn.GroupNorm)[0]
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(4, norm.num_channels, 5, 5) * 3 + 1
    mean, var = x.mean(dim=(1, 2, 3), keepdim=True), x.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    by_hand = (x - mean) / torch.sqrt(var + 1e-5) * norm.weight[:, None, None] + norm.bias[:, None, None]
    torch.testing.assert_close(norm(x), by_hand)
    torch.testing.assert_close(norm(x), F.layer_norm(x, x.shape[1:]) * norm.weight[:, None, None]
                               + norm.bias[:, None, None])


def test_ln_d_is_refused_for_a_variant_whose_networks_do_not_take_it():
    with pytest.raises(RegistryError, match="takes no d_norm"):
        variants.compose("dcgan+ln-d")
    assert variants.option("ln-d").kind == "architecture"
    with pytest.raises(ValueError, match="d_norm must be one of"):
        DCGANDiscriminator((1, 32, 32), d_norm="instance")


# --- parameter counts at the reference's 64x64 settings ---------------------------------------------------------------
# From the layer definitions of igul222/improved_wgan_training@fa66c57 gan_64x64.py (DIM = 64, z 128, 3x64x64): every
# Linear, Conv2D and Deconv2D has a bias unless `biases=False`; a Batchnorm / Layernorm has a scale and an offset per
# channel (its moving statistics are not trainable); kernels are 5x5 in the DCGAN functions.
DCGAN_G = ((128 * 16 * 512 + 16 * 512) + 2 * 512          # Generator.Input, BN1
           + (25 * 512 * 256 + 256) + 2 * 256             # Generator.2, BN2
           + (25 * 256 * 128 + 128) + 2 * 128             # Generator.3, BN3
           + (25 * 128 * 64 + 64) + 2 * 64                # Generator.4, BN4
           + (25 * 64 * 3 + 3))                           # Generator.5
DCGAN_D = ((25 * 3 * 64 + 64)                             # Discriminator.1
           + (25 * 64 * 128 + 128) + 2 * 128              # Discriminator.2, BN2
           + (25 * 128 * 256 + 256) + 2 * 256             # .3, BN3
           + (25 * 256 * 512 + 512) + 2 * 512             # .4, BN4
           + (16 * 512 + 1))                              # Discriminator.Output
CRIPPLED_G = (128 * 16 * 64 + 16 * 64) + 3 * (25 * 64 * 64 + 64) + (25 * 64 * 3 + 3)
FC_G = (128 * 512 + 512) + 3 * (512 * 512 + 512) + (512 * 3 * 64 * 64 + 3 * 64 * 64)
# Multiplicative*: every hidden layer's outputs (and their BN) doubled, its consumer reads the gated half.
GATED_G = ((128 * 16 * 1024 + 16 * 1024) + 2 * 1024 + (25 * 512 * 512 + 512) + 2 * 512
           + (25 * 256 * 256 + 256) + 2 * 256 + (25 * 128 * 128 + 128) + 2 * 128 + (25 * 64 * 3 + 3))
GATED_D = ((25 * 3 * 128 + 128) + (25 * 64 * 256 + 256) + 2 * 256 + (25 * 128 * 512 + 512) + 2 * 512
           + (25 * 256 * 1024 + 1024) + 2 * 1024 + (16 * 512 + 1))


def bottleneck(c_in: int, c_out: int, resample: str | None = None) -> int:
    """BottleneckResidualBlock: Conv1 (1x1, C_in -> C_in/2), Conv1B (3x3, -> C_out/2), Conv2 (1x1, -> C_out, no
    bias), BN; shortcut none (identity) or a 1x1 conv with biases, to 4 C_out for 'up' (SubpixelConv2D)."""
    shortcut = 0 if c_in == c_out and resample is None else (4 if resample == "up" else 1) * c_out * (c_in + 1)
    return (shortcut + (c_in * c_in // 2 + c_in // 2) + (9 * c_in // 2 * c_out // 2 + c_out // 2)
            + c_out // 2 * c_out + 2 * c_out)


RESNET_G = ((128 * 16 * 512 + 16 * 512)                   # Generator.Input
            + 6 * bottleneck(512, 512) + bottleneck(512, 256, "up") + 6 * bottleneck(256, 256)
            + bottleneck(256, 128, "up") + 6 * bottleneck(128, 128) + bottleneck(128, 64, "up")
            + 6 * bottleneck(64, 64) + bottleneck(64, 32, "up") + 5 * bottleneck(32, 32)
            + (32 * 3 + 3))                               # Generator.Out, 1x1
RESNET_D = ((3 * 32 + 32)                                 # Discriminator.In, 1x1
            + 5 * bottleneck(32, 32) + bottleneck(32, 64, "down") + 6 * bottleneck(64, 64)
            + bottleneck(64, 128, "down") + 6 * bottleneck(128, 128) + bottleneck(128, 256, "down")
            + 6 * bottleneck(256, 256) + bottleneck(256, 512, "down") + 6 * bottleneck(512, 512)
            + (16 * 512 + 1))                             # Discriminator.Output


@pytest.mark.parametrize(("g", "d", "expected"), [
    (lambda: DCGANGenerator(REF, 128), lambda: DCGANDiscriminator(REF), (DCGAN_G, DCGAN_D)),
    (lambda: CrippledDCGANGenerator(REF, 128), None, (CRIPPLED_G, None)),
    (lambda: FCGenerator(REF, 128), None, (FC_G, None)),
    (lambda: DCGANGenerator(REF, 128, bn=False), lambda: DCGANDiscriminator(REF, bn=False),
     (DCGAN_G - 2 * (512 + 256 + 128 + 64), DCGAN_D - 2 * (128 + 256 + 512))),
    (lambda: DCGANGenerator(REF, 128, nonlinearity="gated"), lambda: DCGANDiscriminator(REF, nonlinearity="gated"),
     (GATED_G, GATED_D)),
    (lambda: DCGANGenerator(REF, 128, nonlinearity="tanh"), lambda: DCGANDiscriminator(REF, nonlinearity="tanh"),
     (DCGAN_G, DCGAN_D)),
    (lambda: ResnetGenerator(REF, 128), lambda: ResnetDiscriminator(REF), (RESNET_G, RESNET_D)),
], ids=["dcgan", "nobn-g", "mlp-g", "no-norm", "gated", "tanh", "resnet"])
def test_parameter_counts_at_the_reference_setting(g, d, expected):
    assert n_params(g()) == expected[0]
    if d is not None:
        assert n_params(d()) == expected[1]
    assert (DCGAN_G, DCGAN_D, RESNET_G, RESNET_D) == (5_364_739, 4_316_545, 9_189_587, 7_618_801)


def test_dcgan_layers_start_uniform_with_std_0_02_and_the_others_with_tflibs_default():
    g = DCGANGenerator(REF, 128)
    w = g.net[0].weight
    assert w.abs().max() <= 0.02 * math.sqrt(3) and w.std().item() == pytest.approx(0.02, rel=0.02)
    deconv = CrippledDCGANGenerator(REF, 128).net[3].weight  # 64 -> 64, 5x5: sqrt(4 / (64 * 25 / 4 + 64 * 25))
    assert deconv.std().item() == pytest.approx(math.sqrt(4 / (400 + 1600)), rel=0.03)


# --- a few steps through the trainer ------------------------------------------------------------------------------


def test_tanh_with_wgan_gp_and_layer_norm_trains_a_few_steps(bench_root):
    from bench.protocol.io import read_json
    from bench.protocol.runs import RunId
    from bench.training.loop import train
    from tests.conftest import write_params

    write_params(bench_root, fmnist32={"train": {"kimg": 0.128, "checkpoint_every_kimg": 0.128,
                                                 "curve_every_kimg": 0.128, "width": 0.125}})
    run = RunId.parse("t/fmnist32/wgan-arch-tanh+wgan-gp+ln-d/s0")
    train(run, bench_root)
    last = read_json(run.folder(bench_root) / "train" / "curve.json")["points"][-1]
    assert {"loss_d", "loss_g", "penalty"} <= set(last) and all(math.isfinite(v) for v in last.values())
    assert read_json(run.folder(bench_root) / "train" / "cost.json")["steps"] >= 1  # 5 critic steps and a G step
