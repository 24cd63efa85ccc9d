"""CycleGAN's image pool (bench/training/image_pool.py) against the reference's rule written out on a Python list
(junyanz/pytorch-CycleGAN-and-pix2pix util/image_pool.py), and its resume."""

import io

import torch

from bench.training.image_pool import ImagePool


def _by_hand(batches, size, seed):
    """The reference's pool on a Python list, drawing from the same generator in the same order: a coin
    u ~ U[0, 1) per image once full, and on u > 0.5 a slot index."""
    g, stored, returned, contents = torch.Generator().manual_seed(seed), [], [], []
    for batch in batches:
        out = []
        for image in batch:
            if len(stored) < size:
                stored.append(image)
                out.append(image)
            elif torch.rand((), generator=g).item() > 0.5:
                slot = torch.randint(size, (), generator=g).item()
                out.append(stored[slot])
                stored[slot] = image
            else:
                out.append(image)
        returned.append(torch.stack(out))
        contents.append(list(stored))
    return returned, contents


def _batches(count, batch=4, start=0):
    """Images whose every pixel is their serial number, so a mix-up cannot pass unnoticed."""
    return [torch.arange(start + i * batch, start + (i + 1) * batch, dtype=torch.float).view(-1, 1, 1, 1)
            .expand(-1, 3, 2, 2).clone() for i in range(count)]


def _same(images, others):
    return len(images) == len(others) and all(torch.equal(a, b) for a, b in zip(images, others, strict=True))


def test_image_pool_follows_the_reference_rule():
    batches = _batches(8)
    pool = ImagePool(5, generator=torch.Generator().manual_seed(7))
    expected, contents = _by_hand(batches, 5, seed=7)
    swapped = 0
    for batch, want, stored in zip(batches, expected, contents, strict=True):
        got = pool.query(batch)
        assert torch.equal(got, want)
        assert _same(pool.images, stored)
        swapped += int((got[:, 0, 0, 0] != batch[:, 0, 0, 0]).sum())
    assert 0 < swapped < 27  # 27 images met a full pool: some, not all, came back from the history


def test_image_pool_resumes_bit_identically_from_its_state_dict():
    pool = ImagePool(6, generator=torch.Generator().manual_seed(3))
    for batch in _batches(4):
        pool.query(batch)
    saved = io.BytesIO()
    torch.save(pool.state_dict(), saved)
    saved.seek(0)
    resumed = ImagePool(6, generator=torch.Generator().manual_seed(99))
    resumed.load_state_dict(torch.load(saved, weights_only=True))
    for batch in _batches(5, start=100):
        assert torch.equal(pool.query(batch), resumed.query(batch))
    assert _same(pool.images, resumed.images)


def test_image_pool_of_size_zero_passes_batches_through_and_detaches_otherwise():
    x = torch.randn(3, 1, 2, 2, requires_grad=True)
    assert ImagePool(0, generator=torch.Generator()).query(x) is x
    assert not ImagePool(50, generator=torch.Generator()).query(x * 2).requires_grad
