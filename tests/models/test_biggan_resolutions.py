"""BigGAN beyond 32x32: the layouts of BigGAN-PyTorch at 64, 128 and 256 px with the reference's parameter
counts, where self-attention sits, how z is split, refused sizes, and the 32x32 networks as they were."""

import hashlib

import pytest
import torch
from torch.nn.utils import parametrizations

import models.biggan
from bench.protocol import variants
from bench.training.objective import build_discriminator
from models.blocks import DBlock, SelfAttention

# (G, D) parameters at width 1, 3 channels, 10 classes, measured by building ajbrock/BigGAN-PyTorch@9845943
# BigGAN.py Generator / Discriminator with hier, G_shared, shared_dim 128 and:
#   64   G_ch = D_ch = 64, G_attn = D_attn = '64' (its parser's defaults), dim_z 128 (hier shortens it to 125)
#   128  G_ch = D_ch = 96, G_attn = D_attn = '64', dim_z 120 (scripts/launch_BigGAN_bs256x8.sh)
#   256  G_ch = D_ch = 96, G_attn = '128' (TFHub/converter.py get_config), D_attn = '64' (default), dim_z 140
# Spectral norm keeps one Parameter per weight here and u/sv buffers there: the counts compare directly.
REFERENCE_COUNTS = {
    ("biggan", 64): (31_807_236, 19_552_961),
    ("biggan", 128): (70_307_268, 86_461_730),
    ("biggan", 256): (81_970_884, 97_705_250),
}
REFERENCE_Z = {64: 125, 128: 120, 256: 140}
# The same networks for 1-channel data (G's output conv and D's first block rebuilt at 1 channel, the
# reference fixing 3): (G, D) fewer parameters than at 3 channels.
ONE_CHANNEL_DELTA = {64: (2_306, 1_280), 128: (1_730, 1_920), 256: (1_730, 1_920)}
# The reference at G_ch = D_ch = 8 (our width 1/8 at 64 px, 1/12 at 128 px), otherwise as above.
SMALL_COUNTS = {(64, 3): (704_388, 307_609), (64, 1): (704_098, 307_449), (128, 3): (696_980, 602_858)}
SMALL_WIDTH = {64: 1 / 8, 128: 1 / 12}

# The 32x32 networks before the other sizes were added (commit 747271c, 3 channels, width 1): the counts of
# PUBLISHED_COUNTS["biggan"] in test_zoo.py, and a digest of the state dicts' names and shapes.
COUNTS_32 = (4_373_251, 4_207_361)
LAYOUT_DIGEST_32 = ("9fc7fa8cd6ca16e2", "4c7f9e9f93574e38")


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def _build(side, channels=3, width=1.0, z_dim=None, **arch):
    v = variants.compose("biggan")
    shape = (channels, side, side)
    g = v.generator(shape, z_dim or v.z_dim, width=width, n_classes=10, **v.arch, **arch)
    d = build_discriminator(v.discriminator(shape, width=width, n_classes=10, **v.arch, **arch), v.recipe)
    return v, g, d


@pytest.fixture
def uninitialised(monkeypatch):
    """Networks built without drawing their initial weights (orthogonal init, SN's power iteration): counting
    50-100M parameters on the meta device then takes a fraction of a second."""
    monkeypatch.setattr(models.biggan, "orthogonal_init", lambda module: None)
    monkeypatch.setattr(models.biggan, "glorot_init", lambda module: None)
    monkeypatch.setattr(parametrizations._SpectralNorm, "_power_method", lambda self, weight, n: None)


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("side", [64, 128, 256])
def test_parameter_counts_match_the_reference_at_published_settings(uninitialised, side, channels):
    with torch.device("meta"):
        _, g, d = _build(side, channels, z_dim=REFERENCE_Z[side])
    g_ref, d_ref = REFERENCE_COUNTS[("biggan", side)]
    dg, dd = ONE_CHANNEL_DELTA[side] if channels == 1 else (0, 0)
    assert (n_params(g), n_params(d)) == (g_ref - dg, d_ref - dd)


@pytest.mark.parametrize(("side", "channels"), sorted(SMALL_COUNTS))
def test_narrow_networks_as_training_builds_them_match_the_reference(side, channels):
    torch.manual_seed(0)
    _, g, d = _build(side, channels, width=SMALL_WIDTH[side], z_dim=REFERENCE_Z[side])
    assert (n_params(g), n_params(d)) == SMALL_COUNTS[(side, channels)]


@pytest.mark.parametrize("channels", [1, 3])
def test_64px_images_of_the_data_shape_in_range_and_one_logit_each(channels):
    torch.manual_seed(0)
    v, g, d = _build(64, channels, width=1 / 8)
    y = torch.tensor([3, 7])
    with torch.no_grad():
        x = g(torch.randn(2, v.z_dim), y)
        assert x.shape == (2, channels, 64, 64) and torch.isfinite(x).all() and x.abs().max() <= 1.0
        assert x.std() > 0.01  # not a constant image
        assert d(x, y).shape == (2,)


def test_64px_discriminator_forward_and_backward_reach_every_layer():
    torch.manual_seed(0)
    _, _, d = _build(64, 3, width=1 / 8, attention_at=32)
    with torch.no_grad():
        next(m for m in d.modules() if isinstance(m, SelfAttention)).gamma.fill_(0.5)
    x = torch.randn(4, 3, 64, 64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 9])
    loss = torch.relu(1.0 - d(x, y)).mean()  # hinge loss on reals
    loss.backward()
    named = dict(d.named_parameters())
    assert named and all(p.grad is not None and torch.isfinite(p.grad).all() for p in named.values())
    assert all(p.grad.abs().sum() > 0 for p in named.values())
    assert x.grad.abs().sum() > 0


def _attention_sides(module, *inputs):
    """The sides of the maps the SelfAttention blocks see during one forward pass, in order."""
    sides = []
    hooks = [m.register_forward_hook(lambda _m, inp, _out: sides.append(inp[0].shape[-1]))
             for m in module.modules() if isinstance(m, SelfAttention)]
    with torch.no_grad():
        module(*inputs)
    for hook in hooks:
        hook.remove()
    return sides


@pytest.mark.parametrize(("side", "arch", "g_sides", "d_sides"), [
    (32, {}, [], []),  # the CIFAR script: no attention
    (64, {}, [64], []),  # the reference's default '64': D has no 64x64 block
    (128, {}, [64], [64]),  # the ImageNet model
    (64, {"attention_at": 32}, [32], [32]),
    (128, {"attention_at": None}, [], []),
])
def test_attention_sits_where_the_reference_puts_it(side, arch, g_sides, d_sides):
    torch.manual_seed(0)
    v, g, d = _build(side, width=1 / 12, **arch)
    y = torch.tensor([1, 2])
    assert _attention_sides(g, torch.randn(2, v.z_dim), y) == g_sides
    assert _attention_sides(d, torch.randn(2, 3, side, side), y) == d_sides


def test_256px_attention_follows_g_at_128_and_d_at_64():
    """Checked on the layers (an attention map at 128x128 is too large to run here)."""
    _, g, d = _build(256, width=1 / 24)  # ch 4
    assert list(g.attention) == ["128"] and g.sizes.index(128) == 4
    assert g.attention["128"].query.in_channels == g.blocks[4].conv2.out_channels == 2 * 4
    trunk = list(d.trunk)
    assert [type(m) for m in trunk[:3]] == [DBlock, DBlock, SelfAttention]
    assert sum(isinstance(m, SelfAttention) for m in trunk) == 1
    assert trunk[2].query.in_channels == trunk[1].conv2.out_channels == 2 * 4


def test_every_dimension_of_z_reaches_the_image_when_the_chunks_do_not_divide_it():
    torch.manual_seed(0)
    v, g, _ = _build(128, width=1 / 24)
    assert v.z_dim == 128 and g.z_split == [23, 21, 21, 21, 21, 21]
    assert g.linear.in_features == 23 and all(b.norm1.gain.in_features == 128 + 21 for b in g.blocks)
    z = torch.randn(2, v.z_dim, requires_grad=True)
    g.eval()(z, torch.tensor([0, 5])).square().sum().backward()
    assert (z.grad.abs().sum(dim=0) > 0).all()


def test_published_z_splits_into_equal_chunks():
    for side, z_dim in REFERENCE_Z.items():
        _, g, _ = _build(side, width=1 / 32, z_dim=z_dim)
        assert g.z_split == [z_dim // (len(g.blocks) + 1)] * (len(g.blocks) + 1), side


@pytest.mark.parametrize("shape", [(3, 16, 16), (3, 48, 48), (3, 512, 512), (3, 64, 32), (64, 64)])
def test_sizes_without_a_reference_layout_are_refused_naming_the_ones_it_has(shape):
    v = variants.compose("biggan")
    for build in (lambda: v.generator(shape, v.z_dim, n_classes=10), lambda: v.discriminator(shape, n_classes=10)):
        with pytest.raises(ValueError, match=r"32x32, 64x64, 128x128, 256x256"):
            build()


@pytest.mark.parametrize("attention_at", [4, 48, 128, "64"])
def test_attention_outside_the_generator_sides_is_refused(attention_at):
    v = variants.compose("biggan")
    with pytest.raises(ValueError, match="attention_at"):
        v.generator((3, 64, 64), v.z_dim, width=1 / 16, n_classes=10, attention_at=attention_at)
    with pytest.raises(ValueError, match="attention_at"):
        v.discriminator((3, 64, 64), width=1 / 16, n_classes=10, attention_at=attention_at)


def _layout_digest(module):
    lines = "\n".join(f"{name} {tuple(t.shape)}" for name, t in module.state_dict().items())
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def test_32px_networks_keep_their_counts_names_and_shapes():
    v = variants.compose("biggan")
    torch.manual_seed(0)
    g = v.generator((3, 32, 32), v.z_dim, width=1.0, n_classes=10, **v.arch)
    d = v.discriminator((3, 32, 32), width=1.0, n_classes=10, **v.arch)
    assert (_layout_digest(g), _layout_digest(d)) == LAYOUT_DIGEST_32
    assert (n_params(g), n_params(build_discriminator(d, v.recipe))) == COUNTS_32
    assert g.z_split == [32] * 4 and not g.attention
    assert [b.conv1.out_channels for b in g.blocks] == [256] * 3
    assert [m.conv1.out_channels for m in d.trunk] == [256] * 4


@pytest.mark.parametrize(("channels", "width"), [(3, 1.0), (1, 0.25)])
def test_32px_discriminator_draws_the_weights_of_sngans_resnet_d_orthogonally_reinitialised(channels, width):
    """What the 32x32 D was before the other sizes: the same seed must give it bit for bit."""
    from models.sngan import ResNetDiscriminator

    torch.manual_seed(0)
    before = ResNetDiscriminator((channels, 32, 32), width, n_classes=10, channels=256)
    models.biggan.orthogonal_init(before)
    torch.manual_seed(0)
    now = variants.compose("biggan").discriminator((channels, 32, 32), width=width, n_classes=10)
    a, b = before.state_dict(), now.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
