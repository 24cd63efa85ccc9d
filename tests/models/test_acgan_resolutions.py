"""AC-GAN beyond 32x32: the reference's ImageNet networks at 128x128, the derived 64x64 ones, refused sizes."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.protocol import variants

# Measured by building clvrai/ACGAN-PyTorch@4bd0405 network.py `_netG(ngpu=1, nz=110)` and
# `_netD(ngpu=1, num_classes=10 | 1000)`: 3 channels, 128x128 (the reference fixes both, and G's 110 inputs).
REF_128_G = 11_465_728
REF_128_D = {10: 2_525_563, 1000: 88_189_273}
# Hand-counted, 1 channel instead of 3: G's 8x8 output layer from 64 channels, D's first 3x3 conv to 16.
ONE_CHANNEL_DELTA_128 = (64 * 2 * 8 * 8, 16 * 2 * 3 * 3)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def _build(shape, width=1.0, n_classes=10):
    v = variants.compose("acgan")
    g = v.generator(shape, v.z_dim, width=width, n_classes=n_classes, **v.arch)
    d = v.discriminator(shape, width=width, n_classes=n_classes, **v.arch)
    return v, g, d


def _layers(module, kind):
    return [(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
            for m in module.modules() if isinstance(m, kind)]


def test_128_parameter_counts_match_the_reference():
    with torch.device("meta"):
        _, g, d = _build((3, 128, 128))
    assert (n_params(g), n_params(d)) == (REF_128_G, REF_128_D[10])


def test_128_with_1000_classes_d_matches_the_reference_and_g_only_grows_by_its_wider_input():
    with torch.device("meta"):
        v, g, d = _build((3, 128, 128), n_classes=1000)
    assert n_params(d) == REF_128_D[1000]
    # the reference's G keeps 110 inputs whatever the classes; ours takes z_dim + n_classes (a stated departure)
    assert g.linear.in_features == v.z_dim + 1000
    assert n_params(g) == REF_128_G + (1000 - 10) * 768


def test_128_one_channel_counts_differ_only_in_the_image_layers():
    with torch.device("meta"):
        _, g, d = _build((1, 128, 128))
    dg, dd = ONE_CHANNEL_DELTA_128
    assert (n_params(g), n_params(d)) == (REF_128_G - dg, REF_128_D[10] - dd)


def test_128_maps_follow_the_reference_and_width_scales_every_layer():
    torch.manual_seed(0)
    v, g, d = _build((3, 128, 128), width=0.125)
    assert g.linear.out_features == 96  # 768 / 8
    assert [c[1] for c in _layers(g, nn.ConvTranspose2d)] == [48, 32, 24, 8, 3]
    assert [c[1] for c in _layers(d, nn.Conv2d)] == [2, 4, 8, 16, 32, 64]
    x = g(torch.randn(2, v.z_dim), torch.tensor([0, 9]))
    assert x.shape == (2, 3, 128, 128) and x.abs().max() <= 1
    assert d.features(x).shape == (2, 64 * 13 * 13)  # the reference's 13x13x512 map, at 1/8 of the channels
    real_fake, classes = d.forward_with_classes(x)
    assert real_fake.shape == (2,) and classes.shape == (2, 10)


def test_64_is_the_128_network_less_its_highest_resolution_5x5_stage():
    with torch.device("meta"):
        _, g64, d64 = _build((3, 64, 64))
        _, g128, d128 = _build((3, 128, 128))
    stages128, out128 = _layers(g128, nn.ConvTranspose2d)[:-1], _layers(g128, nn.ConvTranspose2d)[-1]
    assert _layers(g64, nn.ConvTranspose2d) == [*stages128[:-1], (192, *out128[1:])]
    assert g64.linear.out_features == g128.linear.out_features == 768
    assert _layers(d64, nn.Conv2d) == _layers(d128, nn.Conv2d)
    assert d64.head.in_features == d64.classes.in_features == 512 * 5 * 5


@pytest.mark.parametrize("channels", [1, 3])
def test_64_output_shapes_range_and_class_logits(channels):
    torch.manual_seed(0)
    v, g, d = _build((channels, 64, 64), width=0.25)
    y = torch.tensor([3, 7])
    x = g(torch.randn(2, v.z_dim), y)
    assert x.shape == (2, channels, 64, 64)
    assert x.abs().max() <= 1 and x.std() > 0
    d.eval()  # no dropout: both entry points see the same features
    real_fake, classes = d.forward_with_classes(x)
    assert real_fake.shape == (2,) and classes.shape == (2, 10)
    assert torch.equal(real_fake, d(x))
    F.cross_entropy(classes, y).backward()
    assert g.linear.weight.grad.abs().sum() > 0  # the class loss reaches G through D's class head


@pytest.mark.parametrize("shape", [(3, 16, 16), (3, 48, 48), (3, 256, 256), (3, 64, 32), (1, 128, 64)])
def test_unsupported_sizes_are_refused_naming_the_supported_ones(shape):
    v = variants.compose("acgan")
    message = r"this AC-GAN is built for 32x32, 64x64 or 128x128 images, got \(" + ", ".join(map(str, shape))
    with pytest.raises(ValueError, match=message):
        v.generator(shape, v.z_dim, n_classes=10, **v.arch)
    with pytest.raises(ValueError, match=message):
        v.discriminator(shape, n_classes=10, **v.arch)
