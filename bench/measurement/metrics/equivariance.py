"""Translation equivariance, EQ-T and EQ-T_frac (Karras et al. 2021, "Alias-Free Generative Adversarial
Networks", arXiv:2106.12423, Sec. 3 and Appendix E; NVlabs/stylegan3 metrics/equivariance.py).

The generator draws an image from ws, then again from the same ws with its input translated by t; the metric
is the PSNR in dB between the second image and the first translated by t, over the pixels where that
translation is defined. Images live in [-1, 1], so the peak is 2: PSNR = 20 log10(2) - 10 log10(MSE).
EQ-T: t rounded to whole pixels, the reference an exact shift (pixels whose source is outside the image are
masked). EQ-T_frac: t fractional, the reference a Lanczos interpolation (a = 3, i.e. 6 taps per axis,
normalised to sum 1), masked where the taps reach outside the image (a pixels on the side the content comes
from, a - 1 on the other). Each axis of t is uniform in [-1/8, 1/8] of the image size. As in the reference,
the squared errors and the mask are summed over all samples and one PSNR is taken of the pooled MSE (not a
mean of per-image PSNRs). The reference draws one t per batch; here every sample has its own, which
estimates the same expectation with less variance. torch is imported inside the functions, so the metric
catalog (which reads METRICS below) stays light for the stages that only print tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bench.measurement.metrics.info import MetricInfo

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

LANCZOS_A = 3
PEAK = 2.0  # the range of [-1, 1] images
MAX_SHIFT = 0.125  # of the image size, per axis

METRICS = (MetricInfo("eq_t", "EQ-T", lower_is_better=False, unit="dB", backbone="generator",
                      description="translation equivariance of G for whole-pixel shifts, PSNR"),
           MetricInfo("eq_t_frac", "EQ-T frac", lower_is_better=False, unit="dB", backbone="generator",
                      description="translation equivariance of G for sub-pixel shifts, PSNR"))


def psnr(squared_error_sum: float, count: float) -> float:
    """PSNR in dB of a mean squared error given as a sum over `count` values; inf when the error is zero."""
    mse = squared_error_sum / count
    return math.inf if mse == 0 else 20 * math.log10(PEAK) - 10 * math.log10(mse)


def _shift_axis(x: torch.Tensor, shifts: torch.Tensor, dim: int) -> torch.Tensor:
    """out[p] = x[p - s] along `dim` (2 = y, 3 = x) with a per-sample integer s, 0 where p - s is outside."""
    import torch

    size = x.shape[dim]
    source = torch.arange(size, device=x.device) - shifts.view(-1, 1)  # (N, size)
    inside = (source >= 0) & (source < size)
    view = (-1, 1, 1, size) if dim == 3 else (-1, 1, size, 1)
    index = source.clamp(0, size - 1).view(view).expand_as(x)
    return x.gather(dim, index) * inside.view(view).to(x.dtype)


def _axis_mask(size: int, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """(N, size): True for low <= p < high, per sample."""
    import torch

    p = torch.arange(size, device=low.device)
    return (p >= low.view(-1, 1)) & (p < high.view(-1, 1))


def integer_translation(x: torch.Tensor, shifts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, C, H, W) moved by whole pixels shifts (N, 2) = (x right, y down), and the (N, 1, H, W) mask of
    the pixels whose source lies inside the image."""
    sx, sy = shifts.round().long().unbind(1)
    out = _shift_axis(_shift_axis(x, sx, 3), sy, 2)
    h, w = x.shape[2:]
    mask_x = _axis_mask(w, sx.clamp(min=0), w + sx.clamp(max=0))
    mask_y = _axis_mask(h, sy.clamp(min=0), h + sy.clamp(max=0))
    return out, (mask_y.unsqueeze(2) & mask_x.unsqueeze(1)).unsqueeze(1)


def _lanczos_axis(x: torch.Tensor, shifts: torch.Tensor, dim: int) -> torch.Tensor:
    """out[p] = sum_m L(m - frac) x[p - floor(s) - m], m in [-(a - 1), a], L = sinc(t) sinc(t / a) normalised."""
    import torch

    whole = shifts.floor()
    frac = (shifts - whole).view(-1, 1)
    taps = torch.arange(-(LANCZOS_A - 1), LANCZOS_A + 1, device=x.device, dtype=x.dtype)
    t = taps - frac  # (N, 2a); |t| <= a
    weights = torch.sinc(t) * torch.sinc(t / LANCZOS_A)
    weights = weights / weights.sum(dim=1, keepdim=True)
    out = torch.zeros_like(x)
    for m in range(weights.shape[1]):
        out = out + weights[:, m].view(-1, 1, 1, 1) * _shift_axis(x, whole.long() + int(taps[m]), dim)
    return out


def fractional_translation(x: torch.Tensor, shifts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, C, H, W) moved by shifts (N, 2) pixels (x right, y down) by separable Lanczos-3 interpolation, and
    the (N, 1, H, W) mask of the pixels whose taps all lie inside the image."""
    shifts = shifts.to(x.dtype)
    out = _lanczos_axis(_lanczos_axis(x, shifts[:, 0], 3), shifts[:, 1], 2)
    h, w = x.shape[2:]
    wx, wy = shifts.floor().long().unbind(1)
    mask_x = _axis_mask(w, wx + LANCZOS_A, w + wx - (LANCZOS_A - 1))
    mask_y = _axis_mask(h, wy + LANCZOS_A, h + wy - (LANCZOS_A - 1))
    return out, (mask_y.unsqueeze(2) & mask_x.unsqueeze(1)).unsqueeze(1)


@contextmanager
def _evaluating(g: nn.Module) -> Iterator[None]:
    """g in eval mode without gradients, its previous mode restored afterwards."""
    import torch

    was_training = g.training
    g.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        g.train(was_training)


def _error_sums(g: nn.Module, z: torch.Tensor, shifts_for: Callable[[int], torch.Tensor], fractional: bool,
                noise_seed: int) -> tuple[float, float]:
    """Masked sum of squared errors and the number of values it covers, for one batch of latents;
    `shifts_for(image_size)` gives the (N, 2) pixel shifts."""
    import torch

    with _evaluating(g), torch.random.fork_rng(devices=[]):
        ws = g.styles(z)
        torch.manual_seed(noise_seed)
        original = g.synthesis(ws)
        shifts = shifts_for(original.shape[-1]).to(original)
        if not fractional:
            shifts = shifts.round()
        torch.manual_seed(noise_seed)
        translated = g.synthesis(ws, translate=shifts)
        reference, mask = (fractional_translation if fractional else integer_translation)(original, shifts)
        mask = mask.to(torch.float64)
        errors = (reference.double() - translated.double()).square() * mask
        return errors.sum().item(), mask.sum().item() * original.shape[1]


def translation_psnr(g: nn.Module, z: torch.Tensor, shifts: torch.Tensor, fractional: bool,
                     noise_seed: int = 0) -> float:
    """PSNR (dB) of g.synthesis(ws, translate=shifts) against g.synthesis(ws) translated by `shifts` (N, 2)
    output pixels (x right, y down; rounded to whole pixels unless `fractional`), ws = g.styles(z).

    The global torch RNG is seeded with `noise_seed` before each of the two synthesis calls (and restored
    afterwards), so per-pixel noise that a generator draws is the same in both images."""
    return psnr(*_error_sums(g, z, lambda _: shifts, fractional, noise_seed))


def eq_t(g: nn.Module, n: int, generator: torch.Generator, max_shift: float = MAX_SHIFT, fractional: bool = False,
         batch: int = 64) -> float:
    """EQ-T (integer shifts) or EQ-T_frac (fractional) in dB over n latents from `generator`, each with a shift
    uniform in [-max_shift, max_shift] x image size per axis; one PSNR of the MSE pooled over all of them."""
    import torch

    z = torch.randn(n, g.z_dim, generator=generator)
    fractions = (torch.rand(n, 2, generator=generator) * 2 - 1) * max_shift
    total_error = total_count = 0.0
    for start in range(0, n, batch):
        noise_seed = int(torch.randint(2**62, (1,), generator=generator))
        part = fractions[start:start + batch]
        error, count = _error_sums(g, z[start:start + batch], lambda size, part=part: part * size, fractional,
                                   noise_seed)
        total_error, total_count = total_error + error, total_count + count
    return psnr(total_error, total_count)
