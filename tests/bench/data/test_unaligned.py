"""The unaligned Fashion-MNIST of the data-alignment study: a deterministic random similarity transform per
item that keeps the item inside the canvas, checked against exact shifts, mass and the real prepared set."""

import numpy as np
import pytest

from bench.data.unaligned import SCALE, affine_coefficients, draws, unalign
from tests.conftest import FMNIST_DIR


def _square(side=32, item=28):
    image = np.zeros((1, 1, side, side), dtype=np.uint8)
    lo = (side - item) // 2
    image[0, 0, lo:lo + item, lo:lo + item] = 200
    return image


def test_identity_and_whole_pixel_shifts_are_exact():
    from PIL import Image

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (32, 32), dtype=np.uint8)
    same = Image.fromarray(x).transform((32, 32), Image.AFFINE, affine_coefficients(1.0, 0.0, 0.0, 0.0, 32),
                                        resample=Image.BILINEAR)
    np.testing.assert_array_equal(np.asarray(same), x)
    moved = np.asarray(Image.fromarray(x).transform((32, 32), Image.AFFINE,
                                                    affine_coefficients(1.0, 0.0, 3.0, -2.0, 32),
                                                    resample=Image.BILINEAR, fillcolor=0))
    expected = np.zeros_like(x)
    expected[:30, 3:] = x[2:, :29]  # content moves 3 px right and 2 px up; black where nothing comes in
    np.testing.assert_array_equal(moved, expected)


def test_every_drawn_item_stays_inside_the_canvas():
    """A full 28x28 square keeps all of its mass (times the scale squared) wherever the draw puts it."""
    square = _square()
    params = draws(200, np.random.default_rng(1), 32)
    assert params[:, 0].min() >= SCALE[0] and params[:, 0].max() <= SCALE[1]
    moved, used = unalign(np.repeat(square, 200, axis=0), 1, 0)
    ratio = moved.reshape(200, -1).astype(float).sum(1) / (square.astype(float).sum() * used[:, 0] ** 2)
    assert ratio.min() > 0.95 and ratio.max() < 1.05
    assert (moved.reshape(200, -1) > 0).sum(1).min() > 0.25 * 28 * 28 * SCALE[0] ** 2  # never cut to a sliver


def test_draws_are_deterministic_and_differ_between_splits():
    square = np.repeat(_square(), 20, axis=0)
    a, pa = unalign(square, 32, 0)
    b, pb = unalign(square, 32, 0)
    c, pc = unalign(square, 32, 1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(pa, pc)


@pytest.mark.skipif(not FMNIST_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_the_prepared_set_keeps_labels_and_moves_the_items(prepared_data, tmp_path):
    from bench.data.datasets import load_prepared, prepare

    prepare("fmnist32-unaligned", tmp_path, {"data": {"fmnist_dir": str(FMNIST_DIR)}})
    unaligned = load_prepared("fmnist32-unaligned", tmp_path)
    aligned = load_prepared("fmnist32", prepared_data.parents[1])
    np.testing.assert_array_equal(unaligned["train_y"], aligned["train_y"])
    np.testing.assert_array_equal(unaligned["eval_y"], aligned["eval_y"])
    assert unaligned["train_x"].shape == aligned["train_x"].shape == (60000, 1, 32, 32)

    def centroids(x):
        x = x[:2000, 0].astype(float)
        grid = np.arange(32)
        mass = x.sum(axis=(1, 2))
        return np.stack([(x.sum(2) * grid).sum(1) / mass, (x.sum(1) * grid).sum(1) / mass], axis=1)

    assert centroids(aligned["train_x"]).std(0).max() < 1.5  # centred items
    assert centroids(unaligned["train_x"]).std(0).min() > 2.0  # spread over the canvas
