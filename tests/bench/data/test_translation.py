"""The translation tasks built from Fashion-MNIST: each input operator against a direct computation, the unpaired
tasks' disjoint sources, and the hidden ground truth of the transposed task."""

import numpy as np
import pytest

from bench.data import translation
from bench.data.datasets import load_prepared, prepare, spec


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 8, 8)).astype(np.uint8)


def test_sobel_edges_equal_the_kernel_sum_written_out():
    images = _images(3)
    x = np.pad(images[:, 0].astype(float) / 255, ((0, 0), (1, 1), (1, 1)))  # zero padding
    gx_kernel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 4
    expected = np.zeros(images.shape, dtype=np.uint8)
    for n in range(3):
        for i in range(8):
            for j in range(8):
                window = x[n, i:i + 3, j:j + 3]
                gx, gy = (window * gx_kernel).sum(), (window * gx_kernel.T).sum()
                expected[n, 0, i, j] = 255 * (np.hypot(gx, gy) > translation.EDGE_THRESHOLD)
    np.testing.assert_array_equal(translation.sobel_edges(images), expected)


def test_the_inpainting_input_loses_exactly_its_lower_half():
    images = _images(2)
    masked = translation.lower_half_missing(images)
    np.testing.assert_array_equal(masked[:, :, :4], images[:, :, :4])
    assert (masked[:, :, 4:] == translation.MISSING).all()


def test_t_is_the_diagonal_reflection_with_gamma_and_no_per_pixel_map():
    images = _images(2)
    out = translation.transposed(images)
    for i, j in ((0, 7), (3, 5), (6, 1)):
        assert out[1, 0, i, j] == round(255 * (images[1, 0, j, i] / 255) ** 0.5)
    image = np.zeros((1, 1, 8, 8), dtype=np.uint8)
    image[0, 0, 0, 5] = 200  # one bright pixel: T moves it to (5, 0), so equal inputs (0 at both) map apart
    moved = translation.transposed(image)
    assert image[0, 0, 5, 0] == image[0, 0, 1, 1] == 0 and moved[0, 0, 5, 0] != moved[0, 0, 1, 1]


def test_unpaired_tasks_draw_a_and_b_from_disjoint_halves_and_test_pairs_are_ground_truth():
    rng = np.random.default_rng(1)
    x = {"train": _images(40, 2), "eval": _images(10, 3)}
    y = {"train": rng.integers(0, 10, 40), "eval": rng.integers(0, 10, 10)}
    y["train"][[1, 5, 30]], y["train"][[2, 25, 33]] = translation.SNEAKER, translation.BOOT
    task = translation.build_task("sneaker2boot", x, y)
    first_half_sneakers = [i for i in range(20) if y["train"][i] == translation.SNEAKER]
    second_half_boots = [i for i in range(20, 40) if y["train"][i] == translation.BOOT]
    np.testing.assert_array_equal(task["train_a"], x["train"][first_half_sneakers])
    np.testing.assert_array_equal(task["train_x"], x["train"][second_half_boots])
    assert (task["train_a_y"] == translation.SNEAKER).all() and (task["eval_y"] == translation.BOOT).all()
    hidden = translation.build_task("fmnist-transposed", x, y)
    np.testing.assert_array_equal(hidden["train_a"], x["train"][:20])
    np.testing.assert_array_equal(hidden["train_x"], translation.transposed(x["train"][20:]))
    np.testing.assert_array_equal(hidden["eval_x"], translation.transposed(hidden["eval_a"]))
    with pytest.raises(ValueError, match="unknown translation task"):
        translation.build_task("horse2zebra", x, y)


def test_a_paired_task_is_prepared_from_fashion_mnist_with_its_splits(tmp_path):
    prepare("fmnist-inpaint", tmp_path)
    data = load_prepared("fmnist-inpaint", tmp_path)
    assert data["train_a"].shape == (60_000, 1, 32, 32) and data["eval_x"].shape == (10_000, 1, 32, 32)
    np.testing.assert_array_equal(data["eval_a"], translation.lower_half_missing(data["eval_x"]))
    np.testing.assert_array_equal(data["eval_a_y"], data["eval_y"])
    assert spec("fmnist-inpaint").paired and not spec("sneaker2boot").paired
    assert spec("edges2fmnist").classifier == "fmnist32"
