"""The layers of the ProGAN / StyleGAN / StyleGAN2 families (Karras et al. 2018, 2019, 2020).

Equalized learning rate: weights are stored as N(0, 1) / lr_mul and scaled at run time by
gain * lr_mul / sqrt(fan_in), so Adam's per-parameter step sizes act on every layer at the same speed
(and a lr multiplier of 0.01 slows the mapping network a hundredfold). `LEAK` and `ACT_GAIN` are the
leaky ReLU slope and the gain sqrt(2) that keeps its output variance.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LEAK = 0.2
ACT_GAIN = math.sqrt(2.0)


def lrelu(x: torch.Tensor, gain: float = ACT_GAIN) -> torch.Tensor:
    """Leaky ReLU(0.2) times `gain` (StyleGAN2 applies sqrt(2) after the nonlinearity)."""
    out = F.leaky_relu(x, LEAK)
    return out * gain if gain != 1.0 else out


def pixel_norm(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """ProGAN's pixelwise feature vector normalization: x / sqrt(mean over channels of x^2 + eps)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=dim, keepdim=True) + eps)


class EqualLinear(nn.Module):
    """A dense layer with equalized learning rate: y = x (W * gain * lr_mul / sqrt(fan_in))^T + b * lr_mul."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0,
                 gain: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((c_out,), float(bias_init) / lr_mul)) if bias else None
        self.weight_scale = gain * lr_mul / math.sqrt(c_in)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.weight_scale, bias)


class EqualConv2d(nn.Module):
    """A conv layer with equalized learning rate (runtime scale gain / sqrt(c_in * k * k)), same padding."""

    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool = True, gain: float = 1.0,
                 stride: int = 1, padding: int | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.weight_scale = gain / math.sqrt(c_in * kernel * kernel)
        self.stride, self.padding = stride, kernel // 2 if padding is None else padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.weight_scale, self.bias, stride=self.stride, padding=self.padding)


class MappingNetwork(nn.Module):
    """z -> w: z normalised to unit second moment, then `layers` dense layers with leaky ReLU and a
    learning-rate multiplier (0.01 in StyleGAN/StyleGAN2). `w_avg` tracks the mean w during training
    (beta 0.995) for the truncation trick in W."""

    def __init__(self, z_dim: int, w_dim: int, layers: int = 8, lr_mul: float = 0.01,
                 w_avg_beta: float = 0.995) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.layers = nn.ModuleList(EqualLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.w_avg_beta = w_avg_beta

    def forward(self, z: torch.Tensor, track_w_avg: bool = True) -> torch.Tensor:
        x = pixel_norm(z)
        for layer in self.layers:
            x = lrelu(layer(x))
        if self.training and track_w_avg:
            with torch.no_grad():
                self.w_avg.lerp_(x.detach().mean(dim=0), 1.0 - self.w_avg_beta)
        return x


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """The truncation trick in W (Karras et al. 2019, Sec. 3.1): w' = w_avg + psi (w - w_avg) on the
    first `cutoff` layers (all when None)."""
    if psi == 1.0:
        return ws
    truncated = w_avg.lerp(ws, psi)
    if cutoff is None or cutoff >= ws.shape[1]:
        return truncated
    return torch.cat([truncated[:, :cutoff], ws[:, cutoff:]], dim=1)


def mix_styles(ws: torch.Tensor, ws_other: torch.Tensor, cutoff: int | torch.Tensor) -> torch.Tensor:
    """Style mixing: layers [0, cutoff) take their w from `ws`, layers [cutoff, num_ws) from `ws_other`."""
    layer = torch.arange(ws.shape[1], device=ws.device).view(1, -1, 1)
    return torch.where(layer < cutoff, ws, ws_other)


class StyleSource(nn.Module):
    """The W side of a style-based generator: mapping, per-layer broadcast, style mixing regularization
    while training (with probability `mixing_prob` a batch switches to the w of a second z at a layer
    drawn uniformly from [1, num_ws)) and the truncation trick. As in NVlabs' StyleGAN2-ADA loss, the
    second z is always mapped (without updating w_avg) and the switch is a torch.where, so every training
    pass costs the same FLOPs and nothing waits on the device. Random draws use torch's global stream,
    which the trainer seeds and checkpoints."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, layers: int = 8, lr_mul: float = 0.01,
                 mixing_prob: float = 0.9, truncation_cutoff: int | None = None) -> None:
        super().__init__()
        self.mapping = MappingNetwork(z_dim, w_dim, layers, lr_mul)
        self.num_ws, self.mixing_prob, self.truncation_cutoff = num_ws, mixing_prob, truncation_cutoff

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def forward(self, z: torch.Tensor, psi: float = 1.0, active: int | None = None) -> torch.Tensor:
        """(N, num_ws, w_dim); `active` is the number of layers a growing G runs at its current lod (the
        mixing switch is drawn among them)."""
        ws = self.mapping(z).unsqueeze(1).expand(-1, self.num_ws, -1)
        active = self.num_ws if active is None else active
        if self.training and self.mixing_prob > 0 and active > 1:
            cutoff = torch.randint(1, active, (), device=z.device)
            cutoff = torch.where(torch.rand((), device=z.device) < self.mixing_prob, cutoff, self.num_ws)
            other = self.mapping(torch.randn_like(z), track_w_avg=False).unsqueeze(1).expand(-1, self.num_ws, -1)
            ws = mix_styles(ws, other, cutoff)
        return truncate(ws, self.w_avg, psi, self.truncation_cutoff)


class NoiseInjection(nn.Module):
    """Per-pixel Gaussian noise, one map per sample shared by all channels, times a learned strength
    (per channel in StyleGAN, one scalar in StyleGAN2; zero at init)."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3]).to(device=x.device, dtype=x.dtype)
        return x + noise * self.strength.view(1, -1, 1, 1)


class AdaIN(nn.Module):
    """StyleGAN's style injection: instance-normalise each channel, then scale by (1 + y_s) and shift by
    y_b, the two halves of a learned affine map of w."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, 2 * channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, shift = self.affine(w).unsqueeze(2).unsqueeze(3).chunk(2, dim=1)
        return torch.addcmul(shift, F.instance_norm(x, eps=1e-8), scale + 1.0)  # (x - mean) / sqrt(var + eps)


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated convolution (Karras et al. 2020, Eq. 1-3): w'_ijk = s_i w_ijk with the style
    s = affine(w) (bias 1 at init); with demodulation w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + 1e-8), so
    every output channel of every sample has unit expected magnitude. Computed as scale inputs, convolve,
    scale outputs: the same numbers as the per-sample weights (`sample_weights`) without grouped convs."""

    def __init__(self, c_in: int, c_out: int, kernel: int, w_dim: int, demodulate: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)
        self.weight_scale = 1.0 / math.sqrt(c_in * kernel * kernel)
        self.demodulate, self.padding = demodulate, kernel // 2

    def sample_weights(self, styles: torch.Tensor) -> torch.Tensor:
        """(N, c_out, c_in, k, k): each sample's modulated (and demodulated) kernel."""
        w = self.weight.unsqueeze(0) * self.weight_scale * styles.view(styles.shape[0], 1, -1, 1, 1)
        if self.demodulate:
            w = w * torch.rsqrt(w.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return w

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        out = F.conv2d(x * styles.unsqueeze(2).unsqueeze(3), self.weight * self.weight_scale, padding=self.padding)
        if self.demodulate:
            squares = (self.weight * self.weight_scale).pow(2).sum(dim=(2, 3))  # (c_out, c_in)
            out = out * torch.rsqrt(styles.pow(2) @ squares.T + 1e-8).unsqueeze(2).unsqueeze(3)
        return out
