"""The Inception backbone against clean-fid's own code path on the same weights."""

import numpy as np
import pytest
import torch
from cleanfid.inception_torchscript import InceptionV3W
from cleanfid.resize import build_resizer

from bench.measurement import inception
from bench.measurement.inception import BackboneError, InceptionFeatures, clean_resize, resize_batch
from models import inception_trunk


def random_images(n, channels, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, channels, size, size), dtype=np.uint8)


@pytest.mark.parametrize("channels,size", [(1, 32), (3, 32), (3, 57)])
def test_clean_resize_is_bit_identical_to_cleanfid(channels, size):
    image = random_images(1, channels, size)[0].transpose(1, 2, 0)
    reference = build_resizer("clean")(np.repeat(image, 3, axis=2) if channels == 1 else image)
    ours = resize_batch(image.transpose(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert ours.dtype == reference.dtype == np.float32
    np.testing.assert_array_equal(ours, reference)
    assert clean_resize(image).shape == (299, 299, channels)


def cleanfid_inception(backbone: InceptionFeatures) -> InceptionV3W:
    """clean-fid's InceptionV3W wrapper around the same TorchScript layers (its constructor would
    download inception-2015-12-05.pt; the file we load wraps that network as `.net`)."""
    wrapper = InceptionV3W.__new__(InceptionV3W)
    torch.nn.Module.__init__(wrapper)
    path, _ = inception.checked_weights()
    wrapper.base = inception.load_torchscript(path, torch.device("cpu")).net
    wrapper.layers = wrapper.base.layers
    wrapper.resize_inside = False
    return wrapper


def test_features_match_cleanfid_code_path():
    images = np.concatenate([random_images(3, 1, seed=1).repeat(3, axis=1), random_images(3, 3, seed=2)])
    backbone = InceptionFeatures(batch=4)
    ours = backbone(images)
    resizer = build_resizer("clean")
    batch = torch.stack([torch.from_numpy(resizer(im.transpose(1, 2, 0)).transpose(2, 0, 1)) for im in images])
    with torch.no_grad():
        theirs = cleanfid_inception(backbone)(batch).numpy()
    assert ours.shape == (6, 2048)
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)
    assert np.abs(ours).max() > 0.1  # real activations, not a degenerate zero output


def test_grayscale_input_equals_its_rgb_copy():
    gray = random_images(2, 1, seed=3)
    backbone = InceptionFeatures(batch=2)
    np.testing.assert_allclose(backbone(gray), backbone(gray.repeat(3, axis=1)), atol=1e-6)


def test_wrong_weights_file_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"not the network")
    monkeypatch.setattr(inception_trunk, "weights_path", lambda: fake)
    inception_trunk.checked_weights.cache_clear()
    try:
        with pytest.raises(BackboneError, match="expected 7ff4a85c"):
            inception.checked_weights()
    finally:
        inception_trunk.checked_weights.cache_clear()


def test_spec_names_weights_and_resize():
    spec = InceptionFeatures().spec()
    assert spec["weights_sha256"] == inception_trunk.WEIGHTS_SHA256 and "bicubic" in spec["resize"]
