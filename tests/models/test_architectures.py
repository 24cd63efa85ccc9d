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
