"""VQ-GAN's first-stage autoencoder (models/vqgan.py): parameter counts equal to the reference's at its published
settings, the shapes at our Fashion-MNIST default, the straight-through gradient, decoding by indices, the GAN
weight's last layer, and the reference's asymmetric downsampling padding."""

import pytest
import torch
import torch.nn.functional as F

from models.vqgan import Downsample, VQAutoencoder, VQDecoder, VQEncoder

F16 = dict(ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2, attn_resolutions=(16,), resolution=256, in_channels=3,
           z_channels=256, dropout=0.0)

# (network settings, n_codes, embed_dim) -> (encoder, decoder, whole autoencoder) as (parameters, tensors): counted
# by instantiating CompVis/taming-transformers's own taming/modules/diffusionmodules/model.py Encoder and Decoder
# (double_z False) plus VQModel's quant_conv, post_quant_conv and VectorQuantizer2 embedding
# (taming/models/vqgan.py, taming/modules/vqvae/quantize.py), at commit 3ba01b241669f5ade541ce990f7650a3b8f65318.
REFERENCE = {
    # configs/imagenet_vqgan.yaml (also custom_vqgan.yaml, faceshq_vqgan.yaml): the README's ImageNet f16 1024
    "imagenet-f16-1024": ((F16, 1024, 256), ((29298176, 144), (42449795, 194), (72141699, 343))),
    # the README's ImageNet f16 16384 checkpoint: the same networks, 16384 codes (its config ships with the
    # checkpoint, not in the repository)
    "imagenet-f16-16384": ((F16, 16384, 256), ((29298176, 144), (42449795, 194), (76073859, 343))),
    # configs/imagenetdepth_vqgan.yaml: one-channel depth maps
    "imagenetdepth-f16-1024": (({**F16, "in_channels": 1}, 1024, 256),
                               ((29295872, 144), (42447489, 194), (72137089, 343))),
    # not published: other widths, one block per level, attention at two resolutions
    "varied": ((dict(ch=64, ch_mult=(1, 2, 4), num_res_blocks=1, attn_resolutions=(32, 16), resolution=64,
                     in_channels=1, z_channels=32, dropout=0.0), 64, 16),
               ((4438752, 84), (7426177, 128), (11867025, 217))),
    # our default (models/vqgan.py's DEFAULT, 512 codes of 64)
    "ours-default": ((dict(ch=64, ch_mult=(1, 2, 2), num_res_blocks=2, attn_resolutions=(8,), resolution=32,
                           in_channels=1, z_channels=64, dropout=0.0), 512, 64),
                     ((2314880, 106), (3267969, 140), (5623937, 251))),
}


def _count(module: torch.nn.Module) -> tuple[int, int]:
    parameters = list(module.parameters())
    return sum(p.numel() for p in parameters), len(parameters)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_parameter_counts_equal_the_reference(name):
    (network, n_codes, embed_dim), (encoder, decoder, whole) = REFERENCE[name]
    with torch.device("meta"):  # shapes only: the 256x256 networks cost no memory or initialisation
        model = VQAutoencoder(n_codes, embed_dim, **network)
        alone = VQEncoder(**network), VQDecoder(**network)
    assert (_count(model.encoder), _count(model.decoder), _count(model)) == (encoder, decoder, whole)
    assert (_count(alone[0]), _count(alone[1])) == (encoder, decoder)


def test_the_default_maps_32x32_images_to_an_8x8_grid_and_back():
    torch.manual_seed(0)
    model = VQAutoencoder()
    x = torch.randn(2, 1, 32, 32)
    quantized, loss, indices = model.encode(x)
    assert quantized.shape == (2, 64, 8, 8) and indices.shape == (2, 8, 8) and loss.shape == ()
    assert model.encoder(x).shape == (2, 64, 8, 8)
    assert model.decode(quantized).shape == (2, 1, 32, 32)
    assert int(indices.max()) < 512


def test_the_reconstruction_loss_reaches_the_encoder_through_the_quantizer():
    torch.manual_seed(0)
    model = VQAutoencoder()
    x = torch.randn(2, 1, 32, 32)
    reconstruction = model.decode(model.encode(x).quantized)
    F.mse_loss(reconstruction, x).backward()  # the quantizer's own loss left out: only the straight-through path
    grad = model.encoder.conv_in.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert model.quant_conv.weight.grad.abs().sum() > 0


def test_decoding_the_indices_is_decoding_the_quantized_map():
    torch.manual_seed(0)
    model = VQAutoencoder().eval()
    with torch.no_grad():
        model.quantizer.codebook.normal_()  # codes far apart: a wrong lookup shows
        encoded = model.encode(torch.randn(2, 1, 32, 32))
        by_indices, by_map = model.decode_indices(encoded.indices), model.decode(encoded.quantized)
    # not bit-equal: the straight-through z + (e - z) rounds differently from e, in the reference too
    torch.testing.assert_close(by_indices, by_map, rtol=1e-4, atol=1e-4)


def test_last_layer_is_the_final_conv_of_the_decoder():
    torch.manual_seed(0)
    model = VQAutoencoder()
    quantized = model.encode(torch.randn(2, 1, 32, 32)).quantized.detach()
    weight = model.last_layer()
    assert weight.shape == (1, 64, 3, 3) and weight.requires_grad
    with torch.no_grad():
        weight.zero_()
        model.decoder.head.conv.bias.fill_(0.5)
        assert torch.equal(model.decode(quantized), torch.full((2, 1, 32, 32), 0.5))  # nothing after it


def test_downsampling_pads_only_the_bottom_and_the_right():
    torch.manual_seed(0)
    down = Downsample(32)
    x = torch.randn(1, 32, 8, 8)
    padded = torch.zeros(1, 32, 9, 9)
    padded[:, :, :8, :8] = x
    expected = F.conv2d(padded, down.conv.weight, down.conv.bias, stride=2)
    out = down(x)
    assert out.shape == (1, 32, 4, 4)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_widths_must_suit_the_32_group_norm():
    with pytest.raises(ValueError, match="multiple of 32"):
        VQEncoder(ch=48)
    with pytest.raises(ValueError, match="halve"):
        VQDecoder(resolution=30)


def test_forward_returns_the_reconstruction_its_codes_and_the_grid_they_cover():
    torch.manual_seed(0)
    model = VQAutoencoder(ch=32, ch_mult=(1, 2, 2, 2), attn_resolutions=(4,)).eval()
    x = torch.randn(2, 1, 32, 32)
    out = model(x)
    assert model.grid(32) == (4, 4) and out.indices.shape == (2, 4, 4) and out.log_scale is None
    with torch.no_grad():
        torch.testing.assert_close(out.images, model.decode_indices(out.indices), rtol=1e-4, atol=1e-4)
    assert model.n_codes == 512
