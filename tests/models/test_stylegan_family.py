"""ProGAN / StyleGAN / StyleGAN2 layers against their published definitions."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.protocol import variants
from bench.training.ema import EmaDecay
from bench.training.objective import Objective
from bench.training.regularizers import lazy_adam, path_length_penalty
from models.growing import blend_reals, level_and_alpha, lod_at
from models.progan import ProGANDiscriminator, ProGANGenerator
from models.style_layers import AdaIN, EqualConv2d, EqualLinear, MappingNetwork, ModulatedConv2d, mix_styles, truncate
from models.stylegan import StyleGANGenerator
from models.stylegan2 import STYLEGAN2_ABLATION, StyleGAN2Discriminator, StyleGAN2Generator

SHAPE = (1, 32, 32)


def test_equalized_layers_scale_their_weights_at_run_time_by_one_over_sqrt_fan_in():
    torch.manual_seed(0)
    conv = EqualConv2d(16, 8, 3)
    assert conv.weight_scale == pytest.approx(1 / math.sqrt(16 * 9))
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.05)  # stored at N(0, 1)
    x = torch.randn(2, 16, 5, 5)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight / math.sqrt(144), conv.bias, padding=1))
    dense = EqualLinear(64, 4, lr_mul=0.01, bias_init=1.0)
    assert dense.weight_scale == pytest.approx(0.01 / 8)
    z = torch.randn(3, 64)
    torch.testing.assert_close(dense(z), z @ (dense.weight * 0.01 / 8).T + 1.0)


def test_demodulated_weights_have_unit_norm_per_output_channel_and_match_the_fast_path():
    torch.manual_seed(0)
    layer = ModulatedConv2d(6, 5, 3, w_dim=8)
    w = torch.randn(4, 8)
    styles = layer.affine(w) * torch.rand(4, 6) * 3  # any style scale
    weights = layer.sample_weights(styles)
    torch.testing.assert_close(weights.pow(2).sum(dim=(2, 3, 4)), torch.ones(4, 5))
    x = torch.randn(4, 6, 7, 7)
    grouped = F.conv2d(x.reshape(1, 24, 7, 7), weights.reshape(20, 6, 3, 3), padding=1, groups=4).view(4, 5, 7, 7)
    torch.testing.assert_close(layer(x, w), F.conv2d(x.reshape(1, 24, 7, 7),
                               layer.sample_weights(layer.affine(w)).reshape(20, 6, 3, 3), padding=1,
                               groups=4).view(4, 5, 7, 7), rtol=1e-4, atol=1e-5)
    assert grouped.shape == (4, 5, 7, 7)


def test_modulating_one_input_channel_scales_exactly_that_channels_contribution():
    torch.manual_seed(1)
    layer = ModulatedConv2d(4, 3, 3, w_dim=8, demodulate=False)
    x, w = torch.randn(2, 4, 6, 6), torch.randn(2, 8)
    styles = layer.affine(w)
    boosted = styles.clone()
    boosted[:, 2] *= 5.0

    def out(s):
        return F.conv2d(x * s[:, :, None, None], layer.weight * layer.weight_scale, padding=1)

    only_channel_2 = F.conv2d(x[:, 2:3] * styles[:, 2, None, None, None],
                              layer.weight[:, 2:3] * layer.weight_scale, padding=1)
    torch.testing.assert_close(out(boosted) - out(styles), 4.0 * only_channel_2, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(layer(x, w), out(styles))  # the layer computes exactly this


def test_adain_output_has_the_styles_mean_and_std_per_channel():
    torch.manual_seed(2)
    adain = AdaIN(5, w_dim=8)
    x, w = torch.randn(3, 5, 8, 8) * 4 + 2, torch.randn(3, 8)
    scale, shift = adain.affine(w).chunk(2, dim=1)
    out = adain(x, w)
    torch.testing.assert_close(out.mean(dim=(2, 3)), shift, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), (scale + 1).abs(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("make", [
    lambda: ProGANGenerator(SHAPE, 64, width=1 / 32),
    lambda: StyleGANGenerator(SHAPE, 64, width=1 / 32),
    lambda: StyleGAN2Generator(SHAPE, 64, width=1 / 32, architecture="orig"),
])
def test_fade_in_at_alpha_zero_is_the_old_network_and_at_one_the_new(make):
    """lod 1.999... (alpha ~ 0) equals lod 2 (16x16 network, upscaled); lod 1 equals the 16x16 image
    computed alone (alpha 1); in between, the exact lerp of the two."""
    torch.manual_seed(3)
    g = make().eval()
    z = torch.randn(4, 64)

    def at(lod):
        g.lod = lod
        torch.manual_seed(9)  # the same noise maps in every pass
        return g(z)

    old, new, half = at(2.0), at(1.0), at(1.5)
    torch.testing.assert_close(at(2.0 - 1e-7), old, rtol=1e-4, atol=1e-4)
    assert (old.view(4, 1, 8, 4, 8, 4) == old.view(4, 1, 8, 4, 8, 4)[:, :, :, :1, :, :1]).all()  # 8x8 pixels
    assert not torch.allclose(old, new)
    if isinstance(g, ProGANGenerator):  # deterministic: the halfway image is the lerp of the two
        torch.testing.assert_close(half, torch.lerp(old, new, 0.5), rtol=1e-4, atol=1e-5)


def test_discriminator_fade_in_blends_its_two_input_paths():
    torch.manual_seed(4)
    d = ProGANDiscriminator(SHAPE, width=1 / 32)
    x = torch.randn(4, 1, 32, 32)
    d.lod = 1.0
    new = d(x)
    d.lod = 2.0
    old = d(x)
    d.lod = 1.0 + 1e-7
    torch.testing.assert_close(d(x), new, rtol=1e-4, atol=1e-4)
    d.lod = 2.0 - 1e-7
    torch.testing.assert_close(d(x), old, rtol=1e-4, atol=1e-4)


def test_reals_are_blended_like_the_generators_output():
    x = torch.randn(2, 1, 32, 32)
    lo = F.interpolate(F.avg_pool2d(x, 4), scale_factor=4, mode="nearest")
    hi = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    torch.testing.assert_close(blend_reals(x, 2.0, 4), lo)
    torch.testing.assert_close(blend_reals(x, 1.0, 4), hi)
    torch.testing.assert_close(blend_reals(x, 1.25, 4), torch.lerp(lo, hi, 0.75))
    assert torch.equal(blend_reals(x, 0.0, 4), x)


@given(st.integers(1, 5), st.integers(100, 100_000))
@settings(max_examples=50, deadline=None)
def test_the_growing_schedule_splits_the_budget_into_equal_segments(max_lod, budget):
    segment = budget / (2 * max_lod + 1)
    assert lod_at(0, budget, max_lod) == max_lod
    assert lod_at(int(segment * 0.99), budget, max_lod) == max_lod  # stable at the start resolution
    assert lod_at(int(math.ceil(2 * segment * max_lod)), budget, max_lod) == 0.0
    assert lod_at(budget, budget, max_lod) == 0.0
    middle_of_first_fade = 1.5 * segment
    assert lod_at(int(middle_of_first_fade), budget, max_lod) == pytest.approx(max_lod - 0.5, abs=2 / segment)
    i, alpha = level_and_alpha(max_lod - 0.25, max_lod + 1)
    assert (i, alpha) == (0, pytest.approx(0.25))


def test_path_length_target_tracks_the_ema_of_the_lengths():
    """a <- a + 0.01 (mean length - a): after many steps of fixed lengths a converges to them; the
    penalty is the variance of the lengths around a, and its gradient flows into the generator."""
    torch.manual_seed(5)
    g = StyleGAN2Generator(SHAPE, 64, width=1 / 32).eval()
    z = torch.randn(6, 64)
    target = 0.0
    ws = g.styles(z)
    torch.manual_seed(6)
    images = g.synthesis(ws)
    noise = torch.randn(images.shape)
    _, first = path_length_penalty(images, ws, noise, target)
    (grad,) = torch.autograd.grad((images * noise / 32).sum(), ws, retain_graph=True)
    lengths = grad.pow(2).sum(2).mean(1).sqrt()
    assert first == pytest.approx(0.01 * lengths.mean().item(), rel=1e-5)
    target = first
    for _ in range(3):
        _, target = path_length_penalty(images, ws, noise, target)
    assert target == pytest.approx(lengths.mean().item() * (1 - 0.99**4), rel=1e-4)  # a_k = (1 - 0.99^k) l
    target = lengths.mean().item()
    penalty, _ = path_length_penalty(images, ws, noise, target)
    assert penalty.item() == pytest.approx((lengths - target).pow(2).mean().item(), rel=1e-3)
    penalty.backward()
    assert g.style.mapping.layers[0].weight.grad.abs().sum() > 0


def test_path_length_regularization_runs_lazily_in_the_objective():
    v = variants.compose("stylegan2-d")
    g, d = v.generator(SHAPE, 512, width=1 / 32, **v.arch), v.discriminator(SHAPE, width=1 / 32, **v.arch)
    objective = Objective(v.recipe, g, d, 1000, torch.Generator().manual_seed(0))
    next_z = lambda: (torch.randn(8, 512), None)  # noqa: E731
    means, due = [], []
    for _ in range(8):
        main = objective.g_loss(g, d, None, next_z()[0], lambda: (None, None), next_z, 0)
        assert objective.pl_mean == (means[-1] if means else 0.0)  # the main step has no path length term
        main.backward()
        due.append(objective.g_reg_due)
        if due[-1]:  # its own step every pl_every = 4 G steps, weight x 4 (NVlabs' Greg phase)
            objective.g_reg_loss(g, next_z).backward()
        objective.after_g_step(g)
        means.append(objective.pl_mean)
    assert due == [True, False, False, False] * 2
    assert means[0] > 0 and means[1] == means[0] and means[3] == means[0] and means[4] != means[0]
    assert objective.state_dict()["pl_mean"] == means[-1]


def test_style_mixing_switches_styles_at_the_sampled_layer():
    a, b = torch.zeros(2, 8, 3), torch.ones(2, 8, 3)
    mixed = mix_styles(a, b, 5)
    assert torch.equal(mixed[:, :5], a[:, :5]) and torch.equal(mixed[:, 5:], b[:, 5:])
    g = StyleGAN2Generator(SHAPE, 64, width=1 / 32)
    g.style.mixing_prob = 1.0
    torch.manual_seed(7)
    ws = g.styles(torch.randn(3, 64))
    changes = [k for k in range(1, g.num_ws) if not torch.equal(ws[:, k], ws[:, k - 1])]
    assert len(changes) == 1  # one switch, at the drawn layer, for the whole batch
    g.eval()
    ws = g.styles(torch.randn(3, 64))
    assert all(torch.equal(ws[:, k], ws[:, 0]) for k in range(g.num_ws))  # no mixing at evaluation


def test_truncation_in_w_pulls_towards_the_tracked_mean():
    torch.manual_seed(8)
    mapping = MappingNetwork(16, 8, layers=2)
    assert torch.equal(mapping.w_avg, torch.zeros(8))
    w = mapping(torch.randn(64, 16))
    torch.testing.assert_close(mapping.w_avg, 0.005 * w.mean(0))  # one step of beta 0.995 from 0
    mapping.eval()
    before = mapping.w_avg.clone()
    mapping(torch.randn(4, 16))
    assert torch.equal(mapping.w_avg, before)
    ws = w[:4].unsqueeze(1).expand(-1, 6, -1)
    torch.testing.assert_close(truncate(ws, mapping.w_avg, 0.0), mapping.w_avg.expand(4, 6, 8))
    cut = truncate(ws, mapping.w_avg, 0.5, cutoff=2)
    torch.testing.assert_close(cut[:, :2], (ws[:, :2] + mapping.w_avg) / 2)
    assert torch.equal(cut[:, 2:], ws[:, 2:])


def test_lazy_regularization_adjusts_adam_as_the_paper_and_the_ema_half_life():
    lr, betas = lazy_adam(0.002, (0.0, 0.99), 16)
    assert lr == pytest.approx(0.002 * 16 / 17) and betas[1] == pytest.approx(0.99 ** (16 / 17))
    assert lazy_adam(0.002, (0.0, 0.99), 1) == (0.002, (0.0, 0.99))
    recipe = variants.compose("stylegan2").recipe
    decay = EmaDecay(recipe)
    assert decay.at(10**9) == pytest.approx(0.5 ** (32 / 10_000))  # StyleGAN2: 10 kimg half-life
    assert decay.at(2000) == pytest.approx(0.5 ** (32 / 100))  # ramped: 5% of 2,000 images
    assert decay.at(0) == 0.0


def test_the_ablation_configs_add_one_change_each():
    recipes = {name: variants.compose(name).recipe for name in STYLEGAN2_ABLATION}
    a, b, c, d, e, f = (recipes[f"stylegan2-{x}"] for x in "abcdef")
    assert variants.compose("stylegan2-a").generator is StyleGANGenerator
    assert variants.compose("stylegan2-b").arch == {"architecture": "orig"} and a == b
    assert (b.reg_every, c.reg_every, c.pl_every) == (1, 16, 4) and c.path_length == 0
    assert d.path_length == 2.0 and d.reg_every == 16
    assert variants.compose("stylegan2-e").discriminator is StyleGAN2Discriminator and e.r1 == pytest.approx(10 * d.r1)
    assert variants.compose("stylegan2-f").arch == {"fmap_cap": 1024} and f.r1 == d.r1
    ge, gf = (StyleGAN2Generator(SHAPE, 512, width=1 / 16, **variants.compose(n).arch)
              for n in ("stylegan2-e", "stylegan2-f"))
    assert sum(p.numel() for p in gf.parameters()) > 2 * sum(p.numel() for p in ge.parameters())


@pytest.mark.parametrize("name", ["progan", "stylegan", "stylegan2", *STYLEGAN2_ABLATION])
def test_every_family_member_trains_a_step_and_ends_at_full_resolution(name):
    v = variants.compose(name)
    torch.manual_seed(0)
    g, d = v.generator(SHAPE, v.z_dim, width=1 / 32, **v.arch), v.discriminator(SHAPE, width=1 / 32, **v.arch)
    assert getattr(g, "lod", 0.0) == 0.0
    x = g(torch.randn(8, v.z_dim))
    assert x.shape == (8, *SHAPE) and torch.isfinite(x).all()
    d(x).sum().backward()
    unused = {f"from_rgb.{j}." for j in range(getattr(d, "levels", 0) - 1)}  # lower levels' inputs at lod 0
    assert all(p.grad is not None for n, p in d.named_parameters() if not any(n.startswith(u) for u in unused))


def test_stylegan2_translates_its_constant_input_as_a_periodic_band_limited_signal():
    torch.manual_seed(10)
    g = StyleGAN2Generator(SHAPE, 64, width=1 / 32)
    const = g.const.expand(2, -1, -1, -1)
    torch.testing.assert_close(g.shifted_const(2, torch.zeros(2, 2)), const, rtol=1e-5, atol=1e-5)
    one_input_pixel = torch.tensor([[8.0, 0.0], [0.0, -8.0]])  # 8 output pixels = 1 pixel of the 4x4 input
    shifted = g.shifted_const(2, one_input_pixel)
    torch.testing.assert_close(shifted[0], torch.roll(const[0], 1, dims=2), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(shifted[1], torch.roll(const[1], -1, dims=1), rtol=1e-4, atol=1e-5)
    from bench.training.tasks.generation import translatable

    assert translatable(g) and not translatable(ProGANGenerator(SHAPE, 64, width=1 / 32))
