"""Image-to-image translation tasks built offline from Fashion-MNIST, each scorable against ground truth.

A task maps domain A (the input) to domain B (the target). Every task keeps Fashion-MNIST's train/test split and is
always scored on the test split. Prepared arrays: `train_a`, `eval_a` (the inputs, domain A) and `train_x`, `eval_x`
(the targets, domain B), each with its source item's class (`<split>_a_y`, `<split>_y`). B's images are the set's
`x` arrays, so the reference stages, the domain classifier's features and the data-copying test score
translations against the target domain exactly as they score a generator's samples; for the paired tasks and
the hidden-T task, `eval_x[i]` is the ground truth of `eval_a[i]`.

- `edges2fmnist` (paired): A = the item's Sobel edges, binarised; B = the item. One answer per input, mostly.
- `fmnist-inpaint` (paired): A = the item with its lower half replaced by mid-grey (the "missing" marker);
  B = the item. Many valid answers (a top can continue as a shirt or a dress), so L1 alone rewards a blur.
- `sneaker2boot` (unpaired): A = sneakers (class 7) from the first half of the train split, B = ankle boots
  (class 9) from the second half; the test split's sneakers and boots score it. No ground truth pairs.
- `fmnist-transposed` (unpaired, hidden ground truth): A = items from the first half of train, B = T(items) from
  the second half, T(x) = the image reflected about its main diagonal with a gamma of 1/2 (brighter mid-tones).
  T moves every pixel, so no per-pixel map (a 1x1 convolution, a plain inversion) solves it, and the test pairs
  (x, T(x)) score an unpaired method exactly.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

EDGE_THRESHOLD = 0.2  # Sobel magnitude on [0, 1] images (kernel / 4: a unit step gives 1) above which a pixel is edge
MISSING = 127  # the grey that marks the lower half of an inpainting input as missing
GAMMA = 0.5
SNEAKER, BOOT = 7, 9  # Fashion-MNIST classes


def sobel_edges(images: np.ndarray, threshold: float = EDGE_THRESHOLD) -> np.ndarray:
    """Binary edge maps (0 / 255) of uint8 images N x 1 x H x W: the Sobel gradient magnitude of each image on its
    own (zero padding), kernels divided by 4, above `threshold`."""
    x = images[:, 0].astype(np.float64) / 255.0
    kernel = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])[None] / 4.0  # 1 x 3 x 3: per image
    gx = ndimage.correlate(x, kernel, mode="constant")
    gy = ndimage.correlate(x, kernel.transpose(0, 2, 1), mode="constant")
    return ((np.hypot(gx, gy) > threshold) * 255).astype(np.uint8)[:, None]


def lower_half_missing(images: np.ndarray) -> np.ndarray:
    """The images with their lower half (rows H/2..H-1) set to the missing-value grey."""
    out = images.copy()
    out[:, :, images.shape[2] // 2:, :] = MISSING
    return out


def transposed(images: np.ndarray) -> np.ndarray:
    """T: each image reflected about its main diagonal, then gamma 1/2 (rounded to uint8)."""
    flipped = images.transpose(0, 1, 3, 2).astype(np.float64) / 255.0
    return np.round(255.0 * flipped ** GAMMA).astype(np.uint8)


def halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first and second half of a split's indices: the disjoint sources of an unpaired task's A and B."""
    return np.arange(n // 2), np.arange(n // 2, n)


def build_task(task: str, x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A task's arrays from the padded uint8 images `x` and labels `y` of the `train` and `eval` splits."""
    out: dict[str, np.ndarray] = {}
    for split in ("train", "eval"):
        images, labels = x[split], y[split]
        if task in ("edges2fmnist", "fmnist-inpaint"):
            make_input = sobel_edges if task == "edges2fmnist" else lower_half_missing
            a, a_y, b, b_y = make_input(images), labels, images, labels
        elif task == "sneaker2boot":
            first, second = halves(len(images)) if split == "train" else (np.arange(len(images)),) * 2
            a_index = first[labels[first] == SNEAKER]
            b_index = second[labels[second] == BOOT]
            a, a_y, b, b_y = images[a_index], labels[a_index], images[b_index], labels[b_index]
        elif task == "fmnist-transposed":
            first, second = halves(len(images)) if split == "train" else (np.arange(len(images)),) * 2
            a, a_y, b, b_y = images[first], labels[first], transposed(images[second]), labels[second]
        else:
            raise ValueError(f"unknown translation task {task!r}; known: {', '.join(TASKS)}")
        out.update({f"{split}_a": a, f"{split}_a_y": a_y.astype(np.int64), f"{split}_x": b,
                    f"{split}_y": b_y.astype(np.int64)})
    return out


TASKS = {  # task -> (paired, how it is scored against ground truth)
    "edges2fmnist": (True, "eval_x is each input's own item"),
    "fmnist-inpaint": (True, "eval_x is each input's own item (one of many valid answers)"),
    "sneaker2boot": (False, "no pairs: target-domain FID and a sneaker/boot classifier"),
    "fmnist-transposed": (False, "eval_x = T(eval_a): the hidden ground truth of each test input"),
}
