import pytest
import torch
import torch.nn as nn
from torch.nn.utils.parametrize import is_parametrized

from bench.protocol import variants
from bench.training.objective import build_discriminator
from models.blocks import ConditionalBatchNorm2d, GatedShortcut, LinearConditionalBatchNorm2d, SelfAttention
from models.registry import RegistryError


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def _build(name, shape=(3, 32, 32), width=1.0):
    """G and D of a registered variant as training builds them (D through the recipe: SN where it says)."""
    v = variants.compose(name)
    kw = {"n_classes": 10} if v.conditional else {}
    g = v.generator(shape, v.z_dim, width=width, **kw)
    d = build_discriminator(v.discriminator(shape, width=width, **kw), v.recipe)
    return v, g, d


# Parameter counts at the published width, 3x32x32 data, 10 classes, measured by running the reference code:
#   sngan       kwotsin/mimicry@a7fda06 torch_mimicry/nets/sngan/sngan_32.py (nz 128, ngf 256, ndf 128)
#   sngan-proj  kwotsin/mimicry@a7fda06 torch_mimicry/nets/cgan_pd/cgan_pd_32.py (num_classes 10)
#   sagan       POSTECH-CVLab/PyTorch-StudioGAN@947b35e src/configs/CIFAR10/SAGAN.yaml + src/models/resnet.py
#               (the same counts as mimicry's sagan_32)
#   biggan      ajbrock/BigGAN-PyTorch@9845943 BigGAN.py: resolution 32, G_ch = D_ch = 64, dim_z 128, hier,
#               G_shared, shared_dim 128, no attention
#   acgan       clvrai/ACGAN-PyTorch@4bd0405 network.py _netG_CIFAR10 / _netD_CIFAR10 (nz 110 = 100 + 10 classes)
#   r3gan       brownvc/R3GAN@19a7ddf R3GAN/Networks.py, train.py --preset=CIFAR10 --cond=1 (c_dim 10); unconditional
#               (--cond=0): G 20,732,160, D 20,683,776, checked in test_r3gan.py
# Spectral norm (torch parametrization) keeps one Parameter per weight, as the references' SN layers do.
PUBLISHED_COUNTS = {
    "sngan": (4_276_739, 1_053_825),
    "sngan-proj": (4_304_387, 1_055_105),
    "sagan": (4_386_308, 1_075_586),
    "biggan": (4_373_251, 4_207_361),
    "acgan": (1_593_888, 1_663_867),
    "r3gan": (20_781_952, 21_280_512),
}
# The same references built for 1-channel data: (G, D) fewer parameters than at 3 channels.
ONE_CHANNEL_DELTA = {"sngan": (4_610, 2_560), "acgan": (1_536, 288)}


@pytest.mark.parametrize("name", sorted(PUBLISHED_COUNTS))
def test_parameter_counts_match_the_reference_implementations(name):
    _, g, d = _build(name)
    assert (n_params(g), n_params(d)) == PUBLISHED_COUNTS[name]


@pytest.mark.parametrize("name", sorted(ONE_CHANNEL_DELTA))
def test_one_channel_parameter_counts_match_the_reference_deltas(name):
    _, g, d = _build(name, shape=(1, 32, 32))
    g_ref, d_ref = PUBLISHED_COUNTS[name]
    dg, dd = ONE_CHANNEL_DELTA[name]
    assert (n_params(g), n_params(d)) == (g_ref - dg, d_ref - dd)


def test_cgan_is_dcgan_plus_its_label_embeddings():
    """No reference code exists for the convolutional cGAN (the paper's networks are MNIST MLPs): its
    count is DCGAN's (hand-counted in test_architectures.py) plus what the conditioning adds."""
    from models.dcgan import DCGANDiscriminator, DCGANGenerator

    _, g, d = _build("cgan", shape=(1, 32, 32))
    embed, classes, c = 50, 10, 64
    assert n_params(g) == n_params(DCGANGenerator((1, 32, 32), 100 + embed)) + classes * embed
    # D: its own embedding, and 50 more input channels to the second 4x4 conv (c -> 2c)
    assert n_params(d) == n_params(DCGANDiscriminator((1, 32, 32))) + classes * embed + embed * 2 * c * 16
    assert g(torch.randn(2, 100), torch.tensor([0, 1])).shape == (2, 1, 32, 32)


@pytest.mark.parametrize("name", sorted(PUBLISHED_COUNTS))
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes_and_image_range(name, channels):
    torch.manual_seed(0)
    v, g, d = _build(name, shape=(channels, 32, 32), width=0.25)
    z = torch.randn(2, v.z_dim)
    args = (torch.tensor([3, 7]),) if v.conditional else ()
    with torch.no_grad():
        x = g(z, *args)
        assert x.shape == (2, channels, 32, 32) and torch.isfinite(x).all()
        if name != "r3gan":  # R3GAN's G ends in a 1x1 conv, no tanh, as published; the metric code clamps
            assert x.abs().max() <= 1.0
        assert d(x, *args).shape == (2,)


# --- blocks -------------------------------------------------------------------------------------------------------


def test_self_attention_without_pooling_is_permutation_equivariant_over_positions():
    torch.manual_seed(0)
    attn = SelfAttention(16, pool=False)
    with torch.no_grad():
        attn.gamma.fill_(0.7)
    x = torch.randn(2, 16, 4, 5)
    perm = torch.randperm(20)

    def permute(t):
        return t.flatten(2)[:, :, perm].view_as(t)

    with torch.no_grad():
        out_of_permuted, permuted_out = attn(permute(x)), permute(attn(x))
    torch.testing.assert_close(out_of_permuted, permuted_out)
    assert not torch.allclose(attn(x), x)  # gamma != 0: the block does something


def test_self_attention_is_the_identity_at_init():
    x = torch.randn(2, 16, 8, 8)
    attn = SelfAttention(16)
    assert attn.gamma.item() == 0.0
    assert torch.equal(attn(x), x)


def test_conditional_batchnorm_of_one_class_is_batchnorm_with_that_class_affine():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(6, n_classes=4)
    with torch.no_grad():
        cbn.gain.weight.normal_()
        cbn.bias.weight.normal_()
    k = 2
    bn = nn.BatchNorm2d(6)
    with torch.no_grad():
        bn.weight.copy_(cbn.gain.weight[k])
        bn.bias.copy_(cbn.bias.weight[k])
    x = torch.randn(5, 6, 3, 3) * 2 + 1
    y = torch.full((5,), k)
    torch.testing.assert_close(cbn(x, y), bn(x))  # train mode: batch statistics, running stats updated
    torch.testing.assert_close(cbn.bn.running_mean, bn.running_mean)
    torch.testing.assert_close(cbn.bn.running_var, bn.running_var)
    cbn.eval()
    bn.eval()
    x2 = torch.randn(3, 6, 3, 3)
    torch.testing.assert_close(cbn(x2, y[:3]), bn(x2))


def _batchnorm_by_hand(x, eps=1e-5):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def test_linear_conditional_batchnorm_with_zero_weights_is_plain_batchnorm():
    lcbn = LinearConditionalBatchNorm2d(4, cond_dim=7).double()
    with torch.no_grad():
        lcbn.gain.weight.zero_()
        lcbn.bias.weight.zero_()
    x = torch.randn(6, 4, 3, 3, dtype=torch.float64)
    c = torch.randn(6, 7, dtype=torch.float64)
    plain = nn.BatchNorm2d(4, affine=False).double()
    torch.testing.assert_close(lcbn(x, c), plain(x))
    torch.testing.assert_close(lcbn(x, c), _batchnorm_by_hand(x))


def test_linear_conditional_batchnorm_scales_by_one_plus_wg_c_and_shifts_by_wb_c():
    torch.manual_seed(1)
    lcbn = LinearConditionalBatchNorm2d(3, cond_dim=2).double()
    x = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    c = torch.randn(4, 2, dtype=torch.float64)
    wg, wb = lcbn.gain.weight.detach().tolist(), lcbn.bias.weight.detach().tolist()
    normed = _batchnorm_by_hand(x)
    expected = torch.empty_like(x)
    for n in range(4):
        for ch in range(3):
            scale = 1.0 + sum(wg[ch][j] * c[n, j].item() for j in range(2))
            shift = sum(wb[ch][j] * c[n, j].item() for j in range(2))
            expected[n, ch] = scale * normed[n, ch] + shift
    torch.testing.assert_close(lcbn(x, c), expected)


def _gated_with_gate_bias(bias):
    torch.manual_seed(0)
    block = GatedShortcut(5)
    with torch.no_grad():
        block.gate.weight.zero_()
        block.gate.bias.fill_(bias)
    return block


def test_gated_shortcut_with_open_gate_returns_the_features():
    block = _gated_with_gate_bias(1e4)
    s, f = torch.randn(2, 5, 4, 4), torch.randn(2, 5, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(block(s, f), f)


def test_gated_shortcut_with_closed_gate_returns_the_refinement_of_shortcut_and_features():
    block = _gated_with_gate_bias(-1e4)
    s, f = torch.randn(2, 5, 4, 4), torch.randn(2, 5, 4, 4)
    with torch.no_grad():
        expected = nn.functional.conv2d(torch.cat([s, f], dim=1), block.refine.weight, block.refine.bias)
        torch.testing.assert_close(block(s, f), expected)


def test_gated_option_reaches_resnet_generator_blocks():
    v = variants.compose("sngan+gated")
    g = v.generator((3, 32, 32), v.z_dim, width=0.125, **v.arch)
    assert len(g.blocks) == 3
    assert all(isinstance(block.gated, GatedShortcut) for block in g.blocks)
    assert variants.compose("sngan").generator((3, 32, 32), 128, width=0.125).blocks[0].gated is None


def test_gated_option_is_refused_for_a_generator_without_it():
    with pytest.raises(RegistryError):
        variants.compose("dcgan+gated")


# --- BigGAN -------------------------------------------------------------------------------------------------------


def test_biggan_hierarchical_latent_last_chunk_only_reaches_the_last_block():
    torch.manual_seed(0)
    v = variants.compose("biggan")
    g = v.generator((3, 32, 32), v.z_dim, width=0.125, n_classes=10).eval()  # eval: SN's power iteration frozen
    assert g.chunk == 32 and g.linear.in_features == 32
    z, y = torch.randn(2, 128), torch.tensor([1, 4])
    z2 = z.clone()
    z2[:, 96:] = torch.randn(2, 32)
    outputs = []
    hooks = [block.register_forward_hook(lambda m, i, o: outputs.append(o)) for block in g.blocks]
    with torch.no_grad():
        x, x2 = g(z, y), g(z2, y)
    for h in hooks:
        h.remove()
    first, second = outputs[:3], outputs[3:]
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.allclose(first[2], second[2])
    assert not torch.allclose(x, x2)


def test_biggan_spectral_norm_everywhere_but_the_shared_embedding():
    g = variants.compose("biggan").generator((3, 32, 32), 128, width=0.125, n_classes=10)
    assert not is_parametrized(g.shared)
    convs = [m for m in g.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(convs) > 10 and all(is_parametrized(m, "weight") for m in convs)


# --- SAGAN --------------------------------------------------------------------------------------------------------


def test_sagan_has_one_attention_block_at_16x16_in_g_and_in_d():
    torch.manual_seed(0)
    v, g, d = _build("sagan", width=0.125)
    seen = {}
    for who, net in (("G", g), ("D", d)):
        attention = [m for m in net.modules() if isinstance(m, SelfAttention)]
        assert len(attention) == 1, who
        attention[0].register_forward_hook(lambda m, i, o, who=who: seen.setdefault(who, []).append(i[0].shape[2:]))
    y = torch.tensor([0, 9])
    with torch.no_grad():
        d(g(torch.randn(2, v.z_dim), y), y)
    assert seen == {"G": [(16, 16)], "D": [(16, 16)]}


def test_sagan_spectral_norm_on_generator_convs():
    g = variants.compose("sagan").generator((3, 32, 32), 128, width=0.125, n_classes=10)
    convs = [m for m in g.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) > 10 and all(is_parametrized(m, "weight") for m in convs)


# --- registry -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["unrolled", "fm", "mbstd"])
@pytest.mark.parametrize("variant", ["sngan-proj", "acgan"])
def test_per_sample_d_options_are_refused_for_conditional_variants(variant, option):
    with pytest.raises(RegistryError):
        variants.compose(f"{variant}+{option}")


@pytest.mark.parametrize("option", ["unrolled", "fm", "mbstd"])
def test_per_sample_d_options_are_accepted_for_the_unconditional_variant(option):
    assert variants.compose(f"sngan+{option}").name == f"sngan+{option}"
