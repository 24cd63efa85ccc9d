"""R3GAN beyond 32x32: the authors' presets by resolution, their parameter counts, and sizes we refuse."""

import math

import pytest
import torch

from models.r3gan import (
    ACTIVATION_GAIN,
    PRESETS,
    Preset,
    R3GANDiscriminator,
    R3GANGenerator,
    ResidualBlock,
    scaled_stages,
)

# (G, D) parameters of brownvc/R3GAN@19a7ddf R3GAN/Networks.py Generator / Discriminator, built on the meta
# device with train.py's settings for each `--preset` (NoiseDimension 64, ExpansionFactor 2, D's lists the
# G's reversed; when conditional, ConditionDimension = classes, G's ConditionEmbeddingDimension 64 and D's
# WidthPerStage[0]). 0 classes: train.py's FFHQ presets, and CIFAR10 --cond=0; 10 classes: CIFAR10 --cond=1,
# and our class-conditional variant at the other sizes; 1000 classes: the ImageNet presets.
REFERENCE_COUNTS = {
    ("CIFAR10", 0): (20_732_160, 20_683_776),
    ("CIFAR10", 10): (20_781_952, 21_280_512),
    ("FFHQ-64", 0): (22_429_824, 22_381_440),
    ("FFHQ-64", 10): (22_479_616, 22_978_176),
    ("FFHQ-256", 0): (23_057_952, 23_009_568),
    ("FFHQ-256", 10): (23_107_744, 23_606_304),
    ("ImageNet-32", 1000): (82_914_304, 86_548_992),
    ("ImageNet-64", 1000): (103_570_432, 107_205_120),
}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(side: int, channels: int = 3, width: float = 1.0, n_classes: int = 10, preset=None):
    shape = (channels, side, side)
    return (R3GANGenerator(shape, 64, width=width, n_classes=n_classes, preset=preset),
            R3GANDiscriminator(shape, width=width, n_classes=n_classes, preset=preset))


@pytest.mark.parametrize(("preset", "n_classes"), list(REFERENCE_COUNTS))
def test_parameter_counts_match_the_reference_presets(preset, n_classes):
    side = PRESETS[preset].resolution
    with torch.device("meta"):  # shapes only: the full-width networks hold up to 107M parameters
        g, d = build(side, n_classes=n_classes, preset=preset)
    assert (count(g), count(d)) == REFERENCE_COUNTS[preset, n_classes]


def test_the_default_preset_follows_the_image_size():
    """32: CIFAR10, 64: FFHQ-64, 256: FFHQ-256; 8, 16 and 128 take the first stages of FFHQ-256."""
    full = PRESETS["FFHQ-256"]
    with torch.device("meta"):
        for side, name in ((32, "CIFAR10"), (64, "FFHQ-64"), (256, "FFHQ-256")):
            g, d = build(side)
            assert g.preset == d.preset == PRESETS[name]
            assert (count(g), count(d)) == REFERENCE_COUNTS[name, 10]
        for side in (8, 16, 128):
            stages = int(math.log2(side)) - 1
            g, _ = build(side)
            assert g.preset.widths == full.widths[:stages] and g.preset.cardinalities == full.cardinalities[:stages]
            assert len(g.stages) == stages
    assert PRESETS["FFHQ-64"].widths == (768, 768, 768, 768, 384)


def test_widths_scale_every_stage_by_its_groups():
    """16 channels per group (32 in the ImageNet presets) at any width; narrow stages keep one group."""
    assert scaled_stages(PRESETS["FFHQ-256"], 1 / 32) == [(24, 3, 2)] * 4 + [(16, 2, 2), (8, 1, 2), (8, 1, 2)]
    assert scaled_stages(PRESETS["FFHQ-64"], 0.25) == [(192, 24, 2)] * 4 + [(96, 12, 2)]
    assert scaled_stages(PRESETS["ImageNet-64"], 0.25) == [(384, 24, 2)] * 5


@pytest.mark.parametrize("channels", [1, 3])
def test_networks_at_64_give_images_and_logits(channels):
    torch.manual_seed(0)
    g, d = build(64, channels=channels, width=1 / 32)
    z, y = torch.randn(4, 64), torch.randint(0, 10, (4,))
    with torch.no_grad():
        images = g(z, y)
        logits = d(images, y)
    assert images.shape == (4, channels, 64, 64)
    assert logits.shape == (4,)
    assert torch.isfinite(images).all() and torch.isfinite(logits).all()
    # no tanh (as published): the blocks start as the identity, so the image is the upsampled scaled
    # basis through a 1x1 conv, of unit order
    assert 0.05 < images.std().item() < 5.0 and images.abs().max().item() < 50.0
    assert g.to_image.out_channels == channels and d.trunk[0].in_channels == channels


def test_width_changes_are_1x1_convs_at_the_lower_resolution():
    g, d = build(64, width=1 / 8)
    last = list(g.stages[-1])
    assert isinstance(last[0], torch.nn.Conv2d) and (last[0].in_channels, last[0].out_channels) == (96, 48)
    assert last[0].kernel_size == (1, 1)
    sizes = {}

    def record(k: int):
        def hook(module, inputs, output):
            sizes[k] = (output.shape[1], output.shape[2])
        return hook

    hooks = [m.register_forward_hook(record(k)) for k, m in enumerate(d.trunk)]
    d(torch.randn(2, 3, 64, 64), torch.tensor([0, 1]))
    for h in hooks:
        h.remove()
    projections = [k for k, m in enumerate(d.trunk) if isinstance(m, torch.nn.Conv2d) and k > 0
                   and m.kernel_size == (1, 1)]
    assert [sizes[k] for k in projections] == [(96, 32)]  # 48 -> 96 channels, after 64 -> 32


def test_discriminator_forward_and_backward_at_64():
    torch.manual_seed(0)
    _, d = build(64, width=1 / 32)
    x = torch.randn(4, 3, 64, 64, requires_grad=True)
    d(x, torch.tensor([0, 1, 2, 3])).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    grads = {name: p.grad for name, p in d.named_parameters()}
    assert all(grad is not None and torch.isfinite(grad).all() for grad in grads.values())
    projects = [grad for name, grad in grads.items() if name.endswith("project.weight")]
    assert len(projects) == 10 and all(grad.abs().sum() > 0 for grad in projects)  # 5 stages x 2 blocks


def test_initialisation_scales_with_all_blocks_of_the_network():
    """L in the fix-up gain L^(-1/4) is the network's block count: 10 at 64x64 (5 stages of 2)."""
    torch.manual_seed(0)
    g, _ = build(64, width=1 / 8)
    block = next(m for m in g.modules() if isinstance(m, ResidualBlock))
    expected = ACTIVATION_GAIN * 10**-0.25 / math.sqrt(96)
    assert block.expand.weight.std().item() == pytest.approx(expected, rel=0.03)


def test_a_preset_can_be_given_stage_by_stage():
    custom = {"widths": [64, 64, 32], "cardinalities": [8, 8, 4], "blocks": [1, 3, 1]}
    g, d = build(16, width=1.0, n_classes=0, preset=custom)
    assert [len([m for m in s if isinstance(m, ResidualBlock)]) for s in g.stages] == [1, 3, 1]
    assert g(torch.randn(2, 64)).shape == (2, 3, 16, 16) and d(torch.randn(2, 3, 16, 16)).shape == (2,)
    with pytest.raises(ValueError, match="one entry per stage"):
        Preset("bad", (64, 64), (8,), (1, 1))
    with pytest.raises(ValueError, match="cannot have 5 groups"):
        Preset("bad", (64,), (5,), (1,))


@pytest.mark.parametrize(
    ("shape", "preset", "message"),
    [
        ((3, 512, 512), None, r"side 8, 16, 32, 64, 128, 256 .*got \(3, 512, 512\)"),
        ((3, 48, 48), None, r"side 8, 16, 32, 64, 128, 256 .*got \(3, 48, 48\)"),
        ((3, 4, 4), None, r"got \(3, 4, 4\)"),
        ((3, 64, 32), None, r"got \(3, 64, 32\)"),
        ((3, 64, 64), "CIFAR10", r"'CIFAR10' builds 32x32 images"),
        ((3, 64, 64), "LSUN-64", r"unknown R3GAN preset 'LSUN-64'"),
    ],
)
def test_unsupported_sizes_and_presets_are_refused(shape, preset, message):
    with pytest.raises(ValueError, match=message):
        R3GANGenerator(shape, 64, preset=preset)
    with pytest.raises(ValueError, match=message):
        R3GANDiscriminator(shape, preset=preset)
