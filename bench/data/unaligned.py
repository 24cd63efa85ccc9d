"""An unaligned copy of a centred image set, for the data-alignment study: every item moved to a random place,
angle and size inside its canvas, from a fixed seed, labels kept.

Fashion-MNIST items are centred, upright and of one size, which suits a generator that draws every image in
the same frame (a DCGAN's fixed 4x4 start, StyleGAN2's constant); real photographs rarely are. Here each
image gets its own similarity transform about the canvas centre: scale s ~ U(SCALE), rotation theta ~
U(-ROTATE, ROTATE) degrees, then a translation ~ U(-m, m) per axis where m = (side - extent) / 2 and extent =
28 s (|cos theta| + |sin theta|) bounds the rotated 28 x 28 item, so the item never leaves the canvas. PIL's
bilinear affine resampling on uint8, black outside the source: deterministic on any machine. The draws come
from numpy's default_rng([seed, split index]), one (s, theta, tx, ty) per image in order.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

SCALE = (0.55, 0.8)
ROTATE = 30.0  # degrees
ITEM = 28  # the side of the source items (Fashion-MNIST's 28 x 28, zero-padded to 32)


def draws(n: int, rng: np.random.Generator, side: int) -> np.ndarray:
    """(n, 4) scale, angle (radians), tx, ty per image."""
    scale = rng.uniform(*SCALE, n)
    angle = np.deg2rad(rng.uniform(-ROTATE, ROTATE, n))
    extent = ITEM * scale * (np.abs(np.cos(angle)) + np.abs(np.sin(angle)))
    margin = np.maximum(0.0, (side - extent) / 2)
    shift = rng.uniform(-1.0, 1.0, (n, 2)) * margin[:, None]
    return np.column_stack([scale, angle, shift])


def affine_coefficients(scale: float, angle: float, tx: float, ty: float, side: int) -> tuple[float, ...]:
    """PIL's AFFINE data (a, b, c, d, e, f): output pixel (x, y) reads input (a x + b y + c, d x + e y + f), the
    inverse of scaling by `scale` and rotating by `angle` about the centre, then translating by (tx, ty)."""
    centre = side / 2
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    a, b, d, e = cos, sin, -sin, cos
    ox, oy = centre + tx, centre + ty
    return a, b, centre - a * ox - b * oy, d, e, centre - d * ox - e * oy


def unalign(images: np.ndarray, seed: int, split_index: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, S, S) uint8 -> the same items moved (N, 1, S, S) uint8, and the (N, 4) draws."""
    n, channels, side, _ = images.shape
    params = draws(n, np.random.default_rng([seed, split_index]), side)
    out = np.empty_like(images)
    for i, (scale, angle, tx, ty) in enumerate(params):
        coefficients = affine_coefficients(scale, angle, tx, ty, side)
        for c in range(channels):
            moved = Image.fromarray(images[i, c]).transform((side, side), Image.AFFINE, coefficients,
                                                            resample=Image.BILINEAR, fillcolor=0)
            out[i, c] = np.asarray(moved)
    return out, params.astype(np.float32)
