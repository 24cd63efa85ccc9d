"""R3GAN's building blocks against their definitions (arXiv:2501.05441 and the authors' brownvc/R3GAN)."""

import math

import pytest
import torch
import torch.nn.functional as F

from models.r3gan import (
    ACTIVATION_GAIN,
    R3GANDiscriminator,
    R3GANGenerator,
    ResidualBlock,
    channels_and_groups,
)
from models.resample import Downsample, Upsample


def test_blocks_start_as_the_identity_and_have_no_normalization():
    torch.manual_seed(0)
    block = ResidualBlock(48, groups=6, blocks_in_network=8)
    x = torch.randn(3, 48, 8, 8)
    assert torch.equal(block(x), x)  # the last 1x1 conv is zero at init (fix-up)
    for net in (R3GANGenerator((3, 32, 32), 64, width=0.25, n_classes=10), R3GANDiscriminator((3, 32, 32), 0.25, 10)):
        kinds = {type(m).__name__ for m in net.modules()}
        assert not any("Norm" in k for k in kinds), kinds
        assert all(m.bias is None for m in net.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))


def test_msr_initialisation_scales_with_the_number_of_blocks():
    torch.manual_seed(0)
    block = ResidualBlock(256, groups=32, blocks_in_network=8)
    gain = math.sqrt(2 / 1.04) * 8 ** -0.25
    assert ACTIVATION_GAIN == pytest.approx(1.3867505)
    assert block.expand.weight.std().item() == pytest.approx(gain / math.sqrt(256), rel=0.02)
    assert block.grouped.weight.std().item() == pytest.approx(gain / math.sqrt(16 * 9), rel=0.02)
    assert block.grouped.groups == 32 and block.grouped.in_channels // 32 == 16  # 16 channels per group


def test_resampling_is_the_bilinear_filter():
    """[1,3,3,1] upsampling equals bilinear interpolation (half-pixel centres) away from the border, and the
    normalised [1,3,3,1] low-pass with stride 2 equals antialiased bilinear downscaling by 2."""
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8, 8)
    up = Upsample()(x)
    reference = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert up.shape == (2, 5, 16, 16)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], reference[..., 1:-1, 1:-1])
    down = Downsample()(x)
    reference = F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)
    assert down.shape == (2, 5, 4, 4)
    torch.testing.assert_close(down[..., 1:-1, 1:-1], reference[..., 1:-1, 1:-1])


def test_unconditional_parameter_counts_match_the_reference():
    """brownvc/R3GAN@19a7ddf, --preset=CIFAR10 --cond=0, built on CPU (the conditional counts: test_zoo.py)."""
    g, d = R3GANGenerator((3, 32, 32), 64), R3GANDiscriminator((3, 32, 32))
    assert sum(p.numel() for p in g.parameters()) == 20_732_160
    assert sum(p.numel() for p in d.parameters()) == 20_683_776


def test_widths_keep_sixteen_channels_per_group():
    assert channels_and_groups(1.0) == (768, 96)
    assert channels_and_groups(0.25) == (192, 24)
    assert channels_and_groups(0.01) == (8, 1)


def test_conditional_discriminator_projects_onto_the_class_embedding():
    torch.manual_seed(0)
    d = R3GANDiscriminator((1, 32, 32), width=0.125, n_classes=10)
    x, y = torch.randn(4, 1, 32, 32), torch.tensor([0, 3, 3, 9])
    features = d.features(x)
    assert features.shape == (4, 96)
    expected = (d.head(features) * d.embedding.weight.T[y]).sum(dim=1)
    torch.testing.assert_close(d(x, y), expected)
    assert R3GANDiscriminator((1, 32, 32), width=0.125)(x).shape == (4,)
    with pytest.raises(ValueError, match="pass the labels"):
        d(x)


def test_generator_scales_a_learned_constant_by_a_map_of_z_and_the_label():
    torch.manual_seed(0)
    g = R3GANGenerator((1, 32, 32), 64, width=0.125, n_classes=10)
    z, y = torch.randn(2, 64), torch.tensor([1, 7])
    captured = {}
    g.stages[0].register_forward_hook(lambda m, inputs, out: captured.setdefault("base", inputs[0]))
    assert g(z, y).shape == (2, 1, 32, 32)
    code = torch.cat([z, g.embedding(F.one_hot(y, 10).float())], dim=1)
    torch.testing.assert_close(captured["base"], g.basis[None] * g.basis_scale(code)[:, :, None, None])
