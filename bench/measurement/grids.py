"""Sample grids as PNG files: images tiled in rows, the layout of torchvision's make_grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.protocol.io import atomic_write


def image_grid(images: np.ndarray, nrow: int = 8, padding: int = 1, pad_value: int = 255) -> np.ndarray:
    """(N, C, H, W) images tiled `nrow` to a row as one (H', W', 3) array, grey images as RGB: torchvision's
    make_grid layout, written here because importing torchvision (it loads torch._dynamo) cost every evaluate
    stage ~4 s of start-up for this alone."""
    images = np.repeat(images, 3, axis=1) if images.shape[1] == 1 else images
    n, channels, height, width = images.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    step_y, step_x = height + padding, width + padding
    grid = np.full((rows * step_y + padding, cols * step_x + padding, channels), pad_value, dtype=images.dtype)
    for k, image in enumerate(images):
        y, x = divmod(k, cols)
        grid[y * step_y + padding: (y + 1) * step_y, x * step_x + padding: (x + 1) * step_x] = image.transpose(1, 2, 0)
    return grid


def save_grid(path: Path, images: np.ndarray, nrow: int = 8) -> None:
    from PIL import Image

    array = image_grid(images[: nrow * nrow], nrow=nrow)
    atomic_write(path, lambda p: Image.fromarray(array).save(p, format="PNG"))
