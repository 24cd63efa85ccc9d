"""VQ-GAN's stage-1 objective (Esser et al. 2021, CompVis/taming-transformers' VQLPIPSWithDiscriminator): what the
autoencoder and its patch discriminator minimise at one step.

Autoencoder:  L = L_rec + lambda * f(step) * L_GAN + codebook_weight * L_VQ, where
- L_rec = mean(|x - x_rec| + perceptual_weight * p(x, x_rec)) (pixel L1 plus a perceptual distance per image,
  LPIPS in the paper; the caller passes the distance it has);
- L_GAN = -mean(D(x_rec)), D's hinge generator term (bench/training/losses.py, "hinge");
- lambda, the adaptive weight, = ||dL_rec/dw|| / (||dL_GAN/dw|| + 1e-4) at the decoder's last layer w, clamped to
  [0, 1e4], treated as a constant, times `disc_weight`: it scales the GAN term to the reconstruction term's
  gradient at the decoder's output, so neither drowns the other;
- f(step) = disc_factor from `disc_start` steps on, 0 before (the reference's adopt_weight): D's term and D's own
  loss start late, once reconstructions are reasonable. Users of the reference report that reconstructions
  degrade when it starts; the tokenizer's curves log lambda and L_rec to show it.
Discriminator: f(step) * 0.5 * hinge(D(x), D(x_rec)): the reference halves the hinge sum that losses.py defines.

ViT-VQGAN (Yu et al. 2022, arXiv:2110.04627, sec. 3.3) reconstructs with a weighted sum instead:
L = L_VQ + 0.1 L_Adv + 0.1 L_Perceptual + 0.1 L_Logit-Laplace + 1.0 L_2 (a VGG-based perceptual loss, a StyleGAN
discriminator; the weights from one sweep, kept for all its data sets; the tokenizers of its representation-learning
results drop the perceptual term, whose VGG was trained with labels). `reconstruction_loss` takes those weights:
l1_weight=0, l2_weight=1, logit_laplace_weight=0.1, perceptual_weight=0.1 (its defaults, L1 alone, are VQ-GAN's).
The logit-Laplace term is DALL-E's likelihood (Ramesh et al. 2021, appendix A.3): a pixel x in [0, 1] is squashed
to x' = (1 - 2 eps) x + eps, eps = 0.1, away from the logit's poles, and logit(x') is Laplace(mu, b), so x' has
the density f(x' | mu, b) = exp(-|logit(x') - mu| / b) / (2 b x' (1 - x')), the 1 / (x' (1 - x')) being the
Jacobian of the logit; the loss is -ln f averaged over pixels. As DALL-E's, it is the density of x', not of x: the
constant ln(1 - 2 eps) of the squash is left out. The paper calls it a normalised L1, and reports that it mainly
helps codebook usage and L2 and the perceptual loss mainly FID.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from bench.training.losses import get_loss

if TYPE_CHECKING:
    from models.vq import Reconstruction

LAMBDA_EPS, LAMBDA_MAX = 1e-4, 1e4
LOGIT_LAPLACE_EPS = 0.1  # DALL-E's eps (models/vit_vqgan.py's decoder unmaps with the same)


def gan_factor(step: int, disc_start: int, disc_factor: float = 1.0) -> float:
    """The GAN terms' factor at `step`: 0 before `disc_start`, `disc_factor` from it on."""
    return disc_factor if step >= disc_start else 0.0


def squash(x: torch.Tensor, eps: float = LOGIT_LAPLACE_EPS) -> torch.Tensor:
    """DALL-E's phi: pixel values in [0, 1] -> [eps, 1 - eps], away from the logit's poles."""
    return (1 - 2 * eps) * x + eps


def location_from_images(images: torch.Tensor, eps: float = LOGIT_LAPLACE_EPS) -> torch.Tensor:
    """mu = logit(phi((images + 1) / 2)): the location whose reconstruction a logit-Laplace decoder returned as
    `images` = 2 phi^-1(sigmoid(mu)) - 1 (models/vit_vqgan.py's `location_to_images`, of which this is the inverse).
    The logit's argument is clamped to [1e-6, 1 - 1e-6] (|mu| <= 13.8), where float32's sigmoid has already lost mu
    to rounding."""
    return torch.logit(squash((images + 1) / 2, eps), eps=1e-6)


def _logit_laplace_nll_per_pixel(x: torch.Tensor, mu: torch.Tensor, log_b: torch.Tensor, eps: float) -> torch.Tensor:
    squashed = squash(x.clamp(0.0, 1.0), eps)  # augmentations may overshoot [0, 1] slightly
    logit = torch.log(squashed) - torch.log1p(-squashed)
    return math.log(2.0) + log_b + torch.log(squashed) + torch.log1p(-squashed) + (logit - mu).abs() * torch.exp(-log_b)


def logit_laplace_nll(x: torch.Tensor, mu: torch.Tensor, log_b: torch.Tensor,
                      eps: float = LOGIT_LAPLACE_EPS) -> torch.Tensor:
    """The mean over pixels of -ln f(x' | mu, b) = ln(2 b x' (1 - x')) + |logit(x') - mu| / b, x' the squashed
    pixel (module docstring): x in [0, 1] (clamped there), mu the location in logit space and log_b = ln b, all of
    one shape."""
    return _logit_laplace_nll_per_pixel(x, mu, log_b, eps).mean()


def reconstruction_loss(x: torch.Tensor, x_rec: torch.Tensor,
                        perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                        perceptual_weight: float = 1.0, l1_weight: float = 1.0, l2_weight: float = 0.0,
                        logit_laplace_weight: float = 0.0, reconstruction: Reconstruction | None = None,
                        eps: float = LOGIT_LAPLACE_EPS) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(L_rec, the mean perceptual distance or None): per pixel, `l1_weight` |x - x_rec| + `l2_weight` (x - x_rec)^2
    + `logit_laplace_weight` times the logit-Laplace NLL, plus `perceptual_weight` times the per-image distance
    `perceptual(x, x_rec)` (shape N or N x 1 x 1 x 1), averaged over pixels and images. x and x_rec are in [-1, 1].
    The NLL needs the autoencoder's `reconstruction` (its forward's output, x_rec its images) for the decoder's log b,
    its `log_scale`; the location mu is read off x_rec, which a logit-Laplace decoder (models/vit_vqgan.py) returns
    unclamped as phi^-1(sigmoid(mu)), so that it inverts (`location_from_images`)."""
    difference = x - x_rec
    per_pixel = l1_weight * difference.abs()  # the default: exactly VQ-GAN's |x - x_rec|
    if l2_weight:
        per_pixel = per_pixel + l2_weight * difference.square()
    if logit_laplace_weight:
        if reconstruction is None or reconstruction.log_scale is None:
            raise ValueError("the logit-Laplace term needs a reconstruction with the decoder's log_scale "
                             "(a logit-Laplace decoder: models/vit_vqgan.py with logit_laplace=True)")
        nll = _logit_laplace_nll_per_pixel((x + 1) / 2, location_from_images(x_rec, eps), reconstruction.log_scale, eps)
        per_pixel = per_pixel + logit_laplace_weight * nll
    if perceptual is None or perceptual_weight == 0:
        return per_pixel.mean(), None
    distance = perceptual(x, x_rec).reshape(len(x), *([1] * (x.dim() - 1)))
    return (per_pixel + perceptual_weight * distance).mean(), distance.mean()


def adaptive_weight(rec_loss: torch.Tensor, gan_loss: torch.Tensor, last_layer: torch.Tensor,
                    disc_weight: float = 1.0) -> torch.Tensor:
    """lambda = ||grad of rec_loss|| / (||grad of gan_loss|| + 1e-4) at `last_layer`, clamped to [0, 1e4], detached,
    times `disc_weight`. Both graphs are kept for the backward pass that follows."""
    rec_grad = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    gan_grad = torch.autograd.grad(gan_loss, last_layer, retain_graph=True)[0]
    ratio = rec_grad.norm() / (gan_grad.norm() + LAMBDA_EPS)
    return ratio.clamp(0.0, LAMBDA_MAX).detach() * disc_weight


def autoencoder_loss(rec_loss: torch.Tensor, logits_fake: torch.Tensor, vq_loss: torch.Tensor,
                     last_layer: torch.Tensor, step: int, disc_start: int, disc_weight: float = 1.0,
                     disc_factor: float = 1.0, codebook_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """The autoencoder's loss at `step` and its logged parts (lambda is computed, and logged, before D starts too,
    as the reference does: its curve around the start is what shows the jump)."""
    gan = get_loss("hinge").g_loss(None, logits_fake)
    lam = adaptive_weight(rec_loss, gan, last_layer, disc_weight)
    factor = gan_factor(step, disc_start, disc_factor)
    loss = rec_loss + lam * factor * gan + codebook_weight * vq_loss
    logs = {"loss_ae": loss, "rec": rec_loss, "gan_g": gan, "lambda": lam, "vq": vq_loss}
    return loss, {**{k: float(v.detach()) for k, v in logs.items()}, "gan_factor": factor}


def discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor, step: int, disc_start: int,
                       disc_factor: float = 1.0) -> torch.Tensor:
    """f(step) * 0.5 * (E[max(0, 1 - D(x))] + E[max(0, 1 + D(x_rec))])."""
    return gan_factor(step, disc_start, disc_factor) * 0.5 * get_loss("hinge").d_loss(logits_real, logits_fake)
