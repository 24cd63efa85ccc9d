"""VQ-GAN's stage-1 objective (bench/training/tokenizer_objective.py) against direct computations: the adaptive
weight against gradient norms taken by hand, its clamp, the D start, the halved hinge and the weighted sum; and
ViT-VQGAN's reconstruction terms: the logit-Laplace NLL against scipy's Laplace density plus the Jacobian, its
normalisation, the weighted L1 + L2 + NLL + perceptual sum, and the unchanged defaults."""

import numpy as np
import pytest
import torch
from scipy import special, stats

from bench.training import tokenizer_objective as obj
from models.vq import Reconstruction


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


def _logit_laplace_case(seed=3, shape=(3, 2, 4, 5)):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=shape)
    x[0, 0, 0, :2] = [0.0, 1.0]  # the ends of the pixel range, where the squash matters
    return x, rng.normal(0, 2, size=shape), rng.normal(-1, 0.7, size=shape)


def _nll_by_scipy(x, mu, log_b):
    """-ln f(x' | mu, b): Laplace's log density of logit(x') written out by scipy, plus the Jacobian's
    -ln(x' (1 - x')), negated."""
    squashed = 0.8 * x + 0.1  # (1 - 2 eps) x + eps, eps = 0.1
    log_density = stats.laplace.logpdf(special.logit(squashed), loc=mu, scale=np.exp(log_b))
    return -(log_density - np.log(squashed) - np.log(1 - squashed))


def test_the_logit_laplace_nll_is_the_laplace_density_of_the_logit_with_its_jacobian():
    x, mu, log_b = _logit_laplace_case()
    nll = obj.logit_laplace_nll(*(torch.from_numpy(a) for a in (x, mu, log_b)))
    assert nll.dtype == torch.float64 and nll.item() == pytest.approx(_nll_by_scipy(x, mu, log_b).mean(), rel=1e-12)
    as_float = obj.logit_laplace_nll(*(torch.from_numpy(a).float() for a in (x, mu, log_b)))
    assert as_float.item() == pytest.approx(nll.item(), rel=1e-5)
    # the Jacobian is right: exp(-nll) integrates over x' in (eps, 1 - eps) to the Laplace mass of that logit range
    grid = torch.linspace(0, 1, 200001, dtype=torch.float64)
    mu0, b0 = 0.4, 0.6
    density = torch.exp(-obj._logit_laplace_nll_per_pixel(grid, torch.full_like(grid, mu0),
                                                          torch.full_like(grid, np.log(b0)), 0.1))
    mass = torch.trapezoid(density, grid).item() * 0.8  # dx' = (1 - 2 eps) dx
    expected = np.diff(stats.laplace.cdf(special.logit([0.1, 0.9]), loc=mu0, scale=b0))[0]
    assert mass == pytest.approx(expected, rel=1e-8)


def test_the_nll_gradient_in_log_b_vanishes_where_b_is_the_absolute_deviation():
    y, mu = special.logit(0.8 * 0.75 + 0.1), 0.2  # pixel 0.75
    log_b = torch.tensor(np.log(abs(y - mu)), requires_grad=True)  # d/d ln b of ln b + |y - mu| / b: 1 - |y - mu| / b
    obj.logit_laplace_nll(torch.tensor(0.75, dtype=torch.float64), torch.tensor(mu, dtype=torch.float64),
                          log_b).backward()
    assert abs(log_b.grad.item()) < 1e-12


def test_the_reconstruction_loss_is_the_weighted_sum_of_its_terms():
    x, mu, log_b = _logit_laplace_case(4)
    images, rec = 2 * x - 1, torch.from_numpy(mu).tanh()  # the targets in [-1, 1] and some reconstruction
    distance = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
    loss, mean_distance = obj.reconstruction_loss(
        torch.from_numpy(images), rec, lambda a, b: distance, perceptual_weight=0.1, l1_weight=0.3, l2_weight=1.0,
        logit_laplace_weight=0.1, reconstruction=Reconstruction(rec, torch.tensor(0.0), None, torch.from_numpy(log_b)))
    r = rec.numpy()
    location = special.logit(0.8 * (r + 1) / 2 + 0.1)  # the location whose unmapped median the reconstruction is
    per_pixel = 0.3 * np.abs(images - r) + (images - r) ** 2 + 0.1 * _nll_by_scipy(x, location, log_b)
    expected = (per_pixel + 0.1 * distance.numpy()[:, None, None, None]).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-9) and mean_distance.item() == pytest.approx(7 / 6)
    no_l1, _ = obj.reconstruction_loss(torch.from_numpy(images), rec, l1_weight=0.0, l2_weight=1.0)
    assert no_l1.item() == pytest.approx(((images - r) ** 2).mean(), rel=1e-12)
    for missing in (None, Reconstruction(rec, torch.tensor(0.0), None)):  # a decoder without log b
        with pytest.raises(ValueError, match="log_scale"):
            obj.reconstruction_loss(torch.from_numpy(images), rec, logit_laplace_weight=0.1, reconstruction=missing)


def test_the_defaults_are_still_vq_gans_l1():
    g = torch.Generator().manual_seed(5)
    x, rec = torch.rand(2, 1, 4, 4, generator=g) * 2 - 1, torch.rand(2, 1, 4, 4, generator=g) * 2 - 1
    unused = Reconstruction(rec, torch.tensor(0.0), None, torch.zeros_like(x))  # no weight: log_scale unused
    loss, distance = obj.reconstruction_loss(x, rec, reconstruction=unused)
    assert torch.equal(loss, (x - rec).abs().mean()) and distance is None
