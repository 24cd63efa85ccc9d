"""The vector quantizer (models/vq.py) against direct computations: nearest codes by brute force, the
straight-through gradient, where beta sits (the papers' formula vs taming-transformers's legacy default), the EMA
codebook update, and ViT-VQGAN's factorized l2-normalised lookup."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from models.vq import VectorQuantizer


def _map(seed=0, shape=(2, 4, 3, 5)):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape)).float()


def _vectors(z):
    return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).numpy()


def test_each_position_gets_its_nearest_code_and_the_decoder_sees_that_code():
    torch.manual_seed(0)
    vq = VectorQuantizer(16, 4)
    vq.codebook.data.normal_()
    z = _map()
    out, _, indices = vq(z)
    expected = cdist(_vectors(z), vq.codebook.detach().numpy(), "sqeuclidean").argmin(axis=1)
    assert indices.shape == (2, 3, 5) and np.array_equal(indices.reshape(-1).numpy(), expected)
    np.testing.assert_allclose(_vectors(out.detach()), vq.codebook.detach().numpy()[expected], atol=1e-6)
    np.testing.assert_allclose(vq.decode_indices(indices).detach().numpy(), out.detach().numpy(), atol=1e-6)


def test_the_gradient_passes_straight_through_to_the_encoder():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 4)
    z = _map().requires_grad_()
    out, _, _ = vq(z)
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    assert torch.equal(z.grad, weights)  # d out / d z is the identity
    assert vq.codebook.grad is None or not vq.codebook.grad.any()  # the codes learn from the loss only


@pytest.mark.parametrize("legacy", [False, True])
def test_beta_weighs_the_commitment_term_unless_legacy_puts_it_on_the_codebook_term(legacy):
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 4, beta=0.25, legacy=legacy)
    vq.codebook.data.normal_()
    z = _map().requires_grad_()
    _, loss, indices = vq(z)
    loss.backward()
    flat, codes = _vectors(z.detach()), vq.codebook.detach().numpy()
    chosen, n = codes[indices.reshape(-1).numpy()], flat.size
    encoder_weight, codebook_weight = (1.0, 0.25) if legacy else (0.25, 1.0)
    assert loss.item() == pytest.approx(1.25 * ((flat - chosen) ** 2).mean(), rel=1e-5)  # both terms: one value
    np.testing.assert_allclose(_vectors(z.grad), encoder_weight * 2 * (flat - chosen) / n, rtol=1e-4, atol=1e-7)
    expected = np.zeros_like(codes)
    np.add.at(expected, indices.reshape(-1).numpy(), codebook_weight * 2 * (chosen - flat) / n)
    np.testing.assert_allclose(vq.codebook.grad.numpy(), expected, rtol=1e-4, atol=1e-7)


def test_the_ema_codebook_is_the_smoothed_decayed_mean_of_its_assigned_vectors():
    torch.manual_seed(0)
    vq = VectorQuantizer(6, 4, ema=True, decay=0.9, eps=1e-5)
    vq.codebook.normal_()
    vq.code_sum.copy_(vq.codebook)
    before_codes, before_sum = vq.codebook.numpy().copy(), vq.code_sum.numpy().copy()
    z = _map()
    _, loss, indices = vq.train()(z)
    flat, assigned = _vectors(z), indices.reshape(-1).numpy()
    assert np.array_equal(assigned, cdist(flat, before_codes, "sqeuclidean").argmin(axis=1))
    counts = np.bincount(assigned, minlength=6)
    sums = np.zeros((6, 4))
    np.add.at(sums, assigned, flat)
    size = 0.1 * counts
    code_sum = 0.9 * before_sum + 0.1 * sums
    smoothed = (size + 1e-5) / (size.sum() + 6 * 1e-5) * size.sum()
    np.testing.assert_allclose(vq.codebook.numpy(), code_sum / smoothed[:, None], rtol=1e-5)
    assert loss.item() == pytest.approx(0.25 * ((flat - before_codes[assigned]) ** 2).mean(), rel=1e-5)
    frozen = vq.codebook.clone()
    vq.eval()(z)
    assert torch.equal(vq.codebook, frozen)  # evaluation never moves the codes
    with pytest.raises(ValueError, match="legacy"):
        VectorQuantizer(6, 4, ema=True, legacy=True)


def test_factorized_l2_codes_match_by_cosine_similarity_in_the_projected_space():
    torch.manual_seed(0)
    vq = VectorQuantizer(32, 4, lookup_dim=2, l2_normalize=True)
    vq.codebook.data.normal_()
    z = _map(shape=(2, 4, 4, 4))
    out, _, indices = vq(z)
    weight, bias = vq.project_in.weight.detach()[:, :, 0, 0].numpy(), vq.project_in.bias.detach().numpy()
    projected = _vectors(z) @ weight.T + bias
    codes = vq.codebook.detach().numpy()
    cosine = (projected / np.linalg.norm(projected, axis=1, keepdims=True)) @ (
        codes / np.linalg.norm(codes, axis=1, keepdims=True)).T
    assert np.array_equal(indices.reshape(-1).numpy(), cosine.argmax(axis=1))
    assert out.shape == z.shape  # projected back to the encoder's width
    unit = vq.codes()[indices].norm(dim=-1)
    np.testing.assert_allclose(unit.detach().numpy(), 1.0, rtol=1e-6)
