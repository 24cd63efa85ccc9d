"""The SNGAN ResNet family (sngan, sngan-proj, sagan) beyond 32x32: the papers' 48 and 128 px networks and
mimicry's 64 px one, with the references' parameter counts, where the attention sits, and refused sizes."""

import pytest
import torch

from bench.protocol import variants
from bench.training.objective import build_discriminator
from models.blocks import SelfAttention


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def _build(name, side, channels=3, width=1.0, device="cpu"):
    v = variants.compose(name)
    kw = {"n_classes": 10} if v.conditional else {}
    with torch.device(device):
        g = v.generator((channels, side, side), v.z_dim, width=width, **kw)
        d = build_discriminator(v.discriminator((channels, side, side), width=width, **kw), v.recipe)
    return v, g, d


# (G, D) parameters at width 1, 3 channels, 10 classes, measured by building kwotsin/mimicry@a7fda06's
# networks with their defaults: torch_mimicry/nets/sngan/sngan_48.py, sngan_64.py, sngan_128.py;
# cgan_pd/cgan_pd_128.py and sagan/sagan_128.py with ndf=1024 (their default D of ndf=128 gives 8 ... 128
# channels, 455,777 and 456,098 parameters; ndf=1024 is the papers' ImageNet D, 64 ... 1024, 1024).
REFERENCE_COUNTS = {
    ("sngan", 48): (4_878_083, 10_141_441),
    ("sngan", 64): (12_220_675, 10_141_441),
    ("sngan", 128): (32_150_787, 29_017_857),
    ("sngan-proj", 128): (32_239_491, 29_028_097),
    ("sagan", 128): (32_321_412, 29_048_578),
}


@pytest.mark.parametrize(("name", "side"), sorted(REFERENCE_COUNTS))
def test_parameter_counts_match_mimicry(name, side):
    _, g, d = _build(name, side, device="meta")  # counted without allocating 60M weights
    assert (n_params(g), n_params(d)) == REFERENCE_COUNTS[(name, side)]


@pytest.mark.parametrize(("name", "side", "channels"),
                         [("sngan", 64, 1), ("sngan-proj", 64, 3), ("sagan", 64, 3), ("sngan", 48, 3)])
def test_images_of_the_data_shape_and_one_logit_each(name, side, channels):
    torch.manual_seed(0)
    v, g, d = _build(name, side, channels, width=1 / 16)
    labels = (torch.tensor([3, 7]),) if v.conditional else ()
    x = g(torch.randn(2, v.z_dim), *labels)
    assert x.shape == (2, channels, side, side) and x.abs().max() <= 1.0
    logits = d(x, *labels)
    assert logits.shape == (2,)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in g.parameters() if p.requires_grad)


def _attention_sides(module, x, *args):
    """The spatial sides at which SelfAttention blocks run during one forward pass."""
    sides = []
    hooks = [m.register_forward_hook(lambda _m, inp, _out: sides.append(inp[0].shape[-1]))
             for m in module.modules() if isinstance(m, SelfAttention)]
    module(x, *args)
    for hook in hooks:
        hook.remove()
    return sides


@pytest.mark.parametrize(("side", "expected"), [(32, 16), (64, 32), (128, 32)])
def test_sagan_attends_where_the_paper_and_its_32px_configurations_do(side, expected):
    v, g, d = _build("sagan", side, width=1 / 32)
    z, y = torch.randn(2, v.z_dim), torch.tensor([0, 1])
    with torch.no_grad():
        assert _attention_sides(g, z, y) == [expected]
        assert _attention_sides(d, torch.randn(2, 3, side, side), y) == [expected]


@pytest.mark.parametrize("shape", [(3, 16, 16), (3, 256, 256), (3, 64, 32)])
def test_sizes_without_a_published_network_are_refused_naming_the_ones_it_has(shape):
    v = variants.compose("sngan")
    with pytest.raises(ValueError, match="32, 48, 64, 128"):
        v.generator(shape, v.z_dim, width=1 / 16)
    with pytest.raises(ValueError, match="32, 48, 64, 128"):
        v.discriminator(shape, width=1 / 16)


def test_an_attention_position_no_block_has_is_refused():
    v = variants.compose("sagan")
    with pytest.raises(ValueError, match="attention_at=7"):
        v.generator((3, 64, 64), v.z_dim, width=1 / 16, attention_at=7)
