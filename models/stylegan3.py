"""StyleGAN3-T (Karras, Aittala, Laine, Härkönen, Hellsten, Lehtinen & Aila, NeurIPS 2021, "Alias-Free
Generative Adversarial Networks", arXiv:2106.12423): the translation-equivariant generator of NVlabs/stylegan3
(`--cfg=stylegan3-t`), written with plain torch ops. The discriminator is StyleGAN2's (models/stylegan2.py) with
the same channel_base 32768 (config F's channels).

Mapping: z normalised by its second moment, 2 fully connected layers (w_dim 512, lr multiplier 0.01, leaky
ReLU 0.2 x sqrt(2)), broadcast to every synthesis layer; w_avg is a moving average of w (decay 0.998) for the
truncation trick; no style mixing. Linear layers are equalized-lr (N(0, 1) weights scaled at run time by
lr multiplier / sqrt(fan_in)); conv weights are N(0, 1) and demodulated (ToRGB instead scales its styles by
1/sqrt(fan_in)).
Synthesis: the signal is a continuous, band-limited image sampled on a grid slightly larger than the output
(10 px margin per side at each layer's sampling rate). Layer 0 (SynthesisInput) is C Fourier features
sin(2 pi (f . x + phi)) with f drawn uniformly in the disc of radius first_cutoff = 2 (cycles per image),
phases uniform, mixed by a learned C x C matrix; an affine map of w gives a rotation and translation of those
features (initialised to the identity), and a user transform (`translate`) moves them too. Then
num_layers = 14 layers whose cutoff f_c and minimum stopband f_t grow geometrically from f_c = 2,
f_t = 2^2.1 to f_c = res/2, f_t = res/2 x 2^0.3, reached num_critical = 2 layers before the end (those last
layers are critically sampled); a layer's sampling rate is the power of two >= 2 f_t (at most res),
channels min(channel_base / 2 / f_c, channel_max) with channel_base 32768, channel_max 512. A layer is a
modulated 3x3 conv (input divided by an EMA of its RMS, weights demodulated), bias, then the filtered leaky
ReLU: upsample to twice the larger of its input/output rates with a Kaiser-windowed sinc low-pass at the
input cutoff, leaky ReLU(0.2) x sqrt(2) clamped to +-256, low-pass at the output cutoff and downsample to the
output rate, cropping the margin. A 1x1 modulated conv without demodulation (ToRGB) and a x0.25 output
scale end the network; 16 ws in all (input, 14 layers, ToRGB).
Recipe (train.py, `--cfg=stylegan3-t`): non-saturating loss with R1, Adam lr 0.0025 (G) / 0.002 (D),
betas (0, 0.99); the magnitude EMA's decay is 0.5^(batch / 20k images).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LEAK, LRELU_GAIN, CLAMP = 0.2, math.sqrt(2), 256.0
W_DIM, MAPPING_LAYERS, MAPPING_LR, W_AVG_BETA = 512, 2, 0.01, 0.998
CHANNEL_BASE, CHANNEL_MAX = 32768, 512
NUM_LAYERS, NUM_CRITICAL = 14, 2
FIRST_CUTOFF, FIRST_STOPBAND, LAST_STOPBAND_REL = 2.0, 2**2.1, 2**0.3
MARGIN, OUTPUT_SCALE = 10, 0.25
CONV_KERNEL, FILTER_SIZE, LRELU_UPSAMPLING = 3, 6, 2  # filter taps are FILTER_SIZE x the resampling factor
MAGNITUDE_EMA_HALF_LIFE = 20_000  # images


def magnitude_ema_beta(batch: int) -> float:
    """Decay of the input-magnitude EMA per training step: a half-life of 20k images, as train.py sets it."""
    return 0.5 ** (batch / MAGNITUDE_EMA_HALF_LIFE)


class EqualizedLinear(nn.Module):
    """y = x W^T g + b g' with W ~ N(0, 1 / lr^2), g = lr / sqrt(fan_in), g' = lr: the equalized-lr layer whose
    effective step size is scaled by the lr multiplier. `lrelu` adds leaky ReLU(0.2) x sqrt(2)."""

    def __init__(self, c_in: int, c_out: int, lr_multiplier: float = 1.0, weight_init: float = 1.0,
                 bias_init: float | list[float] = 0.0, lrelu: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) * (weight_init / lr_multiplier))
        self.bias = nn.Parameter(torch.as_tensor(bias_init, dtype=torch.float32).expand(c_out) / lr_multiplier)
        self.weight_gain, self.bias_gain, self.lrelu = lr_multiplier / math.sqrt(c_in), lr_multiplier, lrelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, LEAK) * LRELU_GAIN if self.lrelu else x


def lowpass_filter(taps: int, cutoff: float, half_width: float, fs: float) -> torch.Tensor | None:
    """Separable Kaiser-windowed sinc (scipy's firwin with a transition band 2 x half_width); None = identity."""
    if taps == 1:
        return None
    import scipy.signal  # here, not at the top: every stage imports the model registry, and scipy.signal costs ~1.5 s

    return torch.as_tensor(scipy.signal.firwin(taps, cutoff, width=2 * half_width, fs=fs), dtype=torch.float32)


def upfirdn_matrix(size: int, f: torch.Tensor | None, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0),
                   gain: float = 1.0) -> torch.Tensor:
    """The 1-D up/filter/down operator on `size` samples as an (out, size) matrix: insert up - 1 zeros after each
    sample, pad (low, high; negative crops), convolve with f x gain (None: identity), keep every down-th sample.
    Built by running those steps on unit impulses."""
    impulses = torch.zeros(size, size * up, dtype=torch.float64)
    impulses[:, ::up] = torch.eye(size, dtype=torch.float64)
    x = F.pad(impulses, list(pad))
    if f is not None:
        taps = f.to(torch.float64).flip(0).view(1, 1, -1)  # conv1d correlates; the operator convolves
        x = F.conv1d(x.unsqueeze(1), taps).squeeze(1)
    return (x[:, ::down] * gain).T.to(torch.float32).contiguous()


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool, padding: int,
                     input_gain: torch.Tensor) -> torch.Tensor:
    """Conv with the per-sample weight w[o, i] s[n, i] (divided by its norm over (i, kh, kw) when demodulating)
    times input_gain[i]. Computed as scale input, shared conv, scale output: the same product as the
    reference's grouped conv, cheaper on CPU. Before demodulation, weight and styles are divided by their RMS
    (the reference's normalisation; demodulation cancels it up to the 1e-8)."""
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    x = F.conv2d(x * (styles * input_gain).view(*styles.shape, 1, 1), weight, padding=padding)
    if demodulate:
        norms = styles.square() @ weight.square().sum(dim=[2, 3]).T  # (N, O): ||w[o] * s[n]||^2
        x = x * (norms + 1e-8).rsqrt().view(*norms.shape, 1, 1)
    return x


class MappingNetwork(nn.Module):
    """z -> w: second-moment normalisation, then 2 leaky-ReLU layers at lr multiplier 0.01."""

    def __init__(self, z_dim: int, w_dim: int) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * MAPPING_LAYERS
        pairs = zip(dims[:-1], dims[1:], strict=True)
        self.layers = nn.Sequential(*(EqualizedLinear(a, b, MAPPING_LR, lrelu=True) for a, b in pairs))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt())


class SynthesisInput(nn.Module):
    """Layer 0: C Fourier features on a size x size grid at `sampling_rate` samples per image width (centred, so
    the image spans [-1/2, 1/2]), mixed by a learned C x C matrix.

    A per-sample 3x3 transform maps output coordinates to the features' coordinates: first the user's
    transform (the argument), then the translation and the rotation (cos, sin normalised) that an affine map
    of w outputs, starting at the identity (weight 0, bias [1, 0, 0, 0]). Frequencies the transform carries
    towards the Nyquist rate fade out linearly between `bandwidth` and sampling_rate / 2."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float) -> None:
        super().__init__()
        self.size, self.sampling_rate, self.bandwidth = size, sampling_rate, bandwidth
        direction = F.normalize(torch.randn(channels, 2), dim=1)
        radius = torch.rand(channels, 1).sqrt() * bandwidth  # sqrt: uniform over the disc's area
        self.register_buffer("freqs", direction * radius)
        self.register_buffer("phases", torch.rand(channels) - 0.5)
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = EqualizedLinear(w_dim, 4, weight_init=0.0, bias_init=[1.0, 0.0, 0.0, 0.0])

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        n = w.shape[0]
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(1)
        ones, zeros = torch.ones_like(cos), torch.zeros_like(cos)
        rotate = torch.stack([cos, -sin, zeros, sin, cos, zeros, zeros, zeros, ones], 1).view(n, 3, 3)
        shift = torch.stack([ones, zeros, -tx, zeros, ones, -ty, zeros, zeros, ones], 1).view(n, 3, 3)
        user = torch.eye(3, device=w.device).expand(n, 3, 3) if transform is None else transform
        m = rotate @ shift @ user

        # sin(2 pi (f . (A x + b) + phi)) = sin(2 pi ((A^T f) . x + (f . b + phi)))
        phases = self.phases + (self.freqs @ m[:, :2, 2:]).squeeze(2)  # (N, C)
        freqs = self.freqs @ m[:, :2, :2]  # (N, C, 2)
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        coords = (torch.arange(self.size, device=w.device, dtype=w.dtype) + 0.5 - self.size / 2) / self.sampling_rate
        grid = torch.stack(torch.meshgrid(coords, coords, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
        x = torch.einsum("hwd,ncd->nchw", grid, freqs) + phases.view(n, -1, 1, 1)
        x = torch.sin(2 * math.pi * x) * amplitudes.view(n, -1, 1, 1)
        weight = self.weight / math.sqrt(self.weight.shape[1])
        return torch.einsum("nihw,oi->nohw", x, weight)


class SynthesisLayer(nn.Module):
    """Modulated conv + bias + filtered leaky ReLU, from (in_size, in_rate, in_cutoff) to the output's.

    The nonlinearity runs at max(in_rate, out_rate) x `lrelu_upsampling` samples per image width (x1 for
    ToRGB, which has none): upsample with a low-pass at the input cutoff, leaky ReLU x sqrt(2) clamped to
    +-256, low-pass at the output cutoff, downsample. Filters have FILTER_SIZE taps per unit of resampling
    factor; the padding crops the output to out_size, centred as the reference's symmetric convention."""

    def __init__(self, w_dim: int, in_channels: int, out_channels: int, in_size: int, out_size: int,
                 in_rate: int, out_rate: int, in_cutoff: float, out_cutoff: float, in_half_width: float,
                 out_half_width: float, is_torgb: bool = False, magnitude_ema_beta: float = 0.999,
                 lrelu_upsampling: int = LRELU_UPSAMPLING) -> None:
        super().__init__()
        self.is_torgb, self.out_size, self.magnitude_ema_beta = is_torgb, out_size, magnitude_ema_beta
        self.kernel = 1 if is_torgb else CONV_KERNEL
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, self.kernel, self.kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("magnitude_ema", torch.ones(()))

        tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else lrelu_upsampling)
        self.up, self.down = tmp_rate // in_rate, tmp_rate // out_rate
        if self.up * in_rate != tmp_rate or self.down * out_rate != tmp_rate:
            raise ValueError(f"sampling rates {in_rate} -> {out_rate} are not integer factors of {tmp_rate}")
        up_taps = FILTER_SIZE * self.up if self.up > 1 and not is_torgb else 1
        down_taps = FILTER_SIZE * self.down if self.down > 1 and not is_torgb else 1
        up_filter = lowpass_filter(up_taps, in_cutoff, in_half_width, tmp_rate)
        down_filter = lowpass_filter(down_taps, out_cutoff, out_half_width, tmp_rate)
        # Pad the upsampled conv output so that the two filters leave exactly out_size samples; the extra
        # `up` on the low side puts input and output sample centres where the continuous picture has them.
        total = (out_size - 1) * self.down + 1 - (in_size + self.kernel - 1) * self.up + up_taps + down_taps - 2
        low = (total + self.up) // 2
        self.padding = (low, total - low, low, total - low)
        # Dense 1-D operators (derived data, not saved), shared by both axes: two matmuls per resampling are
        # several times faster on CPU than depthwise FIR convolutions, for the same linear map.
        conv_size = in_size + self.kernel - 1
        up_matrix = upfirdn_matrix(conv_size, up_filter, self.up, 1, (low, total - low), self.up)
        down_matrix = upfirdn_matrix(up_matrix.shape[0], down_filter, 1, self.down, gain=LRELU_GAIN**0.5)
        for name, value in (("up_filter", up_filter), ("down_filter", down_filter), ("up_matrix", up_matrix),
                            ("down_matrix", down_matrix)):
            self.register_buffer(name, value, persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                self.magnitude_ema.copy_(x.detach().square().mean().lerp(self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles / math.sqrt(self.weight[0].numel())
        x = modulated_conv2d(x, self.weight, styles, demodulate=not self.is_torgb, padding=self.kernel - 1,
                             input_gain=self.magnitude_ema.rsqrt())
        return self.filtered_lrelu(x + self.bias.view(1, -1, 1, 1))

    def filtered_lrelu(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample + low-pass, leaky ReLU x sqrt(2) clamped to +-256, low-pass + downsample (ToRGB: the clamp).

        (x M^T)^T M^T = M x^T M^T applies the 1-D operator M along both axes with rows and columns swapped; the
        second step swaps them back. The gain sqrt(2) moves past the clamp (bound / gain) into the downsampling
        matrix. The same map as the reference's op, with fewer passes over the oversampled tensor."""
        if self.is_torgb:
            return x.clamp(-CLAMP, CLAMP)
        x = (x @ self.up_matrix.T).transpose(2, 3) @ self.up_matrix.T
        x = F.leaky_relu(x, LEAK).clamp(-CLAMP / LRELU_GAIN, CLAMP / LRELU_GAIN)
        return (x @ self.down_matrix.T).transpose(2, 3) @ self.down_matrix.T


def layer_schedule(resolution: int, num_layers: int, channel_base: int, channel_max: int) -> dict[str, np.ndarray]:
    """Per layer 0..num_layers (0 = the Fourier input, num_layers = ToRGB): cutoff f_c, half-width of the
    transition band f_h, sampling rate s, grid size and channels, by the paper's geometric progression."""
    last_cutoff = resolution / 2
    last_stopband = last_cutoff * LAST_STOPBAND_REL
    progress = np.minimum(np.arange(num_layers + 1) / (num_layers - NUM_CRITICAL), 1)
    cutoffs = FIRST_CUTOFF * (last_cutoff / FIRST_CUTOFF) ** progress
    stopbands = FIRST_STOPBAND * (last_stopband / FIRST_STOPBAND) ** progress
    rates = np.exp2(np.ceil(np.log2(np.minimum(2 * stopbands, resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + 2 * MARGIN
    sizes[-2:] = resolution  # the last layer and ToRGB: no margin
    channels = np.maximum(np.rint(np.minimum(channel_base / 2 / cutoffs, channel_max)), 1)
    return {"cutoffs": cutoffs, "half_widths": half_widths, "rates": rates.astype(int), "sizes": sizes.astype(int),
            "channels": channels.astype(int)}


class StyleGAN3Generator(nn.Module):
    """StyleGAN3-T at `width` x the published channel_base, channel_max and w_dim (each rounded, >= 8).

    `num_layers` defaults to the published 14; the CPU variant is meant to use 4, which keeps the whole
    schedule (f_c from 2 to res/2, rates 16 -> 32, the 2 critically sampled layers and ToRGB) in fewer steps:
    at width 0.25 a 14-layer G costs ~6x as much (fwd+bwd of 32 images on 2 cores: ~45 s against ~7 s).
    `magnitude_ema_beta` is 0.5^(batch / 20k), given for batch 32 by default (`magnitude_ema_beta(batch)`).
    `lrelu_upsampling` 1 runs the nonlinearity at the sampling rate (an aliasing ablation of the paper; 2 is
    StyleGAN3). Buffers w_avg and each layer's magnitude EMA move only in training mode."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, num_layers: int = NUM_LAYERS,
                 magnitude_ema_beta: float = magnitude_ema_beta(32), lrelu_upsampling: int = LRELU_UPSAMPLING,
                 **_) -> None:
        super().__init__()
        channels_out, height, width_px = data_shape
        if height != width_px or height < 16 or height & (height - 1):
            raise ValueError(f"StyleGAN3 needs square images with a power-of-two side >= 16, got {data_shape}")
        if num_layers <= NUM_CRITICAL:
            raise ValueError(f"num_layers must exceed the {NUM_CRITICAL} critically sampled layers, got {num_layers}")
        self.resolution, self.z_dim = height, z_dim
        self.w_dim = max(8, round(W_DIM * width))
        self.num_ws = num_layers + 2
        self.mapping = MappingNetwork(z_dim, self.w_dim)
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

        s = layer_schedule(height, num_layers, round(CHANNEL_BASE * width), max(8, round(CHANNEL_MAX * width)))
        channels = s["channels"].copy()
        channels[-1] = channels_out
        self.input = SynthesisInput(self.w_dim, int(channels[0]), int(s["sizes"][0]), float(s["rates"][0]),
                                    float(s["cutoffs"][0]))
        layers = []
        for i in range(num_layers + 1):
            a = max(i - 1, 0)  # layer i maps schedule point i - 1 to i; layer 0 stays at the input's point
            layers.append(SynthesisLayer(
                self.w_dim, int(channels[a]), int(channels[i]), int(s["sizes"][a]), int(s["sizes"][i]),
                int(s["rates"][a]), int(s["rates"][i]), float(s["cutoffs"][a]), float(s["cutoffs"][i]),
                float(s["half_widths"][a]), float(s["half_widths"][i]), is_torgb=i == num_layers,
                magnitude_ema_beta=magnitude_ema_beta, lrelu_upsampling=lrelu_upsampling))
        self.layers = nn.ModuleList(layers)

    def styles(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """(N, num_ws, w_dim): the mapping's w for every layer, moved towards w_avg by 1 - psi (truncation in W,
        all layers). In training mode w_avg first moves towards the batch mean of w (decay 0.998)."""
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, W_AVG_BETA))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        return ws if psi == 1 else self.w_avg.lerp(ws, psi)

    def synthesis(self, ws: torch.Tensor, translate: torch.Tensor | None = None) -> torch.Tensor:
        """Images (N, C, res, res) from ws. `translate` (N, 2) in output pixels (x right, y down) moves the
        Fourier features, so that an equivariant network outputs its image moved by that many pixels."""
        transform = None
        if translate is not None:
            transform = torch.eye(3, device=ws.device, dtype=ws.dtype).repeat(ws.shape[0], 1, 1)
            transform[:, :2, 2] = -translate.to(ws) / self.resolution  # the inverse map: output -> features
        x = self.input(ws[:, 0], transform)
        for layer, w in zip(self.layers, ws[:, 1:].unbind(1), strict=True):
            x = layer(x, w)
        return x * OUTPUT_SCALE

    def forward(self, z: torch.Tensor, psi: float = 1.0, translate: torch.Tensor | None = None) -> torch.Tensor:
        return self.synthesis(self.styles(z, psi), translate)


# The registered variant: 4 synthesis layers instead of 14 at CPU scale (the schedule's ends, the critically
# sampled layers and ToRGB are kept; the 14-layer G costs ~6x as much), StyleGAN2's residual D. R1's gamma
# follows the authors' rule gamma ~ resolution^2 from their 0.5 at 128x128; EMA half-life batch x 10/32 kimg
# with StyleGAN2-ADA's 5% ramp-up (bench/training/ema.py EmaDecay), lazy R1 every 16 D steps.
from dataclasses import replace  # noqa: E402

from models.registry import Variant, register  # noqa: E402
from models.stylegan2 import BASE, config_f_discriminator  # noqa: E402

register(Variant(
    name="stylegan3-t", family="stylegan3",
    paper="Karras, Aittala, Laine, Härkönen, Hellsten, Lehtinen & Aila 2021, Alias-Free Generative Adversarial "
    "Networks (arXiv:2106.12423), config T (4 synthesis layers at CPU scale)",
    generator=StyleGAN3Generator, discriminator=config_f_discriminator,
    recipe=replace(BASE, r1=0.5 * (32 / 128) ** 2, lr_g=2.5e-3, lr_d=2e-3, reg_every=16),
    data_kinds=("images",), arch={"num_layers": 4}, z_dim=512))
