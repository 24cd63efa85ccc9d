"""Resampling with finite impulse response low-pass filters, as the StyleGAN and R3GAN families use.

A 1-D filter's taps give the separable 2-D kernel outer(taps, taps) / sum. Upsampling inserts zeros and
filters with gain 4 (the image mean is kept); downsampling filters and keeps every second pixel. Every
operation works per channel (depthwise), so one filter serves any channel count.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

FIR_1331 = (1.0, 3.0, 3.0, 1.0)  # [1, 2, 1] convolved with [1, 1]: the 4-tap bilinear filter (StyleGAN2, R3GAN)
FIR_121 = (1.0, 2.0, 1.0)  # StyleGAN's blur


def fir_kernel(taps: tuple[float, ...]) -> torch.Tensor:
    """The normalised separable 2-D kernel of a 1-D filter (sums to 1)."""
    t = torch.tensor(taps, dtype=torch.float32)
    kernel = torch.outer(t, t)
    return kernel / kernel.sum()


def _depthwise(kernel: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return kernel.to(x.dtype).expand(x.shape[1], 1, *kernel.shape).contiguous()


def blur(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Filter every channel with `kernel` after padding (before, after) zeros on both axes."""
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    return F.conv2d(x, _depthwise(kernel.flip(0, 1), x), groups=x.shape[1])


def upsample(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """x2: zeros between pixels, then the low-pass with gain 4. A 4-tap kernel gives exactly 2H x 2W."""
    taps = kernel.shape[0]
    return F.conv_transpose2d(x, _depthwise(kernel * 4, x), stride=2, padding=(taps - 2) // 2 + (taps % 2),
                              output_padding=taps % 2, groups=x.shape[1])


def downsample(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Low-pass, then every second pixel: H x W -> H/2 x W/2 for a 4-tap kernel."""
    taps = kernel.shape[0]
    return F.conv2d(x, _depthwise(kernel, x), stride=2, padding=(taps - 1) // 2, groups=x.shape[1])


class Upsample(nn.Module):
    """x2 upsampling with a FIR low-pass filter (default [1, 3, 3, 1])."""

    def __init__(self, taps: tuple[float, ...] = FIR_1331) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel(taps), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample(x, self.kernel)


class Downsample(nn.Module):
    """Low-pass with a FIR filter (default [1, 3, 3, 1]), then keep every second pixel."""

    def __init__(self, taps: tuple[float, ...] = FIR_1331) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel(taps), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downsample(x, self.kernel)


class Blur(nn.Module):
    """A FIR low-pass at the same resolution (size kept for odd taps; `pad` overrides the padding)."""

    def __init__(self, taps: tuple[float, ...], pad: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel(taps), persistent=False)
        n = len(taps)
        self.pad = pad if pad is not None else ((n - 1) // 2, n // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return blur(x, self.kernel, self.pad)
