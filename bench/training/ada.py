"""Adaptive discriminator augmentation (ADA; Karras, Aittala, Hellsten, Laine, Lehtinen & Aila, NeurIPS 2020,
arXiv:2006.06676): every image D sees goes through a random, differentiable, non-leaking augmentation whose
strength p is tuned during training from D's overfitting heuristic r_t = E[sign(D(augmented reals))].

This module is the paper's default `bgc` pipeline (pixel blitting, general geometric and colour transforms),
written from the facts of NVlabs/stylegan2-ada-pytorch `training/augment.py` (commit 375a436003d1, unchanged up
to d72cc7d041b4): `AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1,
contrast=1, lumaflip=1, hue=1, saturation=1)` with that file's default ranges. Each op fires on a sample with
probability p (times a multiplier of 1), with the reference's draws in the reference's order, so that the same
global torch RNG state gives the reference's own parameters (tests/benchmarks/ada_reference.py checks this):

- geometric, composed into one 3x3 matrix per sample that maps an output pixel to the input pixel it reads,
  in pixel units about the image centre (x to the right, y down): x-flip (half of the fired samples), a
  rotation by a uniform multiple of 90 degrees, an integer translation of up to 1/8 of the size, an isotropic
  scale 2^N(0, 0.2^2), a rotation uniform over the circle, an anisotropic scale 2^N(0, 0.2^2) (x times s, y
  divided by s), a second uniform rotation and a fractional translation of N(0, 0.125^2) times the size. The
  two rotations each fire with probability 1 - sqrt(1 - p), so that at least one does with probability p;
- one warp: the image is reflect-padded far enough to cover every sample's transformed frame, upsampled 2x
  with the orthogonal low-pass filter `SYM6`, sampled bilinearly along the matrices, then filtered with the
  same low-pass, downsampled 2x and cropped back to H x W. Where a sample reaches beyond the padding (the
  padding cannot exceed the image size minus one), it reads zeros. Along a translation the round trip is exact
  (to float rounding), but not along a warp that mirrors or turns the image, not even the x-flip and the
  quarter turns: SYM6 is not symmetric, so turned content meets the filter's phase reversed, and the warp
  assumes the filter delays a pixel by 5 taps where its delay at frequency 0 is 5.098. Mirrored content is
  thus about 0.1 pixel off and slightly blurred; on unit white noise an x-flip differs from `torch.flip` by
  0.15 RMS. This is the reference's behaviour, kept so as to match it;
- colour, composed into one 4x4 homogeneous matrix per sample acting on (R, G, B, 1): brightness (add
  N(0, 0.2^2) to every channel), contrast (scale by 2^N(0, 0.5^2) about 0, not about the mean), luma flip
  (the Householder reflection I - 2 v v^T about the plane normal to the luma axis v = (1, 1, 1) / sqrt(3), half
  of the fired samples), hue (a rotation about v by an angle uniform over the circle) and saturation (the
  component orthogonal to v scaled by 2^N(0, 1)), in that order.

A 1-channel image is treated as the RGB image (g, g, g), put through the 3x3 part of the colour matrix, and
averaged back to one channel, as the reference does: brightness and contrast act as on RGB, the luma flip
negates the image, and hue and saturation (which leave a gray pixel where it is) are skipped without drawing.
Other channel counts are refused by the colour ops (the geometric ones take any).

At p <= 0 the module returns its input itself and draws nothing. The reference still draws and warps along
identity matrices (which reproduces the image up to float rounding), so its RNG stream differs from ours only
while p is 0. The p buffer is a float32 scalar in the state dict, so a checkpoint keeps it. The module acts the
same in train and eval mode; `ops` restricts it to some of the ops (for tests and comparisons).

In our [-1, 1] images 0 is mid-grey, so contrast scales about mid-grey. H and W should be at least 8, so that a
reflection can cover both filters' reach (6 pixels). Draws and matrices are float32 (as the reference's); the
filtering and sampling run in the input's dtype. Each call reads p and the padding widths on the host (two
syncs on a GPU). The output is a deterministic function of the RNG state; on CUDA, grid_sample's backward sums
with atomics, so gradients may differ in the last bits between runs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

GEOMETRIC_OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR_OPS = ("brightness", "contrast", "lumaflip", "hue", "saturation")
BGC_OPS = GEOMETRIC_OPS + COLOR_OPS

# The reference's default ranges.
XINT_MAX = 0.125  # integer translation, uniform in [-max, max] times the image size, rounded to pixels
SCALE_STD = 0.2  # log2 of the isotropic scale
ROTATE_MAX = 1.0  # arbitrary rotation, uniform in [-max, max] half-turns (1 = the whole circle)
ANISO_STD = 0.2  # log2 of the anisotropic scale
XFRAC_STD = 0.125  # fractional translation, times the image size
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5  # log2
HUE_MAX = 1.0  # half-turns
SATURATION_STD = 1.0  # log2

# Decomposition low-pass filter of the Symlet wavelet with 6 vanishing moments: PyWavelets'
# `pywt.Wavelet("sym6").dec_lo` (checked against PyWavelets 1.8.0), the filter the reference's geometric
# warp uses (its `wavelets["sym6"]`). It sums to sqrt(2) and is orthogonal to its even shifts, so
# upsampling by 2 with it and downsampling by 2 with it reproduces the image.
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)  # fmt: skip

# How far, in input pixels, the up- and the down-sampling filters each reach past a pixel (12 taps at 2x).
FILTER_REACH = len(SYM6) // 4


# ------------------------------------------------------------------------------------------------ draws


def _uniform(n: int, device: torch.device, *shape: int) -> torch.Tensor:
    return torch.rand(n, *shape, device=device)


def _normal(n: int, device: torch.device, *shape: int) -> torch.Tensor:
    return torch.randn(n, *shape, device=device)


def _gated(value: torch.Tensor, identity: float, prob: torch.Tensor) -> torch.Tensor:
    """`value` on the samples whose gate (one fresh U(0, 1) draw each) falls below prob, `identity` elsewhere."""
    fires = _uniform(value.shape[0], value.device) < prob
    return torch.where(fires.view(-1, *[1] * (value.ndim - 1)), value, torch.full_like(value, identity))


# ------------------------------------------------------------------------------------- matrix builders


def _stack3(rows: list[list[torch.Tensor | float]], like: torch.Tensor) -> torch.Tensor:
    """An (N, k, k) batch of matrices from rows of per-sample tensors (shape (N,)) and constants."""
    entries = [e if isinstance(e, torch.Tensor) else torch.full_like(like, e) for row in rows for e in row]
    return torch.stack(entries, dim=-1).view(like.shape[0], len(rows), len(rows))


def translation2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    return _stack3([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scaling2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    return _stack3([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def rotation2d(theta: torch.Tensor) -> torch.Tensor:
    """Rotation by theta from the x axis towards the y axis (clockwise on screen, where y points down)."""
    c, s = torch.cos(theta), torch.sin(theta)
    return _stack3([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def _constant2d(matrix: list[list[float]], device: torch.device) -> torch.Tensor:
    return torch.tensor(matrix, dtype=torch.float32, device=device)


# ------------------------------------------------------------------------------------------- geometry


def geometric_matrices(n: int, height: int, width: int, p: torch.Tensor, ops: Iterable[str]) -> torch.Tensor:
    """(N, 3, 3): output pixel -> input pixel, about the image centre; the ops' draws in the reference's order.

    Each op's matrix is the inverse of the op and multiplies on the right, so the first op listed is the
    first applied to the image."""
    ops, device = set(ops), p.device
    g = torch.eye(3, device=device).expand(n, 3, 3)
    if "xflip" in ops:
        flip = torch.floor(_uniform(n, device) * 2)
        g = g @ scaling2d(1 / (1 - 2 * _gated(flip, 0, p)), torch.ones(n, device=device))
    if "rotate90" in ops:
        quarter = _gated(torch.floor(_uniform(n, device) * 4), 0, p)
        g = g @ rotation2d(quarter * (math.pi / 2))
    if "xint" in ops:
        shift = _gated((_uniform(n, device, 2) * 2 - 1) * XINT_MAX, 0, p)
        g = g @ translation2d(-torch.round(shift[:, 0] * width), -torch.round(shift[:, 1] * height))
    if "scale" in ops:
        s = _gated(torch.exp2(_normal(n, device) * SCALE_STD), 1, p)
        g = g @ scaling2d(1 / s, 1 / s)
    either_rotation = 1 - torch.sqrt((1 - p).clamp(0, 1))
    if "rotate" in ops:
        g = g @ rotation2d(_gated((_uniform(n, device) * 2 - 1) * (math.pi * ROTATE_MAX), 0, either_rotation))
    if "aniso" in ops:
        s = _gated(torch.exp2(_normal(n, device) * ANISO_STD), 1, p)
        g = g @ scaling2d(1 / s, 1 / (1 / s))  # s itself, but rounded as the reference rounds it
    if "rotate" in ops:
        g = g @ rotation2d(_gated((_uniform(n, device) * 2 - 1) * (math.pi * ROTATE_MAX), 0, either_rotation))
    if "xfrac" in ops:
        shift = _gated(_normal(n, device, 2) * XFRAC_STD, 0, p)
        g = g @ translation2d(-shift[:, 0] * width, -shift[:, 1] * height)
    return g


def _padding(g: torch.Tensor, height: int, width: int) -> tuple[int, int, int, int]:
    """Reflect padding (left, right, top, bottom) that covers every sample's transformed frame plus both filters'
    reach, at most the image size minus one (the most a reflection can give)."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = _constant2d([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], g.device)
    reach = (g @ corners)[:, :2, :].transpose(0, 1).reshape(2, -1)  # (x, y) of all corners, all samples
    extent = torch.cat([-reach, reach]).amax(dim=1)  # farthest left, up, right, down
    guard = 2 * FILTER_REACH
    margin = extent + torch.tensor([guard - cx, guard - cy] * 2, device=g.device)
    limit = torch.tensor([width - 1, height - 1] * 2, dtype=torch.float32, device=g.device)
    left, top, right, bottom = margin.clamp(min=0).minimum(limit).ceil().int().tolist()
    return left, right, top, bottom


@functools.lru_cache(maxsize=64)
def _filter_matrix(length: int, scale: float, transposed: bool, stride: int, padding: int, dtype: torch.dtype,
                   device: torch.device) -> torch.Tensor:
    """The 1-D filter (SYM6 x scale, strided or transposed) along an axis of `length` pixels as a (length, out)
    matrix: row k is the output for the unit impulse at k."""
    taps = torch.tensor(SYM6, dtype=dtype, device=device) * scale
    conv = F.conv_transpose1d if transposed else F.conv1d
    impulses = torch.eye(length, dtype=dtype, device=device).view(length, 1, length)
    return conv(impulses, taps.view(1, 1, -1), stride=stride, padding=padding).view(length, -1)


def _filter_rows_then_columns(x: torch.Tensor, scale: float, transposed: bool, stride: int,
                              padding: int) -> torch.Tensor:
    """The separable filter SYM6 x `scale` along the width, then along the height, channel by channel: as two
    matrix products (the same sums as the grouped (transposed) convolution, several times faster on a CPU,
    backward included)."""
    rows = _filter_matrix(x.shape[3], scale, transposed, stride, padding, x.dtype, x.device)
    columns = _filter_matrix(x.shape[2], scale, transposed, stride, padding, x.dtype, x.device)
    return (columns.T @ (x @ rows))


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """out[2i + j] = 2 sum_k x[k] f[5 + 2i + j - 2k] along each axis, f = SYM6 / sum(SYM6): zeros inserted after
    every pixel, then convolved with 2 f (the reference's `upsample2d` with this filter)."""
    return _filter_rows_then_columns(x, 2 / sum(SYM6), True, 2, (len(SYM6) - 2) // 2)


def downsample2x(x: torch.Tensor, crop: int) -> torch.Tensor:
    """out[i] = sum_t x[crop + 2i + t] f[t] along each axis (correlation with f = SYM6 / sum(SYM6), the adjoint of
    `upsample2x` up to the factor 2): cropped by `crop` pixels each side first."""
    x = x[:, :, crop: x.shape[2] - crop, crop: x.shape[3] - crop]
    return _filter_rows_then_columns(x, 1 / sum(SYM6), False, 2, 0)


def warp(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """x resampled along g (N, 3, 3: output pixel -> input pixel about the centre), through 2x oversampling."""
    n, c, h, w = x.shape
    left, right, top, bottom = _padding(g, h, w)
    x = F.pad(x, [left, right, top, bottom], mode="reflect")
    g = _constant2d([[1, 0, (left - right) / 2], [0, 1, (top - bottom) / 2], [0, 0, 1]], g.device) @ g
    x = upsample2x(x)
    # At 2x, a pixel's centred coordinate c becomes 2c - 1/2: SYM6 is not symmetric (its centroid is near tap
    # 5, not 5.5), so upsampling puts input pixel k at 2k rather than at 2k + 1/2; downsample2x undoes it.
    to_up = _constant2d([[2, 0, -0.5], [0, 2, -0.5], [0, 0, 1]], g.device)
    from_up = _constant2d([[0.5, 0, 0.25], [0, 0.5, 0.25], [0, 0, 1]], g.device)
    g = to_up @ g @ from_up
    # The output frame keeps both filters' reach around the image, for downsample2x to crop.
    out_h, out_w = 2 * (h + 2 * FILTER_REACH), 2 * (w + 2 * FILTER_REACH)
    to_unit = _constant2d([[2 / x.shape[3], 0, 0], [0, 2 / x.shape[2], 0], [0, 0, 1]], g.device)
    from_unit = _constant2d([[out_w / 2, 0, 0], [0, out_h / 2, 0], [0, 0, 1]], g.device)
    theta = (to_unit @ g @ from_unit)[:, :2, :].to(x.dtype)
    grid = F.affine_grid(theta, [n, c, out_h, out_w], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return downsample2x(x, 2 * FILTER_REACH - (len(SYM6) - 2) // 2)


# ---------------------------------------------------------------------------------------------- colour

LUMA_AXIS = (1 / math.sqrt(3),) * 3


def _embed(linear: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
    """(N, 4, 4) homogeneous matrices from (N, 3, 3) linear parts and (N, 3) translations."""
    out = torch.zeros(linear.shape[0], 4, 4, device=linear.device)
    out[:, :3, :3], out[:, 3, 3] = linear, 1
    if shift is not None:
        out[:, :3, 3] = shift
    return out


def rotation_about_luma(theta: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3): Rodrigues' rotation by theta about LUMA_AXIS, cos I + sin [v]_x + (1 - cos) v v^T."""
    v = torch.tensor(LUMA_AXIS, device=theta.device)
    cross = torch.zeros(3, 3, device=theta.device)
    cross[0, 1], cross[0, 2], cross[1, 2] = -v[2], v[1], -v[0]
    cross = cross - cross.T
    c, s = torch.cos(theta).view(-1, 1, 1), torch.sin(theta).view(-1, 1, 1)
    return c * torch.eye(3, device=theta.device) + s * cross + (1 - c) * torch.outer(v, v)


def color_matrices(n: int, channels: int, p: torch.Tensor, ops: Iterable[str]) -> torch.Tensor:
    """(N, 4, 4) acting on (R, G, B, 1); the ops' draws in the reference's order, each op multiplying on the left.
    On a gray image, hue and saturation are skipped without drawing (as the reference)."""
    ops, device = set(ops), p.device
    eye = torch.eye(3, device=device)
    luma = torch.outer(*[torch.tensor(LUMA_AXIS, device=device)] * 2)  # v v^T, the projection onto the luma axis
    m = torch.eye(4, device=device).expand(n, 4, 4)
    if "brightness" in ops:
        b = _gated(_normal(n, device) * BRIGHTNESS_STD, 0, p)
        m = _embed(eye.expand(n, 3, 3), b[:, None].expand(n, 3)) @ m
    if "contrast" in ops:
        c = _gated(torch.exp2(_normal(n, device) * CONTRAST_STD), 1, p)
        m = _embed(c.view(-1, 1, 1) * eye) @ m
    if "lumaflip" in ops:
        flip = _gated(torch.floor(_uniform(n, device) * 2), 0, p)
        m = _embed(eye - 2 * flip.view(-1, 1, 1) * luma) @ m
    if "hue" in ops and channels > 1:
        theta = _gated((_uniform(n, device) * 2 - 1) * (math.pi * HUE_MAX), 0, p)
        m = _embed(rotation_about_luma(theta)) @ m
    if "saturation" in ops and channels > 1:
        s = _gated(torch.exp2(_normal(n, device) * SATURATION_STD), 1, p)
        m = _embed(luma + s.view(-1, 1, 1) * (eye - luma)) @ m
    return m


def apply_color(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    m = m.to(x.dtype)
    if c == 3:
        return (m[:, :3, :3] @ x.reshape(n, 3, h * w) + m[:, :3, 3:]).view(n, 3, h, w)
    if c == 1:
        gray_row = m[:, :3, :].mean(dim=1)  # the mean of the 3 outputs for the input (g, g, g, 1)
        return x * gray_row[:, :3].sum(dim=1).view(n, 1, 1, 1) + gray_row[:, 3].view(n, 1, 1, 1)
    raise ValueError(f"the colour ops take RGB (3 channels) or gray (1 channel) images, not {c} channels")


# ---------------------------------------------------------------------------------------------- module


class AdaptiveAugment(nn.Module):
    """The bgc pipeline at strength p (`ops` restricts it to some of its ops, keeping their draws and order)."""

    def __init__(self, p: float = 0.0, *, ops: Iterable[str] = BGC_OPS) -> None:
        super().__init__()
        requested = set(ops)
        unknown = requested - set(BGC_OPS)
        if unknown:
            raise ValueError(f"unknown ADA op(s) {', '.join(sorted(unknown))} (known: {', '.join(BGC_OPS)})")
        self.ops = tuple(op for op in BGC_OPS if op in requested)
        self.register_buffer("p", torch.tensor(float(p), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"expected N x C x H x W images, got shape {tuple(x.shape)}")
        if float(self.p) <= 0:
            return x
        n, c, h, w = x.shape
        p = self.p.to(x.device)
        geometric = [op for op in self.ops if op in GEOMETRIC_OPS]
        if geometric:
            x = warp(x, geometric_matrices(n, h, w, p, geometric))
        color = [op for op in self.ops if op in COLOR_OPS]
        if color:
            x = apply_color(x, color_matrices(n, c, p, color))
        return x

    def extra_repr(self) -> str:
        return f"p={float(self.p):.4f}, ops={','.join(self.ops)}"


def ada_adjustment(sign_mean: float, target: float, images: int, ada_kimg: float) -> float:
    """The change of p after `images` images whose D outputs on augmented reals had mean sign `sign_mean`:
    sign(sign_mean - target) * images / (ada_kimg * 1000)."""
    direction = (sign_mean > target) - (sign_mean < target)
    return direction * images / (ada_kimg * 1000)
