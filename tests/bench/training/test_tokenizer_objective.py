"""VQ-GAN's stage-1 objective (bench/training/tokenizer_objective.py) against direct computations: the adaptive
weight against gradient norms taken by hand, its clamp, the D start, the halved hinge and the weighted sum."""

import numpy as np
import pytest
import torch

from bench.training import tokenizer_objective as obj


def _decoder_and_images(seed=0):
    """A one-layer 'decoder' w: reconstructions w @ h, so dL/dw has a closed form."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(6, 5, generator=g, requires_grad=True)
    h = torch.randn(5, 4, generator=g)
    x = torch.randn(6, 4, generator=g)
    return w, h, x


def test_the_adaptive_weight_is_the_ratio_of_the_two_gradient_norms_at_the_last_layer():
    w, h, x = _decoder_and_images()
    rec = w @ h
    rec_loss = (x - rec).abs().mean()
    gan_loss = -(3.0 * rec).mean()  # a critic that scores 3 x the pixel
    lam = obj.adaptive_weight(rec_loss, gan_loss, w, disc_weight=0.8)
    # by hand: dL_rec/dw = -sign(x - wh) h^T / n, dL_GAN/dw = -3 * 1 h^T / n
    r, hh, xx, n = (w @ h).detach().numpy(), h.numpy(), x.numpy(), x.numel()
    rec_grad = -np.sign(xx - r) @ hh.T / n
    gan_grad = -3.0 * np.ones_like(r) @ hh.T / n
    expected = np.linalg.norm(rec_grad) / (np.linalg.norm(gan_grad) + 1e-4) * 0.8
    assert lam.item() == pytest.approx(expected, rel=1e-5) and not lam.requires_grad
    (rec_loss + lam * gan_loss).backward()  # the graphs were kept for the step's own backward pass
    assert w.grad is not None


def test_the_weight_is_clamped_where_the_gan_gradient_vanishes():
    w, h, x = _decoder_and_images(1)
    rec_loss = (x - w @ h).abs().mean()
    flat_critic = (0.0 * (w @ h)).mean()  # no gradient at all: the ratio would be ||g_rec|| / 1e-4
    assert obj.adaptive_weight(rec_loss, flat_critic, w).item() == pytest.approx(
        min(torch.autograd.grad(rec_loss, w, retain_graph=True)[0].norm().item() / 1e-4, 1e4), rel=1e-5)
    huge = (1e3 * (x - w @ h).abs()).mean()
    assert obj.adaptive_weight(huge, flat_critic, w).item() == 1e4


def test_d_terms_start_at_disc_start_and_the_hinge_is_halved():
    assert [obj.gan_factor(s, 100) for s in (0, 99, 100, 500)] == [0.0, 0.0, 1.0, 1.0]
    real, fake = torch.tensor([0.5, 2.0, -1.0]), torch.tensor([-2.0, 0.3, 1.0])
    hinge = 0.5 * (np.maximum(0, 1 - real.numpy()).mean() + np.maximum(0, 1 + fake.numpy()).mean())
    assert obj.discriminator_loss(real, fake, step=100, disc_start=100).item() == pytest.approx(hinge)
    assert obj.discriminator_loss(real, fake, step=99, disc_start=100).item() == 0.0


def test_the_autoencoder_loss_sums_its_weighted_terms_and_logs_lambda_before_d_starts():
    w, h, x = _decoder_and_images(2)
    rec = w @ h
    rec_loss, _ = obj.reconstruction_loss(x, rec)
    logits_fake = rec.sum(dim=0)  # a critic on the reconstructions
    vq = torch.tensor(0.3)
    before, logs = obj.autoencoder_loss(rec_loss, logits_fake, vq, w, step=5, disc_start=10, codebook_weight=2.0)
    assert before.item() == pytest.approx(rec_loss.item() + 2.0 * 0.3) and logs["lambda"] > 0
    after, logs = obj.autoencoder_loss(rec_loss, logits_fake, vq, w, step=10, disc_start=10, codebook_weight=2.0)
    expected = rec_loss.item() + logs["lambda"] * -logits_fake.mean().item() + 0.6
    assert after.item() == pytest.approx(expected, rel=1e-5) and logs["gan_factor"] == 1.0


def test_the_reconstruction_loss_adds_the_weighted_per_image_perceptual_distance():
    x, rec = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.5)
    distance = lambda a, b: torch.tensor([[[[1.0]]], [[[3.0]]]])  # noqa: E731 - per image
    loss, mean_distance = obj.reconstruction_loss(x, rec, distance, perceptual_weight=0.1)
    assert loss.item() == pytest.approx(0.5 + 0.1 * 2.0) and mean_distance.item() == 2.0
    assert obj.reconstruction_loss(x, rec)[1] is None
