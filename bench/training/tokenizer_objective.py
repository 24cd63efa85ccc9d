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
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench.training.losses import get_loss

LAMBDA_EPS, LAMBDA_MAX = 1e-4, 1e4


def gan_factor(step: int, disc_start: int, disc_factor: float = 1.0) -> float:
    """The GAN terms' factor at `step`: 0 before `disc_start`, `disc_factor` from it on."""
    return disc_factor if step >= disc_start else 0.0


def reconstruction_loss(x: torch.Tensor, x_rec: torch.Tensor,
                        perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                        perceptual_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(L_rec, the mean perceptual distance or None): the per-pixel L1 plus `perceptual_weight` times the
    per-image distance `perceptual(x, x_rec)` (shape N or N x 1 x 1 x 1), averaged over pixels and images."""
    per_pixel = (x - x_rec).abs()
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
