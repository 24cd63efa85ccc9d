"""Regularizers and training tricks as small, separately testable pieces of math.

Gradient penalties return the penalty *before* its weight; the objective multiplies (bench/training/objective.py).
Every random draw takes an explicit torch.Generator so a run stays reproducible and resumable.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
from torch.func import functional_call

Critic = Callable[[torch.Tensor], torch.Tensor]


def _input_gradients(d: Critic, x: torch.Tensor) -> torch.Tensor:
    """dD/dx per sample, flattened, with the graph kept so the penalty itself can be trained through."""
    x = x.detach().requires_grad_(True)
    return _gradients_of(d(x), x)


def _gradients_of(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1)


def _uniform(shape: tuple[int, ...], like: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    return torch.rand(shape, generator=rng).to(device=like.device, dtype=like.dtype)


def wgan_gp_penalty(d: Critic, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Gulrajani et al. 2017, Alg. 1: E[(||grad D(x_hat)||_2 - 1)^2], x_hat = e x + (1 - e) x~, e ~ U[0,1]
    per sample."""
    eps = _uniform((real.shape[0],) + (1,) * (real.dim() - 1), real, rng)
    x_hat = eps * real.detach() + (1.0 - eps) * fake.detach()
    return ((_input_gradients(d, x_hat).norm(dim=1) - 1.0) ** 2).mean()


def dragan_penalty(d: Critic, real: torch.Tensor, rng: torch.Generator, spread: float = 0.5) -> torch.Tensor:
    """Kodali et al. 2017 (reference code): perturb x_p = x + 0.5 std(x) u, u ~ U[0,1] elementwise, then
    E[(||grad D(x + a (x_p - x))||_2 - 1)^2] with a ~ U[0,1] per sample; std over the whole batch (the
    population std, as numpy's default in the authors' code)."""
    real = real.detach()
    perturbed = real + spread * real.std(unbiased=False) * _uniform(tuple(real.shape), real, rng)
    alpha = _uniform((real.shape[0],) + (1,) * (real.dim() - 1), real, rng)
    x_hat = real + alpha * (perturbed - real)
    return ((_input_gradients(d, x_hat).norm(dim=1) - 1.0) ** 2).mean()


def zero_centered_penalty(d: Critic, x: torch.Tensor) -> torch.Tensor:
    """Mescheder et al. 2018 (arXiv:1801.04406): E[||grad D(x)||^2]. On reals it is R1, on fakes R2;
    the recipe's gamma multiplies it by gamma / 2."""
    return _input_gradients(d, x).pow(2).sum(dim=1).mean()


def zero_centered_penalty_of(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The same penalty from a forward pass already made: `out` = D(x), with `x` a leaf that requires grad
    (R1/R2 taken from the loss's own pass, as brownvc/R3GAN does, saves a forward pass of D per penalty)."""
    return _gradients_of(out, x).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, clip: float) -> None:
    """WGAN (Arjovsky et al. 2017, Alg. 1): clamp every parameter of the critic to [-c, c]."""
    for p in module.parameters():
        p.clamp_(-clip, clip)


def instance_noise_sigma(sigma0: float, images: int, budget: int) -> float:
    """Instance noise (Sonderby et al. 2017; Arjovsky & Bottou 2017): Gaussian noise on every D input,
    its std annealed linearly from sigma0 to 0 over the budget."""
    return sigma0 * max(0.0, 1.0 - images / max(1, budget))


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Salimans et al. 2016, Sec. 3.1: ||E f(x) - E f(G(z))||_2^2 over D's intermediate features."""
    return (real_features.detach().mean(dim=0) - fake_features.mean(dim=0)).pow(2).sum()


class HistoricalAverage:
    """Salimans et al. 2016, Sec. 3.3: penalty ||theta - (1/t) sum_{i<=t} theta_i||^2 against the running
    mean of a player's past parameters (updated after each of its steps)."""

    def __init__(self, module: nn.Module) -> None:
        self.count = 0
        self.mean = [torch.zeros_like(p) for p in module.parameters()]

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.count += 1
        for avg, p in zip(self.mean, module.parameters(), strict=True):
            avg.add_((p.detach() - avg) / self.count)

    def penalty(self, module: nn.Module) -> torch.Tensor:
        terms = [(p - avg).pow(2).sum() for avg, p in zip(self.mean, module.parameters(), strict=True)]
        return torch.stack(terms).sum() if self.count else terms[0].new_zeros(())

    def state_dict(self) -> dict:
        return {"count": self.count, "mean": [t.clone() for t in self.mean]}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])
        self.mean = [t.clone() for t in state["mean"]]


def unrolled_critic(d: nn.Module, opt: torch.optim.Adam, steps: int,
                    d_loss: Callable[[Critic, int], torch.Tensor], second_order: bool = True) -> Critic:
    """Metz et al. 2017 (arXiv:1611.02163): D after `steps` further Adam updates, as a function.

    The updates run on copies of D's parameters and Adam moments (the real D and its optimizer are not
    touched); `d_loss(critic, i)` is D's loss at unrolling step i. With second_order the updates stay in
    the graph, so G's loss through the returned critic differentiates through them, as in the paper.
    """
    group = opt.param_groups[0]
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    names = [n for n, _ in d.named_parameters()]
    params = {n: p.detach().clone().requires_grad_(True) for n, p in d.named_parameters()}
    buffers = {n: b.clone() for n, b in d.named_buffers()}
    moments = []
    for p in d.parameters():
        state = opt.state.get(p, {})
        moments.append((state["exp_avg"].clone() if state else torch.zeros_like(p),
                        state["exp_avg_sq"].clone() if state else torch.zeros_like(p),
                        float(state["step"]) if state else 0.0))

    def critic_of(weights: dict) -> Critic:
        return lambda x: functional_call(d, (weights, buffers), (x,))

    for i in range(steps):
        loss = d_loss(critic_of(params), i)
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=second_order)
        updated, next_moments = {}, []
        for n, grad, (m, v, t) in zip(names, grads, moments, strict=True):
            t += 1.0
            m = beta1 * m + (1.0 - beta1) * grad
            v = beta2 * v + (1.0 - beta2) * grad * grad
            m_hat, v_hat = m / (1.0 - beta1**t), v / (1.0 - beta2**t)
            updated[n] = params[n] - lr * m_hat / (v_hat.clamp_min(1e-30).sqrt() + eps)
            next_moments.append((m, v, t))
        params, moments = updated, next_moments
    return critic_of(params)


def path_length_penalty(images: torch.Tensor, ws: torch.Tensor, noise: torch.Tensor, target: float,
                        decay: float = 0.01) -> tuple[torch.Tensor, float]:
    """StyleGAN2's path length regularization (Karras et al. 2020, Eq. 4): with y ~ N(0, I) / sqrt(H W)
    (`noise` is the unscaled draw), the lengths ||J_w^T y||_2 = ||d(g(w) . y) / dw|| (squares summed over
    w's dimensions, averaged over the layers' ws) are pulled towards a exponential moving average a of
    themselves: penalty E[(length - a)^2] with a <- a + decay (mean length - a). Returns the penalty
    (before its weight) and the updated target."""
    y = noise / (images.shape[2] * images.shape[3]) ** 0.5
    (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
    lengths = grad.pow(2).sum(dim=2).mean(dim=1).sqrt()
    target = target + decay * (lengths.mean().item() - target)
    return (lengths - target).pow(2).mean(), target


def lazy_weight(weight: float, every: int, step: int) -> float:
    """Lazy regularization (Karras et al. 2020, Sec. 3.1): the penalty on every `every`-th step only, with
    its weight multiplied by `every` so the expected contribution per step is unchanged."""
    return weight * every if step % every == 0 else 0.0


def lazy_adam(lr: float, betas: tuple[float, float], every: int) -> tuple[float, tuple[float, float]]:
    """Adam's settings for a player regularized lazily every N > 1 steps (NVlabs' StyleGAN2 training loop):
    with c = N / (N + 1), lr x c and both betas ^ c. The lazy penalty is its own optimizer step, so N
    iterations take N + 1 steps; the adjustment keeps the learning rate and the moments' decay per
    iteration those of the plain recipe."""
    if every <= 1:
        return lr, betas
    c = every / (every + 1)
    return lr * c, (betas[0] ** c, betas[1] ** c)


def orthogonal_penalty(weights: list[torch.Tensor]) -> torch.Tensor:
    """BigGAN's orthogonal regularization (Brock et al. 2019, Eq. 3): sum over weights of
    ||W W^T * (1 - I)||_F^2, each conv kernel flattened to (out, in * k * k): it pushes the filters
    towards mutual orthogonality without constraining their norms. (The authors' code adds the gradient
    2 (W W^T * (1 - I)) W, i.e. half this term's.) Its weight beta is the recipe's `ortho_reg`."""
    terms = []
    for w in weights:
        flat = w.flatten(1)
        gram = flat @ flat.T
        terms.append((gram * (1.0 - torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype))).pow(2).sum())
    return torch.stack(terms).sum()
