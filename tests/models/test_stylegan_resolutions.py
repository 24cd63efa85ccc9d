"""The progressive and style-based families (progan, stylegan, stylegan2 configs A-F, stylegan3-t) beyond 32x32:
G and D parameter counts at 64, 256 and 1024 px (StyleGAN3-T also 128) against the reference implementations at
their published settings, and every family built and run at every power of two from 8 px (StyleGAN3: 16) to 1024.
Networks are built on the meta device, as the train stage builds them (width 1, 3 channels): nothing is allocated."""

import pytest
import torch

from bench.protocol import variants
from bench.training.objective import build_discriminator

SIDES = (8, 16, 32, 64, 128, 256, 512, 1024)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _build(name: str, side: int, **arch):
    v = variants.compose(name)
    arch = {**v.arch, **arch}
    with torch.device("meta"):
        g = v.generator((3, side, side), v.z_dim, width=1.0, **arch)
        d = build_discriminator(v.discriminator((3, side, side), width=1.0, **arch), v.recipe)
    return v, g, d


# (G, D) of NVlabs/stylegan2-ada-pytorch@d72cc7d training/networks.py, Generator (z_dim = w_dim = 512, c_dim 0,
# 3 channels, 8 mapping layers, "skip" synthesis) and Discriminator ("resnet", minibatch stddev group 4 with one
# channel) as train.py builds them, channel_max 512, counted on CPU. channel_base 32768 is `--cfg=stylegan2`, i.e.
# config F (fmap_base 16384 in NVlabs/stylegan2); channel_base 16384 gives config E's widths (fmap_base 8192, the
# channels of `--cfg=paper256`). Below 64 px both bases give 512 channels at every level: the same networks.
ADA_CHANNEL_BASE_32768 = {8: (10_505_225, 11_543_553), 32: (21_523_475, 21_507_073), 64: (27_032_600, 26_488_833),
                          256: (30_034_338, 28_864_129), 1024: (30_370_060, 29_012_513)}
ADA_CHANNEL_BASE_16384 = {8: (10_505_225, 11_543_553), 32: (21_523_475, 21_507_073), 64: (23_819_544, 23_407_361),
                          256: (24_767_458, 24_001_089), 1024: (24_900_764, 24_038_161)}


@pytest.mark.parametrize("side", sorted(ADA_CHANNEL_BASE_32768))
def test_stylegan2_is_config_f_of_stylegan2_ada(side):
    _, g, d = _build("stylegan2", side)
    assert (n_params(g), n_params(d)) == ADA_CHANNEL_BASE_32768[side]


@pytest.mark.parametrize("side", [64, 256, 1024])
def test_stylegan2_f_is_the_published_config_f_from_64_px(side):
    """(At 32 px and below stylegan2-f doubles the cap instead, a documented departure: no reference there.)"""
    _, g, d = _build("stylegan2-f", side)
    assert (n_params(g), n_params(d)) == ADA_CHANNEL_BASE_32768[side]


@pytest.mark.parametrize("side", sorted(ADA_CHANNEL_BASE_16384))
def test_stylegan2_e_has_config_e_widths(side):
    _, g, d = _build("stylegan2-e", side)
    assert (n_params(g), n_params(d)) == ADA_CHANNEL_BASE_16384[side]


# (G, D) of NVlabs/stylegan2@bf0fe0b training/networks_stylegan2.py as run_training.py builds configs B-D:
# G_main with G_mapping (8 layers of 512) and G_synthesis_stylegan_revised (one ToRGB per level), D_stylegan
# (one FromRGB per level, minibatch stddev group 4 with one feature), fmap_base 8192, fmap_max 512, 3 channels;
# trainable variables counted from the layer definitions (TensorFlow 1 code, not run here).
STYLEGAN2_GROWING = {64: (23_819_544, 22_498_049), 256: (24_767_458, 23_052_353), 1024: (24_900_764, 23_087_249)}


@pytest.mark.parametrize("name", ["stylegan2-b", "stylegan2-c", "stylegan2-d"])
@pytest.mark.parametrize("side", sorted(STYLEGAN2_GROWING))
def test_growing_configs_b_to_d_match_the_official_networks(name, side):
    _, g, d = _build(name, side)
    assert (n_params(g), n_params(d)) == STYLEGAN2_GROWING[side]


# (G, D) of NVlabs/stylegan@1e0d5c7 training/networks_stylegan.py: G_style (G_mapping, 8 layers of 512; G_synthesis,
# fmap_base 8192, fmap_max 512, per-channel noise weights, StyleMod dense layers, one ToRGB per level) and D_basic
# (minibatch stddev group 4, one feature), 3 channels; trainable variables counted from the layer definitions
# (TensorFlow 1 code, not run here). The paper (arXiv:1812.04948) states 26.2M for this G at 1024 px.
STYLEGAN_TF = {64: (25_137_935, 22_498_049), 256: (26_086_229, 23_052_353), 1024: (26_219_627, 23_087_249)}
@pytest.mark.parametrize("name", ["stylegan", "stylegan2-a"])
@pytest.mark.parametrize("side", sorted(STYLEGAN_TF))
def test_stylegan_matches_the_official_networks(name, side):
    """G's 3x3 convs have no bias of their own: the epilogue's (after the noise) is the only one, as the authors'."""
    _, g, d = _build(name, side)
    ref_g, ref_d = STYLEGAN_TF[side]
    assert (n_params(g), n_params(d)) == (ref_g, ref_d)
    assert all(conv.bias is None for conv in g.convs)
    if side == 1024:
        assert round(ref_g / 1e6, 1) == round(n_params(g) / 1e6, 1) == 26.2


# (G, D) of tkarras/progressive_growing_of_gans@2504c3f networks.py: G_paper and D_paper with config.py's settings
# (fmap_base 8192, fmap_max 512, latent 512, minibatch stddev group 4), 3 channels, no labels; trainable variables
# counted from the layer definitions (TensorFlow 1 code, not run here). The paper (arXiv:1710.10196, Table 2)
# states 23.1M for each at 1024 px.
PROGAN_TF = {64: (22_490_383, 22_498_049), 256: (23_044_309, 23_052_353), 1024: (23_079_115, 23_087_249)}

@pytest.mark.parametrize("side", sorted(PROGAN_TF))
def test_progan_matches_the_official_networks(side):
    """G's 4x4 dense layer has one bias per feature map, added after the reshape, as the authors' G_paper."""
    _, g, d = _build("progan", side)
    ref_g, ref_d = PROGAN_TF[side]
    assert (n_params(g), n_params(d)) == (ref_g, ref_d)
    assert g.dense.bias is None and g.dense_bias.shape == (512,)
    if side == 1024:
        assert round(ref_g / 1e6, 1) == round(ref_d / 1e6, 1) == round(n_params(g) / 1e6, 1) == 23.1


# G of NVlabs/stylegan3@c233a91 train.py `--cfg=stylegan3-t`: training/networks_stylegan3.py Generator (z_dim = w_dim
# = 512, channel_base 32768, channel_max 512, 2 mapping layers, conv kernel 3) with the published num_layers=14 and
# with our registered variant's 4; D is training/networks_stylegan2.py Discriminator with the same channel_base and
# channel_max (minibatch stddev group 4). 3 channels, counted on CPU.
STYLEGAN3_G = {14: {64: 37_768_199, 128: 32_833_523, 256: 28_472_133, 1024: 22_313_167},
               4: {64: 11_543_559, 128: 8_330_503, 256: 7_166_343, 1024: 6_486_759}}
STYLEGAN3_D = {64: 26_488_833, 128: 28_389_121, 256: 28_864_129, 1024: 29_012_513}


@pytest.mark.parametrize("num_layers", sorted(STYLEGAN3_G))
@pytest.mark.parametrize("side", sorted(STYLEGAN3_D))
def test_stylegan3_t_matches_the_official_networks(side, num_layers):
    _, g, d = _build("stylegan3-t", side, num_layers=num_layers)
    assert (n_params(g), n_params(d)) == (STYLEGAN3_G[num_layers][side], STYLEGAN3_D[side])


# (variant, side) -> the reference's (G, D) where ours equals it as registered (for tests/benchmarks tables).
REFERENCE_COUNTS = {
    **{("stylegan2", side): gd for side, gd in ADA_CHANNEL_BASE_32768.items()},
    **{("stylegan2-f", side): ADA_CHANNEL_BASE_32768[side] for side in (64, 256, 1024)},
    **{("stylegan2-e", side): gd for side, gd in ADA_CHANNEL_BASE_16384.items()},
    **{(f"stylegan2-{c}", side): gd for c in "bcd" for side, gd in STYLEGAN2_GROWING.items()},
    **{("stylegan3-t", side): (STYLEGAN3_G[4][side], STYLEGAN3_D[side]) for side in STYLEGAN3_D},
}


@pytest.mark.parametrize(("name", "side"), [
    *((name, side) for name in ("progan", "stylegan", "stylegan2", "stylegan2-b", "stylegan2-e", "stylegan2-f")
      for side in SIDES),
    *(("stylegan3-t", side) for side in SIDES if side >= 16)])  # below 16 it is refused: test_stylegan3.py
def test_every_family_builds_and_runs_at_every_power_of_two(name, side):
    v, g, d = _build(name, side)
    assert getattr(g, "lod", 0.0) == 0.0  # the growing families start built at full resolution
    with torch.device("meta"):
        x = g(torch.randn(2, v.z_dim))
        assert x.shape == (2, 3, side, side)
        assert d(x).shape == (2,)
