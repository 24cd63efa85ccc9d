"""The perceptual distance (bench/training/perceptual.py): LPIPS-VGG against the `lpips` package itself (its
randomly initialised VGG saved as the stand-in VGG16 file, its shipped linear heads), the unweighted form
against lpips's `lpips=False` baseline, the EfficientNet-lite0 substitute's properties and formula, the frozen
backbone, and the errors for missing weight files."""

import sys
import urllib.error
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.training import perceptual as P
from models.efficientnet_lite import WeightsError


@pytest.fixture(scope="module")
def substitute():
    return P.perceptual_distance(P.EFFICIENTNET)


def _lpips_reference(**kwargs):
    import lpips  # the reference; a dev dependency (pyproject's `dev` extra)

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # lpips passes torchvision's deprecated `pretrained`
        return lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False, **kwargs)


def _stand_in_vgg(reference, path):
    """The reference's (random) VGG16 trunk saved under torchvision's `features.<i>` names: its slices keep
    torchvision's layer indices (`net.slice2.5.weight` is `features.5.weight`)."""
    state = {f"features.{k.split('.', 3)[2]}.{k.rsplit('.', 1)[1]}": v.clone()
             for k, v in reference.state_dict().items() if k.startswith("net.slice")}
    assert len(state) == 26  # 13 convs, weight and bias
    torch.save(state, path)
    return path


def _images(n=3, c=3, side=32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, side, side, generator=g) * 2 - 1


def test_lpips_vgg_equals_the_lpips_package_on_its_own_weights(tmp_path):
    reference = _lpips_reference(pretrained=True)
    ours = P.perceptual_distance(P.LPIPS_VGG, vgg_weights=_stand_in_vgg(reference, tmp_path / "vgg16.pth"))
    x, y = _images(seed=1), _images(seed=2)
    with torch.no_grad():
        expected = reference(x, y).flatten()
        got = ours(x, y)
        grey_expected = reference(x[:, :1].repeat(1, 3, 1, 1), y[:, :1].repeat(1, 3, 1, 1)).flatten()
        grey = ours(x[:, :1], y[:, :1])
    assert got.shape == (3,) and (expected > 0).all()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grey, grey_expected, atol=1e-5, rtol=1e-5)
    assert ours.label == "LPIPS v0.1 (VGG16)" and ours.substitute == ""


def test_the_unweighted_form_equals_lpips_baseline_which_sums_over_channels(tmp_path):
    reference = _lpips_reference(lpips=False)
    state = torch.load(_stand_in_vgg(reference, tmp_path / "vgg16.pth"), weights_only=True)
    ours = P.PerceptualDistance(P.VGG16Taps(state), None, name="vgg-baseline", label="", substitute="",
                                pretrained_networks=())
    x, y = _images(seed=3), _images(seed=4)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, y), reference(x, y).flatten(), atol=1e-5, rtol=1e-5)


def test_the_lin_heads_are_read_from_the_wheel_without_importing_lpips(monkeypatch):
    for name in [m for m in sys.modules if m == "lpips" or m.startswith("lpips.")]:
        monkeypatch.delitem(sys.modules, name)
    lins = P.load_lpips_lins()
    assert "lpips" not in sys.modules
    assert [len(w) for w in lins] == list(P.VGG_CHANNELS) and all((w >= 0).all() for w in lins)


def test_identical_images_are_at_distance_zero(substitute):
    x = _images(n=2, c=1)
    assert substitute(x, x.clone()).tolist() == [0.0, 0.0]


def test_the_distance_grows_with_the_noise_on_a_fixed_image(substitute):
    g = torch.Generator().manual_seed(5)
    image = F.interpolate(torch.rand(1, 3, 8, 8, generator=g) * 1.6 - 0.8, size=32, mode="bilinear")
    noise = torch.randn(1, 3, 32, 32, generator=g)
    levels = (0.02, 0.05, 0.1, 0.2, 0.4)
    noisy = torch.cat([image + s * noise for s in levels])
    with torch.no_grad():
        d = substitute(image.expand(len(levels), -1, -1, -1), noisy)
    assert (d[1:] > d[:-1]).all(), d


def test_the_distance_is_symmetric_and_greyscale_means_repeated_to_rgb(substitute):
    x, y = _images(n=3, c=1, seed=6), _images(n=3, c=1, seed=7)
    with torch.no_grad():
        torch.testing.assert_close(substitute(x, y), substitute(y, x))
        torch.testing.assert_close(substitute(x, y), substitute(x.repeat(1, 3, 1, 1), y.repeat(1, 3, 1, 1)))


def test_gradients_reach_the_reconstruction_and_never_the_backbone(substitute):
    x = _images(n=2, seed=8)
    x_rec = (x + 0.1 * _images(n=2, seed=9)).requires_grad_(True)
    substitute.requires_grad_(True)  # what a trainer may do to all its networks: nothing here to unfreeze
    assert list(substitute.parameters()) == [] and substitute.state_dict() == {}
    substitute(x, x_rec).sum().backward()
    assert x_rec.grad is not None and torch.isfinite(x_rec.grad).all() and x_rec.grad.abs().sum() > 0
    assert all(not b.requires_grad and b.grad is None for b in substitute.buffers())


def test_it_stays_in_eval_mode_after_train(substitute):
    x, y = _images(n=4, seed=10), _images(n=4, seed=11)
    with torch.no_grad():
        before = substitute(x, y)
        assert substitute.train() is substitute
        after = substitute(x, y)
    assert not any(m.training for m in substitute.modules())
    torch.testing.assert_close(after, before, atol=0, rtol=0)  # BatchNorm kept its ImageNet statistics


def test_each_layer_term_is_the_unit_normalised_squared_difference_summed_over_channels(substitute):
    x, y = _images(n=2, seed=12), _images(n=2, seed=13)
    with torch.no_grad():
        maps_x, maps_y = substitute.features(x), substitute.features(y)
        total = substitute(x, y)
    assert [m.shape[1] for m in maps_x] == list(P.EFFICIENTNET_CHANNELS)
    assert [m.shape[-1] for m in maps_x] == [32, 16, 8, 4, 2]  # 32 px images, resized up to 64
    expected = np.zeros(2)
    for a, b in zip(maps_x, maps_y, strict=True):
        a, b = a.double().numpy(), b.double().numpy()
        na = a / (np.sqrt((a**2).sum(axis=1, keepdims=True)) + 1e-10)
        nb = b / (np.sqrt((b**2).sum(axis=1, keepdims=True)) + 1e-10)
        term = ((na - nb) ** 2).sum(axis=1).mean(axis=(1, 2))
        np.testing.assert_allclose(P.layer_distance(torch.from_numpy(a), torch.from_numpy(b)).numpy(), term,
                                   rtol=1e-12)
        expected += term
    np.testing.assert_allclose(total.numpy(), expected, rtol=1e-5)


def test_the_substitute_declares_its_network_and_what_it_stands_in_for(substitute):
    assert substitute.pretrained_networks == ("efficientnet-lite0",)  # the name Projected GAN's D declares
    assert "LPIPS-VGG" in substitute.substitute and "SUBSTITUTE" in substitute.label
    assert P.NAMES == ("efficientnet-lite0", "lpips-vgg")
    with pytest.raises(ValueError, match="known: efficientnet-lite0, lpips-vgg"):
        P.perceptual_distance("vgg")


def test_a_missing_weights_file_names_the_file_and_the_fix(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(WeightsError, match=rf"{missing}.*pip install lpips==0\.1\.4"):
        P.perceptual_distance(P.LPIPS_VGG, lin_weights=missing, vgg_weights=missing)
    with pytest.raises(WeightsError, match=rf"VGG16.*{missing} is missing; pass vgg_weights="):
        P.perceptual_distance(P.LPIPS_VGG, vgg_weights=missing)
    with pytest.raises(WeightsError, match=f"{missing} is missing"):
        P.perceptual_distance(P.EFFICIENTNET, weights=missing)

    def offline():
        raise urllib.error.URLError("no route to host")

    with pytest.raises(WeightsError, match="could not download the VGG16.*pass vgg_weights=PATH"):
        P.lpips_vgg_distance(download=offline)


def test_a_lin_file_with_other_contents_is_refused(tmp_path):
    other = tmp_path / "vgg.pth"
    torch.save({f"lin{i}.model.1.weight": torch.ones(1, c, 1, 1) for i, c in enumerate(P.VGG_CHANNELS)}, other)
    with pytest.raises(WeightsError, match="expected a78928a0"):
        P.load_lpips_lins(other)
