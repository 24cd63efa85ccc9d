"""pix2pix's U-Net and PatchGAN, CycleGAN's ResNet generator and image pool: shapes, the reference's
parameter counts, the PatchGAN's receptive field, the pool's rule, and U-Net dropout at test time."""


import pytest
import torch
import torch.nn as nn

from models.patchgan import PatchDiscriminator, n_layers_for, receptive_field
from models.resnet_translator import ResnetGenerator
from models.unet import UNetGenerator


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# Parameter counts at ngf = ndf = 64, measured by running the reference code:
# junyanz/pytorch-CycleGAN-and-pix2pix@78913853 models/networks.py, define_G / define_D with its defaults:
#   pix2pix   define_G(3, 3, 64, "unet_256", "batch", use_dropout=True); define_D(6, 64, "basic", norm="batch")
#   CycleGAN  define_G(3, 3, 64, "resnet_9blocks" | "resnet_6blocks", "instance"); define_D(3, 64, "basic",
#             norm="instance")
# With those weights loaded into these modules the outputs were bit-identical (eval mode, U-Net dropout off).
REFERENCE_COUNTS = {
    "unet_256": 54_413_955,
    "unet_128": 41_828_995,
    "basic D, 6 channels, batch norm": 2_768_705,
    "resnet_9blocks": 11_378_179,
    "resnet_6blocks": 7_837_699,
    "basic D, 3 channels, instance norm": 2_764_737,
}


def _reference_setting(name):
    return {
        "unet_256": lambda: UNetGenerator(3, 3, 256, norm="batch", dropout=True),
        "unet_128": lambda: UNetGenerator(3, 3, 128, norm="batch", dropout=True),
        "basic D, 6 channels, batch norm": lambda: PatchDiscriminator(6, n_layers=3, norm="batch"),
        "resnet_9blocks": lambda: ResnetGenerator(3, 3, blocks=9, norm="instance"),
        "resnet_6blocks": lambda: ResnetGenerator(3, 3, blocks=6, norm="instance"),
        "basic D, 3 channels, instance norm": lambda: PatchDiscriminator(3, n_layers=3, norm="instance"),
    }[name]()


@pytest.mark.parametrize("name", sorted(REFERENCE_COUNTS))
def test_parameter_counts_match_the_reference_implementation(name):
    assert n_params(_reference_setting(name)) == REFERENCE_COUNTS[name]


@pytest.mark.parametrize("size", [32, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes_and_range(size, channels):
    torch.manual_seed(0)
    x = torch.randn(2, channels, size, size)
    generators = [UNetGenerator(channels, channels, size, width=0.25), ResnetGenerator(channels, channels, 0.25),
                  ResnetGenerator(channels, channels, 0.25, blocks=9)]
    with torch.no_grad():
        for g in generators:
            y = g(x)
            assert y.shape == x.shape and y.abs().max() <= 1.0
        n = n_layers_for(size)
        logits = PatchDiscriminator(2 * channels, width=0.25, n_layers=n)(torch.cat([x, y], 1))
    assert logits.shape == (2, 1, size // 2**n - 2, size // 2**n - 2)  # 30x30 at 256, 14x14 at 32


def test_resnet_generator_takes_any_size_divisible_by_4():
    g = ResnetGenerator(3, 3, width=0.125)
    with torch.no_grad():
        assert g(torch.randn(1, 3, 20, 36)).shape == (1, 3, 20, 36)
    with pytest.raises(ValueError):
        g(torch.randn(1, 3, 30, 32))


@pytest.mark.parametrize("size", [24, 8, 48])
def test_unet_refuses_sizes_it_cannot_take_to_1x1(size):
    with pytest.raises(ValueError):
        UNetGenerator(3, 3, size)


def _biased_convs(module):
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    return [i for i, m in enumerate(convs) if m.bias is not None], len(convs)


def test_biases_only_where_the_reference_has_them():
    """BatchNorm's shift replaces the bias; InstanceNorm without affine has none, so convs keep theirs."""
    unet = UNetGenerator(3, 3, 32, width=0.25)
    assert [m.bias is not None for m in unet.up[0] if isinstance(m, nn.ConvTranspose2d)] == [True]
    assert _biased_convs(unet)[0] == [5]  # modules() lists the 5 encoder convs first, then up[0]
    assert set(_biased_convs(UNetGenerator(3, 3, 32, norm="instance"))[0]) == set(range(10))
    assert _biased_convs(PatchDiscriminator(3, n_layers=3)) == ([0, 4], 5)
    assert _biased_convs(ResnetGenerator(3, 3, blocks=2, norm="batch")) == ([9], 10)
    assert _biased_convs(ResnetGenerator(3, 3, blocks=2, norm="instance")) == (list(range(10)), 10)


def test_unet_dropout_sits_in_the_three_levels_outside_the_innermost():
    assert UNetGenerator(3, 3, 256, width=0.25).dropout_levels == {4, 5, 6}  # the reference's unet_256: its 8ngf levels
    assert UNetGenerator(3, 3, 32, width=0.25).dropout_levels == {1, 2, 3}
    assert UNetGenerator(3, 3, 16, width=0.25).dropout_levels == {1, 2}
    assert UNetGenerator(3, 3, 32, width=0.25, dropout=False).dropout_levels == set()


def test_unet_dropout_at_test_time_is_switched_independently_of_eval():
    torch.manual_seed(0)
    g, x = UNetGenerator(1, 1, 32, width=0.25).eval(), torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        assert g.dropout_at_test  # the paper's test-time noise is on by default
        assert not torch.equal(g(x), g(x))
        g.dropout_at_test = False
        assert torch.equal(g(x), g(x))
        assert not g.training
        g.train()
        assert not torch.equal(g(x), g(x))  # training always drops
        no_dropout = UNetGenerator(1, 1, 32, width=0.25, dropout=False).eval()
        assert torch.equal(no_dropout(x), no_dropout(x))


def _measured_field(n_layers, size=256):
    """Input pixels with a non-zero gradient for the centre logit of a D whose weights are positive constants
    and whose norms are identities: with every path's weight positive no gradient can cancel."""
    d = PatchDiscriminator(1, width=0.125, n_layers=n_layers, norm="none").double()
    with torch.no_grad():
        for m in d.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0 / m.weight[0].numel())
                m.bias.zero_()
    x = torch.ones(1, 1, size, size, dtype=torch.double, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows, cols = (x.grad[0, 0] != 0).nonzero(as_tuple=True)
    assert 0 < rows.min() and rows.max() < size - 1 and 0 < cols.min() and cols.max() < size - 1  # not clipped
    height, width = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    assert len(rows) == height * width  # one solid square
    return height, width


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4])
def test_receptive_field_matches_a_gradient_measurement(n_layers):
    assert _measured_field(n_layers) == (receptive_field(n_layers), receptive_field(n_layers))


def test_the_published_patch_size_and_the_choice_at_32x32():
    assert [receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]  # pix2pix's 16x16 and 70x70 PatchGANs
    assert [n_layers_for(s) for s in (256, 128, 64, 32)] == [3, 2, 1, 1]
