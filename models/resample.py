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


class _FixedDepthwiseConv(torch.autograd.Function):
    """A depthwise convolution (or its transpose) by a constant filter, whose gradient is the adjoint operation
    through this same function, so it is differentiable any number of times. Through torch's own grouped
    convolution, the second derivative (R1 and R2 differentiate D's input gradient) also computes the
    filter's gradient, one group at a time, though the filter needs none; rosinality's BlurFunction and NVlabs'
    upfirdn2d avoid it the same way."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int, transposed: bool,
                output_padding: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(weight)
        ctx.setup = (stride, padding, transposed, tuple(x.shape[-2:]))
        if transposed:
            return F.conv_transpose2d(x, weight, stride=stride, padding=padding, output_padding=output_padding,
                                      groups=x.shape[1])
        return F.conv2d(x, weight, stride=stride, padding=padding, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (weight,) = ctx.saved_tensors
        stride, padding, transposed, size = ctx.setup
        taps = weight.shape[-1]
        if transposed:
            adjoint = _FixedDepthwiseConv.apply(grad, weight, stride, padding, False, (0, 0))
        elif stride == 1 and padding < taps:  # the transpose of a stride-1 correlation: the flipped one
            adjoint = _FixedDepthwiseConv.apply(grad, weight.flip(-2, -1), 1, taps - 1 - padding, False, (0, 0))
        else:  # the transpose, with the output padding that gives back the input's size
            full = [(n - 1) * stride - 2 * padding + k for n, k in zip(grad.shape[-2:], weight.shape[-2:], strict=True)]
            extra = (size[0] - full[0], size[1] - full[1])
            adjoint = _FixedDepthwiseConv.apply(grad, weight, stride, padding, True, extra)
        return adjoint, None, None, None, None, None


def depthwise_conv(x: torch.Tensor, kernel: torch.Tensor, stride: int = 1, padding: int = 0,
                   transposed: bool = False, output_padding: int = 0) -> torch.Tensor:
    """Every channel of x correlated with the 2-D `kernel` (or its transposed convolution), as F.conv2d with
    groups = channels; differentiable to any order in x, never in the kernel (a constant filter)."""
    return _FixedDepthwiseConv.apply(x, _depthwise(kernel, x).detach(), stride, padding, transposed,
                                     (output_padding, output_padding))


def blur(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Filter every channel with `kernel` after padding (before, after) zeros on both axes."""
    if pad[0] != pad[1]:
        x, pad = F.pad(x, (pad[0], pad[1], pad[0], pad[1])), (0, 0)
    return depthwise_conv(x, kernel.flip(0, 1), padding=pad[0])


def upsample(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """x2: zeros between pixels, then the low-pass with gain 4. A 4-tap kernel gives exactly 2H x 2W."""
    taps = kernel.shape[0]
    return depthwise_conv(x, kernel * 4, stride=2, padding=(taps - 2) // 2 + (taps % 2), transposed=True,
                          output_padding=taps % 2)


def downsample(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Low-pass, then every second pixel: H x W -> H/2 x W/2 for a 4-tap kernel."""
    taps = kernel.shape[0]
    return depthwise_conv(x, kernel, stride=2, padding=(taps - 1) // 2)


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
