"""ViT-VQGAN's first stage (models/vit_vqgan.py): the shapes and 8 x 8 grid of our Fashion-MNIST default, decoding
by indices, the straight-through gradient, factorized (8-d, 32-d) and plain codes, the decoder's patch layout and
logit-Laplace split, DALL-E's map and unmap, the loss read off a Reconstruction, and parameter counts: the paper's
Table 1 configs against a closed form and the published numbers, and our default's size."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.training.tokenizer_objective import location_from_images, logit_laplace_nll, reconstruction_loss, squash
from models import vit_vqgan as vit
from models.vit_vqgan import ViTDecoder, ViTEncoder, ViTVQAutoencoder, parameter_count


def _images(batch=2, seed=1):
    return torch.rand(batch, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_the_default_maps_32x32_images_to_an_8x8_grid_and_back():
    torch.manual_seed(0)
    model = ViTVQAutoencoder()
    x = _images()
    quantized, loss, indices = model.encode(x)
    assert quantized.shape == (2, 128, 8, 8) and indices.shape == (2, 8, 8) and loss.shape == ()
    assert model.encoder(x).shape == (2, 128, 8, 8) and model.decoder(quantized).shape == (2, 2, 32, 32)
    assert model.decode(quantized).shape == (2, 1, 32, 32)
    out = model(x)
    assert out.images.shape == out.log_scale.shape == (2, 1, 32, 32) and torch.equal(out.indices, indices)
    assert model.grid(32) == (8, 8) and model.n_codes == 512 and int(indices.max()) < 512
    plain = ViTVQAutoencoder(logit_laplace=False)(x)
    assert plain.images.shape == (2, 1, 32, 32) and plain.log_scale is None


def test_decoding_the_indices_is_decoding_the_quantized_map():
    torch.manual_seed(0)
    model = ViTVQAutoencoder().eval()
    with torch.no_grad():
        model.quantizer.codebook.normal_()  # codes far apart: a wrong lookup shows
        encoded = model.encode(_images())
        by_indices, by_map = model.decode_indices(encoded.indices), model.decode(encoded.quantized)
        assert not torch.equal(encoded.indices, torch.zeros_like(encoded.indices))
    # not bit-equal: the straight-through z + (e - z) rounds differently from e
    torch.testing.assert_close(by_indices, by_map, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(model(_images()).images, by_map, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("lookup_dim, l2_normalize", [(8, True), (32, True), (None, False)])
def test_the_reconstruction_loss_reaches_the_patch_embedding_through_the_quantizer(lookup_dim, l2_normalize):
    torch.manual_seed(0)
    model = ViTVQAutoencoder(lookup_dim=lookup_dim, l2_normalize=l2_normalize)
    x = _images()
    F.mse_loss(model.decode(model.encode(x).quantized), x).backward()  # the quantizer's own loss left out
    for weight in (model.encoder.patch_embed.weight, model.encoder.head.fc2.weight, model.decoder.head.fc2.weight):
        assert weight.grad is not None and torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0


@pytest.mark.parametrize("lookup_dim, l2_normalize", [(8, True), (32, True), (None, False)])
def test_factorized_and_plain_codes_pick_their_nearest_code_in_the_lookup_space(lookup_dim, l2_normalize):
    torch.manual_seed(0)
    model = ViTVQAutoencoder(lookup_dim=lookup_dim, l2_normalize=l2_normalize).eval()
    quantizer = model.quantizer
    assert quantizer.codebook.shape == (512, lookup_dim or 128)
    with torch.no_grad():
        x = _images(4)
        z = model.encoder(x)
        looked_up = quantizer.project_in(z).permute(0, 2, 3, 1).reshape(-1, lookup_dim or 128)
        # codes spread like the encodings (N(0, 1) codes would all lie far from these small ones, one nearest to all)
        quantizer.codebook.copy_(looked_up.mean(0) + looked_up.std(0) * torch.randn_like(quantizer.codebook))
        quantized, _, indices = model.encode(x)
        looked_up = looked_up.numpy()
        codes = quantizer.codebook.numpy()
        if l2_normalize:  # nearest on the unit sphere = highest cosine similarity
            cosine = (looked_up / np.linalg.norm(looked_up, axis=1, keepdims=True)) @ (
                codes / np.linalg.norm(codes, axis=1, keepdims=True)).T
            expected = cosine.argmax(axis=1)
        else:
            expected = ((looked_up[:, None] - codes[None]) ** 2).sum(-1).argmin(axis=1)
        assert np.array_equal(indices.reshape(-1).numpy(), expected)
        assert len(np.unique(expected)) > 1
        torch.testing.assert_close(quantized, quantizer.decode_indices(indices), rtol=1e-5, atol=1e-5)


def test_the_decoder_puts_each_tokens_values_into_its_own_patch_then_splits_mu_and_log_b():
    torch.manual_seed(0)
    model = ViTVQAutoencoder()
    weight = model.last_layer()
    assert weight.shape == (2 * 16, 512) and weight.requires_grad and weight is model.decoder.head.fc2.weight
    quantized = model.encode(_images()).quantized.detach()
    with torch.no_grad():
        weight.zero_()  # nothing after the last layer: each token's pixels are its bias now
        values = torch.arange(32, dtype=torch.float32) / 8 - 2  # (channel, row, column) of the patch, row-major
        model.decoder.head.fc2.bias.copy_(values)
        images, log_scale = model.decode_distribution(quantized)
    patch = values.reshape(2, 4, 4)
    torch.testing.assert_close(images, vit.location_to_images(patch[0]).repeat(2, 1, 8, 8), rtol=0, atol=1e-6)
    torch.testing.assert_close(log_scale, patch[1].repeat(2, 1, 8, 8), rtol=0, atol=0)
    plain = ViTDecoder(1, 32, 4, width=32, depth=1, heads=2, mlp=64, in_dim=32)
    with torch.no_grad():
        plain.head.fc2.weight.zero_()
        plain.head.fc2.bias.copy_(torch.arange(16.0))
        out = plain(torch.randn(1, 32, 8, 8))
    assert torch.equal(out[0, 0, 4:8, 12:16], torch.arange(16.0).reshape(4, 4))  # token (1, 3)'s patch


def test_a_token_changes_only_its_own_patch_before_the_blocks_mix_them():
    torch.manual_seed(0)
    encoder = ViTEncoder(1, 32, 4, width=32, depth=0, heads=2, mlp=64, out_dim=16)
    x = _images(1)
    changed = x.clone()
    changed[:, :, 4:8, 12:16] += 1  # patch (1, 3)
    difference = (encoder(changed) - encoder(x)).abs().sum(1)[0]
    assert difference[1, 3] > 0 and difference.sum() == difference[1, 3]


def test_the_unmap_inverts_dalles_map_and_the_loss_inverts_the_unmap():
    v = torch.linspace(0, 1, 11, dtype=torch.float64)
    squashed = squash(v)  # the loss's phi
    np.testing.assert_allclose(squashed.numpy(), 0.8 * v.numpy() + 0.1, rtol=0, atol=1e-15)  # (1 - 2 eps) v + eps
    np.testing.assert_allclose(vit.unsquash(squashed).numpy(), v.numpy(), rtol=0, atol=1e-15)
    mu = torch.log(squashed / (1 - squashed))  # logit: the location whose median sigmoid(mu) is phi(v)
    np.testing.assert_allclose(vit.location_to_images(mu).numpy(), 2 * v.numpy() - 1, rtol=0, atol=1e-12)
    torch.testing.assert_close(vit.location_to_images(torch.tensor([-40.0, 40.0])), torch.tensor([-1.25, 1.25]))
    locations = torch.linspace(-8, 8, 33)  # float32, as trained
    torch.testing.assert_close(location_from_images(vit.location_to_images(locations)), locations, rtol=0, atol=1e-3)
    np.testing.assert_allclose(location_from_images(vit.location_to_images(mu)).numpy(), mu.numpy(), atol=1e-12)


def test_the_logit_laplace_loss_reads_mu_off_the_reconstruction():
    torch.manual_seed(0)
    model = ViTVQAutoencoder()
    x = _images()
    out = model(x)
    location = model.decoder(model.encode(x).quantized).chunk(2, dim=1)[0]  # the decoder's raw mu
    direct = logit_laplace_nll((x + 1) / 2, location, out.log_scale)
    loss, _ = reconstruction_loss(x, out.images, l1_weight=0.0, logit_laplace_weight=1.0, reconstruction=out)
    torch.testing.assert_close(loss, direct, rtol=1e-5, atol=1e-5)
    loss.backward()
    assert model.decoder.head.fc2.weight.grad.abs().sum() > 0


def test_sincos_positions_are_a_fixed_buffer_of_rows_then_columns():
    torch.manual_seed(0)
    learned, fixed = ViTVQAutoencoder(), ViTVQAutoencoder(positions="sincos")
    assert parameter_count(learned) - parameter_count(fixed) == 2 * 64 * 128
    assert "positions" in dict(fixed.encoder.named_buffers()) and fixed.encoder.positions.shape == (1, 64, 128)
    table = vit.sincos_positions(8, 3, 5).reshape(3, 5, 8)  # 2 frequencies per half: 1 and 1 / 100
    rows, cols = np.meshgrid(np.arange(3), np.arange(5), indexing="ij")
    expected = np.stack([np.sin(rows), np.sin(rows / 100), np.cos(rows), np.cos(rows / 100),
                         np.sin(cols), np.sin(cols / 100), np.cos(cols), np.cos(cols / 100)], axis=-1)
    np.testing.assert_allclose(table.numpy(), expected, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="learned' or 'sincos"):
        ViTVQAutoencoder(positions="rope")


def test_shapes_must_fit():
    with pytest.raises(ValueError, match="patches"):
        ViTVQAutoencoder(resolution=30)
    with pytest.raises(ValueError, match="heads"):
        ViTVQAutoencoder(width=100, heads=3)


def _closed_form(width, depth, mlp, inner, side, patch, channels, out, first):
    """Parameters of one network: `first` the patch embedding or input projection; per block two LayerNorms 4 w,
    q/k/v and output projections 4 w i + 3 i + w, the MLP 2 w m + m + w; the positions; the head's LayerNorm, two
    linears."""
    block = 4 * width + 4 * width * inner + 3 * inner + width + 2 * width * mlp + mlp + width
    head = 2 * width + width * mlp + mlp + mlp * out + out
    return first + side * side * width + depth * block + head


# Table 1's parameters are per network; (encoder, decoder) relative to them (the module docstring): Base -0.3% /
# -1.8%, Small -12.7% / -13.8%, Large +7.6% / +6.8% with 1280-wide attention, +0.6% / -0.2% with 16 heads of 64
GAPS = {("small", None): ((-0.128, -0.126), (-0.139, -0.137)), ("base", None): ((-0.004, -0.003), (-0.018, -0.017)),
        ("large", None): ((0.075, 0.076), (0.067, 0.068)), ("large", 64): ((0.005, 0.006), (-0.003, -0.002))}


@pytest.mark.parametrize("size, head_dim", sorted(GAPS, key=str))
def test_the_papers_networks_have_the_closed_form_counts_near_table_1(size, head_dim):
    config = vit.PAPER_SIZES[size]
    width, mlp = config["width"], config["mlp"]
    inner = config["heads"] * head_dim if head_dim else width
    encoder, decoder = vit.paper_network(size, "encoder", head_dim), vit.paper_network(size, "decoder", head_dim)
    assert parameter_count(encoder) == _closed_form(width, config["depth"], mlp, inner, 32, 8, 3, width,
                                                    first=3 * 64 * width + width)
    assert parameter_count(decoder) == _closed_form(width, config["depth"], mlp, inner, 32, 8, 3, 6 * 64, first=0)
    for network, (low, high) in zip((encoder, decoder), GAPS[size, head_dim], strict=True):
        assert low <= parameter_count(network) / config["params"] - 1 <= high


def test_the_default_is_small_enough_for_a_cpu_step():
    torch.manual_seed(0)
    model = ViTVQAutoencoder()
    counts = [parameter_count(part) for part in (model, model.encoder, model.decoder, model.quantizer)]
    assert counts == [1_844_160, 935_424, 884_000, 24_736]  # the module docstring's numbers
    assert counts[0] < 2_000_000  # 1/3 of the conv VQ-GAN default's 5.6M; 0.5 s per batch-64 step on 2 CPU cores
