import pytest
import torch

from models.dcgan import DCGANDiscriminator, DCGANGenerator
from models.mlp_gan import Maxout, MLPDiscriminator, MLPGenerator


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_dcgan_shapes_range_and_published_width():
    g, d = DCGANGenerator((1, 32, 32), 100, width=1.0), DCGANDiscriminator((1, 32, 32), width=1.0)
    x = g(torch.randn(5, 100))
    assert x.shape == (5, 1, 32, 32) and x.abs().max() <= 1.0
    assert d(x).shape == (5,)
    # 64 channels at the last G layer, 4x4 kernels: counted by hand from the layer list.
    expected_g = (100 * 256 + 256 * 128 + 128 * 64 + 64 * 1) * 16 + 2 * (256 + 128 + 64)
    expected_d = (1 * 64 + 64 * 128 + 128 * 256 + 256 * 1) * 16 + 2 * (128 + 256)
    assert n_params(g) == expected_g and n_params(d) == expected_d


def test_dcgan_at_64x64_is_the_papers_network_with_the_reference_parameter_counts():
    """pytorch/examples' dcgan (ngf = ndf = 64, nz = 100, nc = 3) at 64x64: G 3,576,704 and D 2,765,568
    parameters; G's channels 512-256-128-64 from the 4x4 map up."""
    g, d = DCGANGenerator((3, 64, 64), 100, width=1.0), DCGANDiscriminator((3, 64, 64), width=1.0)
    assert n_params(g) == 3_576_704 and n_params(d) == 2_765_568
    assert [m.out_channels for m in g.net if isinstance(m, torch.nn.ConvTranspose2d)] == [512, 256, 128, 64, 3]
    x = g(torch.randn(2, 100))
    assert x.shape == (2, 3, 64, 64) and d(x).shape == (2,)


@pytest.mark.parametrize("size", [16, 128])
def test_dcgan_follows_the_same_rule_at_other_powers_of_two(size):
    g, d = DCGANGenerator((1, size, size), 8, width=0.125), DCGANDiscriminator((1, size, size), width=0.125)
    assert g(torch.randn(2, 8)).shape == (2, 1, size, size) and d(torch.zeros(2, 1, size, size)).shape == (2,)


@pytest.mark.parametrize("shape", [(3, 48, 48), (3, 8, 8), (3, 64, 32)])
def test_dcgan_refuses_sizes_it_has_no_rule_for(shape):
    with pytest.raises(ValueError, match="square power-of-two images from 16x16 up"):
        DCGANGenerator(shape, 100)


def test_dcgan_init_follows_the_paper():
    g = DCGANGenerator((1, 32, 32), 100, width=1.0)
    conv = g.net[0].weight
    assert conv.mean().abs() < 2e-3 and conv.std().item() == pytest.approx(0.02, rel=0.05)


def test_width_scales_channels():
    assert n_params(DCGANGenerator((1, 32, 32), 100, width=0.5)) < n_params(DCGANGenerator((1, 32, 32), 100))


def test_maxout_takes_the_max_over_pieces():
    layer = Maxout(2, 3, pieces=4)
    x = torch.randn(7, 2)
    expected = layer.linear(x).view(7, 3, 4).max(dim=2).values
    torch.testing.assert_close(layer(x), expected)


def test_mlp_gan_shapes():
    g, d = MLPGenerator((2,), 2), MLPDiscriminator((2,))
    assert g(torch.randn(6, 2)).shape == (6, 2) and d(torch.randn(6, 2)).shape == (6,)
    assert g.net[0].out_features == 400 and d.trunk[0].out_features == 200 and d.trunk[0].pieces == 5
