"""Adversarial losses, by name: each maps discriminator outputs to the scalars D and G minimise.

`d_loss(real, fake, real_label)` and `g_loss(real, fake)` take D's raw outputs (logits for the
cross-entropy losses, critic values for the Wasserstein ones). `real` is only passed to `g_loss` of
losses that pair real and fake samples (`needs_real_for_g`), so the others cost no extra D pass.
`real_label` < 1 is one-sided label smoothing (Salimans et al. 2016); only losses with a real target
accept it. `penalty` names the gradient penalty a loss is defined with and `clip` marks WGAN's weight
clipping; the objective applies both (bench/training/regularizers.py). `defaults` are the recipe values of the
loss's own paper, which `+<loss>` applies and the loss sweep uses as its sample 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Loss:
    name: str
    paper: str
    d_loss: Callable[..., torch.Tensor]  # (real, fake, real_label=1.0) -> scalar
    g_loss: Callable[[torch.Tensor | None, torch.Tensor], torch.Tensor]  # (real or None, fake) -> scalar
    needs_real_for_g: bool = False
    smoothable: bool = False
    penalty: str | None = None  # "wgan-gp" | "dragan": the gradient penalty the loss is defined with
    clip: bool = False  # WGAN: clip every D weight to [-clip, clip] after each D step
    defaults: dict[str, Any] = field(default_factory=dict)
    # D's decision boundary on its raw output (logit 0; 0.5 between LSGAN's targets): D "is right" on a real
    # above it and on a fake below it. None for critics (Wasserstein, relativistic), whose outputs have no
    # absolute meaning, only their real-fake gap.
    boundary: float | None = 0.0


def _no_smoothing(name: str, real_label: float) -> None:
    if real_label != 1.0:
        raise ValueError(f"label smoothing needs a real target; loss {name!r} has none. Use it with mm, ns, "
                         "dragan or lsgan")


def _cross_entropy_d(real: torch.Tensor, fake: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """-t log sigmoid(r) - (1 - t) log(1 - sigmoid(r)) - log(1 - sigmoid(f)), with real target t."""
    real_term = real_label * F.softplus(-real) + (1.0 - real_label) * F.softplus(real)
    return real_term.mean() + F.softplus(fake).mean()


def _mm_g(real: torch.Tensor | None, fake: torch.Tensor) -> torch.Tensor:
    """Minimise log(1 - sigmoid(f)) = -softplus(f): the saturating minimax objective."""
    return -F.softplus(fake).mean()


def _ns_g(real: torch.Tensor | None, fake: torch.Tensor) -> torch.Tensor:
    """Minimise -log sigmoid(f) = softplus(-f)."""
    return F.softplus(-fake).mean()


def _lsgan_d(real: torch.Tensor, fake: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] with a = 0, b = 1 (the real target)."""
    return 0.5 * ((real - real_label) ** 2).mean() + 0.5 * (fake**2).mean()


def _lsgan_g(real: torch.Tensor | None, fake: torch.Tensor) -> torch.Tensor:
    """1/2 E[(D(G(z)) - c)^2] with c = 1."""
    return 0.5 * ((fake - 1.0) ** 2).mean()


def _wasserstein_d(real: torch.Tensor, fake: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """E[f(G(z))] - E[f(x)]: the negated Kantorovich-Rubinstein estimate of W1."""
    _no_smoothing("wgan/wgan-gp", real_label)
    return fake.mean() - real.mean()


def _wasserstein_g(real: torch.Tensor | None, fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def _hinge_d(real: torch.Tensor, fake: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    _no_smoothing("hinge", real_label)
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _rp_d(real: torch.Tensor, fake: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """E[softplus(D(G(z)) - D(x))] over pairs (x_i, z_i): f(t) = -log sigmoid(-t) of the paired gap."""
    _no_smoothing("rpgan", real_label)
    return F.softplus(fake - real).mean()


def _rp_g(real: torch.Tensor | None, fake: torch.Tensor) -> torch.Tensor:
    """E[softplus(D(x) - D(G(z)))]: G pushes each fake above its paired real."""
    if real is None:
        raise ValueError("rpgan's generator loss pairs fakes with reals; pass the real outputs")
    return F.softplus(real - fake).mean()


LOSSES: dict[str, Loss] = {loss.name: loss for loss in [
    Loss("mm", "Goodfellow et al. 2014 (arXiv:1406.2661), minimax: G minimises log(1 - D(G(z)))",
         _cross_entropy_d, _mm_g, smoothable=True,
         defaults={"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 1}),
    Loss("ns", "Goodfellow et al. 2014 (arXiv:1406.2661), non-saturating: G minimises -log D(G(z))",
         _cross_entropy_d, _ns_g, smoothable=True,
         defaults={"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 1}),
    Loss("lsgan", "Mao et al. 2017 (arXiv:1611.04076), least squares with a=0, b=c=1",
         _lsgan_d, _lsgan_g, smoothable=True, boundary=0.5,
         defaults={"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 1}),
    Loss("wgan", "Arjovsky, Chintala & Bottou 2017 (arXiv:1701.07875), Wasserstein with weight clipping c",
         _wasserstein_d, _wasserstein_g, clip=True, boundary=None,
         defaults={"lr_g": 5e-5, "lr_d": 5e-5, "betas": (0.5, 0.999), "n_critic": 5, "clip": 0.01}),
    Loss("wgan-gp", "Gulrajani et al. 2017 (arXiv:1704.00028), Wasserstein with a gradient penalty on "
         "real/fake interpolates, lambda 10",
         _wasserstein_d, _wasserstein_g, penalty="wgan-gp", boundary=None,
         defaults={"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.0, 0.9), "n_critic": 5, "penalty_weight": 10.0}),
    Loss("dragan", "Kodali et al. 2017 (arXiv:1705.07215), NS loss with a gradient penalty around "
         "perturbed reals x + 0.5 std(x) U[0,1], lambda 10",
         _cross_entropy_d, _ns_g, smoothable=True, penalty="dragan",
         defaults={"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9), "n_critic": 1, "penalty_weight": 10.0}),
    Loss("hinge", "Lim & Ye 2017 (arXiv:1705.02894); Miyato et al. 2018 (arXiv:1802.05957), hinge D, "
         "G minimises -D(G(z))",
         _hinge_d, _wasserstein_g,
         defaults={"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 1}),
    Loss("rpgan", "Jolicoeur-Martineau 2019 (arXiv:1807.00734) relativistic pairing, as used by R3GAN "
         "(Huang et al. 2024, arXiv:2501.05441) with R1 and R2",
         _rp_d, _rp_g, needs_real_for_g=True, boundary=None,
         defaults={"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.0, 0.99), "n_critic": 1, "r1": 0.05, "r2": 0.05}),
]}


def get_loss(name: str) -> Loss:
    if name not in LOSSES:
        raise KeyError(f"unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]
