"""The bgc ADA pipeline (bench/training/ada.py) against independent computations: each op's draws replayed from
the same seed in the documented order, then the op computed directly (torch.flip, torch.rot90, a reflected roll,
a smooth image evaluated in closed form at the transformed coordinates, the colour formulas by hand).
tests/benchmarks/ada_reference.py compares the whole pipeline with NVlabs' own AugmentPipe."""

from __future__ import annotations

import math

import pytest
import torch

from bench.training import ada
from bench.training.ada import BGC_OPS, COLOR_OPS, GEOMETRIC_OPS, AdaptiveAugment, ada_adjustment

EXACT = 5e-5  # a translation through the 2x route reproduces unit noise up to float32 rounding (measured 1.5e-5)


def _noise(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _augment(x: torch.Tensor, ops, p: float = 1.0, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return AdaptiveAugment(p, ops=ops)(x)


# ------------------------------------------------------------------------------------- replayed draws


def _replay(ops, n: int, channels: int, seed: int) -> dict[str, torch.Tensor]:
    """Each enabled op's value draw, consumed in the documented order with its gate draw (which always passes at
    p = 1): xflip, rotate90, xint, scale, rotate (first), aniso, rotate (second), xfrac, then brightness,
    contrast, lumaflip, hue, saturation (the last two not on gray images)."""
    torch.manual_seed(seed)
    drawn = {}

    def draw(name: str, value: torch.Tensor) -> None:
        drawn[name] = value
        torch.rand(n)  # the gate

    order = [("xflip", lambda: torch.rand(n)), ("rotate90", lambda: torch.rand(n)),
             ("xint", lambda: torch.rand(n, 2)), ("scale", lambda: torch.randn(n)),
             ("rotate", lambda: torch.rand(n)), ("aniso", lambda: torch.randn(n)),
             ("rotate2", lambda: torch.rand(n)), ("xfrac", lambda: torch.randn(n, 2)),
             ("brightness", lambda: torch.randn(n)), ("contrast", lambda: torch.randn(n)),
             ("lumaflip", lambda: torch.rand(n)), ("hue", lambda: torch.rand(n)),
             ("saturation", lambda: torch.randn(n))]
    for name, sample in order:
        if name.rstrip("2") in ops and not (channels == 1 and name in ("hue", "saturation")):
            draw(name, sample())
    return drawn


# ---------------------------------------------------------------------------------- a smooth image

SIZE = 32
WAVES = ((0.5, 1, 2), (0.3, 2, 1), (0.2, 0, 3))  # amplitude, half-periods across the image in x and in y


def _smooth(xi: torch.Tensor, yi: torch.Tensor, height: int = SIZE, width: int = SIZE) -> torch.Tensor:
    """sum a cos(pi kx xi / (W - 1)) cos(pi ky yi / (H - 1)) at pixel indices (xi, yi): even about the first and
    the last pixel, so reflecting the sampled image about its edges gives this same function, sampled further out."""
    return sum(a * torch.cos(math.pi * kx * xi / (width - 1)) * torch.cos(math.pi * ky * yi / (height - 1))
               for a, kx, ky in WAVES)


def _smooth_images(n: int, height: int = SIZE, width: int = SIZE) -> torch.Tensor:
    yi, xi = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing="ij")
    return _smooth(xi, yi, height, width).float().expand(n, 1, height, width).contiguous()


# The 2x route is not an exact warp, even on this smooth image (|grad f| <= 0.22 per pixel, |f''| <= 0.06):
# - bilinear sampling on the half-pixel grid errs by up to h^2 / 8 (|f_xx| + |f_yy|) with h = 1/2, about 0.002;
# - the 12-tap filters' passband is not flat: about 0.003 more (measured on translations and small turns);
# - a warp that mirrors or turns the image lands its content up to 0.1 pixel off per axis (see ada.py: the
#   filter's delay is 5.098 taps, the warp assumes 5), up to 0.14 pixel x 0.22 = 0.03.
# Measured: at most 0.02 (a half turn), against 0.2 to 1.4 for the same op in the wrong direction.
SMOOTH_TOLERANCE = 0.04


# ---------------------------------------------------------------------------------- pixel blitting


def test_xflip_mirrors_left_right_the_samples_whose_draw_is_at_least_one_half():
    x = _smooth_images(16).expand(16, 3, SIZE, SIZE)
    flip = _replay({"xflip"}, 16, 3, seed=1)["xflip"] >= 0.5
    out = _augment(x, ["xflip"], seed=1)
    torch.testing.assert_close(out[~flip], x[~flip], rtol=0, atol=EXACT)
    torch.testing.assert_close(out[flip], torch.flip(x[flip], dims=[3]), rtol=0, atol=SMOOTH_TOLERANCE)
    assert 0 < flip.sum() < 16 and (out[flip] - x[flip]).abs().max() > 0.5


def test_xflip_on_a_gray_non_square_image():
    x = _smooth_images(8, 12, 20)
    flip = _replay({"xflip"}, 8, 1, seed=2)["xflip"] >= 0.5
    expected = torch.where(flip.view(-1, 1, 1, 1), torch.flip(x, dims=[3]), x)
    torch.testing.assert_close(_augment(x, ["xflip"], seed=2), expected, rtol=0, atol=SMOOTH_TOLERANCE)
    assert 0 < flip.sum() < 8


def test_mirroring_is_not_a_pixel_permutation_on_noise_as_in_the_reference():
    """The flipped samples of unit white noise differ from torch.flip by about 0.15 RMS (the reference's too, see
    tests/benchmarks/ada_reference.py); the others come back exact."""
    x = _noise(32, 1, 16, 16)
    flip = _replay({"xflip"}, 32, 1, seed=1)["xflip"] >= 0.5
    out = _augment(x, ["xflip"], seed=1)
    torch.testing.assert_close(out[~flip], x[~flip], rtol=0, atol=EXACT)
    rms = (out[flip] - torch.flip(x[flip], dims=[3])).square().mean().sqrt().item()
    assert 0.1 < rms < 0.2


def test_rotate90_turns_counterclockwise_on_screen_by_the_drawn_number_of_quarters():
    """k = floor(4 u) quarter turns, counterclockwise on screen: torch.rot90(x, k, dims=(H, W))."""
    x = _smooth_images(16).expand(16, 3, SIZE, SIZE)
    quarters = torch.floor(_replay({"rotate90"}, 16, 3, seed=3)["rotate90"] * 4).long().tolist()
    out = _augment(x, ["rotate90"], seed=3)
    expected = torch.stack([torch.rot90(x[b], quarters[b], dims=(1, 2)) for b in range(16)])
    torch.testing.assert_close(out, expected, rtol=0, atol=SMOOTH_TOLERANCE)
    assert set(quarters) == {0, 1, 2, 3}
    clockwise = torch.stack([torch.rot90(x[b], -quarters[b], dims=(1, 2)) for b in range(16)])
    odd = torch.tensor(quarters) % 2 == 1
    assert ((out - clockwise)[odd].abs().flatten(1).amax(dim=1) > 0.5).all()


def _reflect(index: int, size: int) -> int:
    """numpy's / torch's 'reflect' (the edge pixel not repeated): -1 -> 1, size -> size - 2."""
    period = 2 * (size - 1)
    index %= period
    return period - index if index >= size else index


def test_xint_shifts_by_whole_pixels_with_reflected_fill():
    """The content moves by round(t * size), t uniform in [-1/8, 1/8]: out[y, x] = in[reflect(y - dy), ...],
    exactly (a translation meets the filters as the identity does)."""
    n, h, w = 12, 32, 24
    x = _noise(n, 3, h, w)
    t = (_replay({"xint"}, n, 3, seed=4)["xint"] * 2 - 1) * 0.125
    dx, dy = torch.round(t[:, 0] * w).long().tolist(), torch.round(t[:, 1] * h).long().tolist()
    expected = torch.empty_like(x)
    for b in range(n):
        rows = [_reflect(i - dy[b], h) for i in range(h)]
        cols = [_reflect(j - dx[b], w) for j in range(w)]
        expected[b] = x[b][:, rows][:, :, cols]
    torch.testing.assert_close(_augment(x, ["xint"], seed=4), expected, rtol=0, atol=EXACT)
    assert max(map(abs, dx)) >= 2 and max(map(abs, dy)) >= 2


# ------------------------------------------------------------------------------ general geometry


def _rotation(phi: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(phi), torch.sin(phi)
    out = torch.eye(3, dtype=torch.float64).repeat(phi.shape[0], 1, 1)
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = c, -s, s, c
    return out


def _diagonal(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    return torch.diag_embed(torch.stack([sx, sy, torch.ones_like(sx)], dim=1))


def _shift(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    out = torch.eye(3, dtype=torch.float64).repeat(tx.shape[0], 1, 1)
    out[:, 0, 2], out[:, 1, 2] = tx, ty
    return out


def _forward_maps(ops, n: int, seed: int) -> torch.Tensor:
    """(N, 3, 3) float64: where each input point (pixel units about the centre, x right, y down) lands, from the
    paper's description of each op, applied in order: flip, quarter turns (counterclockwise on screen), integer
    shift, scale, rotation, anisotropic scale, rotation, fractional shift."""
    d = {k: v.double() for k, v in _replay(set(ops), n, 3, seed).items()}
    ones, maps = torch.ones(n, dtype=torch.float64), []
    if "xflip" in d:
        maps.append(_diagonal(1 - 2 * torch.floor(d["xflip"] * 2), ones))
    if "rotate90" in d:
        maps.append(_rotation(-torch.floor(d["rotate90"] * 4) * math.pi / 2))
    if "xint" in d:
        t = (d["xint"].float() * 2 - 1) * 0.125  # rounded in float32, as drawn
        maps.append(_shift(torch.round(t[:, 0] * SIZE).double(), torch.round(t[:, 1] * SIZE).double()))
    if "scale" in d:
        s = torch.exp2(d["scale"] * 0.2)
        maps.append(_diagonal(s, s))
    for name in ("rotate", "aniso", "rotate2"):
        if name == "aniso" and name in d:
            s = torch.exp2(d[name] * 0.2)
            maps.append(_diagonal(s, 1 / s))
        elif name in d:
            maps.append(_rotation(-(d[name] * 2 - 1) * math.pi))
    if "xfrac" in d:
        maps.append(_shift(d["xfrac"][:, 0] * 0.125 * SIZE, d["xfrac"][:, 1] * 0.125 * SIZE))
    total = torch.eye(3, dtype=torch.float64).expand(n, 3, 3)
    for m in maps:
        total = m @ total
    return total


def _expected_warp(forward: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The smooth image at the input point of every output pixel, and which samples stay inside the reflected
    padding (at most SIZE - 1 pixels, of which the two 2x filters need 6) so that the comparison applies."""
    centre = (SIZE - 1) / 2
    yi, xi = torch.meshgrid(*[torch.arange(SIZE, dtype=torch.float64)] * 2, indexing="ij")
    points = torch.stack([xi.flatten() - centre, yi.flatten() - centre, torch.ones(SIZE * SIZE, dtype=torch.float64)])
    source = torch.linalg.inv(forward) @ points  # (N, 3, S*S)
    values = _smooth(source[:, 0] + centre, source[:, 1] + centre).view(-1, 1, SIZE, SIZE)
    overhang = source[:, :2].abs().amax(dim=(1, 2)) - centre
    return values, overhang + 6 <= SIZE - 1


@pytest.mark.parametrize("ops", [("scale",), ("rotate",), ("aniso",), ("xfrac",), GEOMETRIC_OPS])
def test_general_geometry_matches_the_smooth_image_evaluated_at_the_transformed_coordinates(ops):
    """Each op alone at p = 1 (the rotation: both turns), and all seven composed, within SMOOTH_TOLERANCE."""
    n = 12
    x = _smooth_images(n)
    forward = _forward_maps(ops, n, seed=5)
    expected, inside = _expected_warp(forward)
    out = _augment(x, ops, seed=5).double()
    assert inside.sum() >= n // 2
    err = (out - expected)[inside].abs().max().item()
    assert err <= SMOOTH_TOLERANCE
    backwards, _ = _expected_warp(torch.linalg.inv(forward))  # the op undone instead of done: the test can fail
    assert (out - backwards)[inside].abs().max().item() > 4 * SMOOTH_TOLERANCE


def test_the_warp_along_identity_matrices_reproduces_the_image():
    """The sym6 low-pass is orthogonal to its even shifts, so upsampling and downsampling with it cancel."""
    x = _noise(3, 2, 8, 11)
    torch.testing.assert_close(ada.warp(x, torch.eye(3).expand(3, 3, 3)), x, rtol=0, atol=EXACT)


def test_the_filter_is_an_orthogonal_low_pass():
    taps = torch.tensor(ada.SYM6, dtype=torch.float64)
    assert taps.sum().item() == pytest.approx(math.sqrt(2), abs=1e-12)
    for shift in range(1, 6):
        assert torch.dot(taps[: -2 * shift], taps[2 * shift:]).item() == pytest.approx(0, abs=1e-12)
    assert torch.dot(taps, taps).item() == pytest.approx(1, abs=1e-12)


# ------------------------------------------------------------------------------------------- colour

def _per_sample(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1, 1, 1)


def _luma_mean(x: torch.Tensor) -> torch.Tensor:
    """v v^T x per pixel, with v = (1, 1, 1) / sqrt(3): the channel mean in every channel."""
    return x.mean(dim=1, keepdim=True).expand_as(x)


def _hue_rotation(theta: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3): exp(theta [v]_x), the rotation by theta about v, by the matrix exponential."""
    v = 1 / math.sqrt(3)  # every component of the luma axis
    cross = torch.tensor([[0, -v, v], [v, 0, -v], [-v, v, 0]], dtype=torch.float64)
    return torch.linalg.matrix_exp(theta.double().view(-1, 1, 1) * cross).float()


def _by_hand(x: torch.Tensor, d: dict[str, torch.Tensor]) -> torch.Tensor:
    """The colour ops in order, each from its formula, on the replayed draws."""
    if "brightness" in d:
        x = x + _per_sample(d["brightness"] * 0.2)
    if "contrast" in d:
        x = x * _per_sample(torch.exp2(d["contrast"] * 0.5))
    if "lumaflip" in d:
        x = x - 2 * _per_sample(torch.floor(d["lumaflip"] * 2)) * _luma_mean(x)
    if "hue" in d:
        x = torch.einsum("nij,njhw->nihw", _hue_rotation((d["hue"] * 2 - 1) * math.pi), x)
    if "saturation" in d:
        x = _luma_mean(x) + _per_sample(torch.exp2(d["saturation"])) * (x - _luma_mean(x))
    return x


@pytest.mark.parametrize("ops", [(op,) for op in COLOR_OPS] + [COLOR_OPS])
def test_colour_ops_follow_their_formulas(ops):
    x = _noise(16, 3, 8, 8)
    expected = _by_hand(x, _replay(set(ops), 16, 3, seed=6))
    out = _augment(x, ops, seed=6)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    assert not torch.allclose(out, x, atol=1e-3)


def test_contrast_scales_about_zero_not_about_the_mean():
    x = _noise(16, 3, 8, 8) + 3.0
    c = _per_sample(torch.exp2(_replay({"contrast"}, 16, 3, seed=7)["contrast"] * 0.5))
    out = _augment(x, ["contrast"], seed=7)
    torch.testing.assert_close(out, c * x, rtol=0, atol=1e-5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    assert ((out - (mean + c * (x - mean))).abs().flatten(1).amax(dim=1) > 0.1).sum() >= 12


def test_hue_keeps_the_luma_and_the_chroma_length_and_saturation_scales_the_chroma():
    x = _noise(16, 3, 8, 8)
    for op in ("hue", "saturation"):
        out = _augment(x, [op], seed=8)
        torch.testing.assert_close(out.mean(dim=1), x.mean(dim=1), rtol=0, atol=1e-5)
        chroma_in, chroma_out = (x - _luma_mean(x)).norm(dim=1), (out - _luma_mean(out)).norm(dim=1)
        if op == "hue":
            torch.testing.assert_close(chroma_out, chroma_in, rtol=1e-5, atol=1e-5)
        else:
            s = _per_sample(torch.exp2(_replay({"saturation"}, 16, 3, seed=8)["saturation"]))[:, 0]
            torch.testing.assert_close(chroma_out, s * chroma_in, rtol=1e-5, atol=1e-5)


def test_a_gray_image_gets_brightness_contrast_and_a_negating_luma_flip_and_hue_saturation_draw_nothing():
    g = _noise(16, 1, 8, 8)
    d = _replay(set(COLOR_OPS), 16, 1, seed=9)
    after_replay = torch.rand(4)
    b, c = _per_sample(d["brightness"] * 0.2), _per_sample(torch.exp2(d["contrast"] * 0.5))
    sign = 1 - 2 * _per_sample(torch.floor(d["lumaflip"] * 2))
    out = _augment(g, COLOR_OPS, seed=9)
    torch.testing.assert_close(out, sign * c * (g + b), rtol=0, atol=1e-5)
    assert torch.equal(torch.rand(4), after_replay)
    assert (sign < 0).any() and (sign > 0).any()
    # the same as the RGB pipeline on (g, g, g) without its hue and saturation, averaged back to one channel
    rgb = _augment(g.expand(16, 3, 8, 8), ("brightness", "contrast", "lumaflip"), seed=9)
    torch.testing.assert_close(out, rgb.mean(dim=1, keepdim=True), rtol=0, atol=1e-5)


def test_colour_ops_refuse_other_channel_counts_but_geometry_takes_them():
    with pytest.raises(ValueError, match="3 channels"):
        _augment(_noise(2, 2, 8, 8), ["brightness"])
    assert _augment(_noise(2, 5, 8, 8), GEOMETRIC_OPS).shape == (2, 5, 8, 8)


# --------------------------------------------------------------------------------------- strength p


def test_p_zero_returns_the_input_and_draws_nothing():
    x = _noise(4, 3, 16, 16)
    torch.manual_seed(10)
    state = torch.get_rng_state()
    assert AdaptiveAugment()(x) is x
    assert torch.equal(torch.get_rng_state(), state)


def test_p_one_changes_every_image():
    x = _noise(64, 3, 32, 32)
    out = _augment(x, BGC_OPS, p=1.0, seed=11)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert ((out - x).abs().flatten(1).amax(dim=1) > 1e-2).all()


# The share of images an op changes at p = 0.3: p times the multiplier (1) times the share of fired draws that
# are not the identity: half for the flips, 3/4 for the quarter turns, 3/4 for integer shifts on 8 x 8 images
# (round((2u - 1) * 8 / 8) is 0 for half of u on each axis). The two rotations fire with 1 - sqrt(1 - p) each,
# so that at least one does with probability p.
SHARES = {"xflip": 0.15, "rotate90": 0.225, "xint": 0.225, "scale": 0.3, "rotate": 0.3, "aniso": 0.3,
          "xfrac": 0.3, "brightness": 0.3, "contrast": 0.3, "lumaflip": 0.15, "hue": 0.3, "saturation": 0.3}


@pytest.mark.parametrize("op", BGC_OPS)
def test_at_p_0_3_each_op_changes_its_share_of_the_images(op):
    n = 3000
    x = _noise(n, 3 if op in ("hue", "saturation") else 1, 8, 8)
    changed = ((_augment(x, [op], p=0.3, seed=12) - x).abs().flatten(1).amax(dim=1) > 1e-4).double().mean().item()
    bound = 4.5 * math.sqrt(SHARES[op] * (1 - SHARES[op]) / n)  # binomial: fails by chance about once in 10^5
    assert abs(changed - SHARES[op]) <= bound


def test_the_gradient_reaches_the_input():
    x = _noise(4, 3, 32, 32).requires_grad_(True)
    weights = _noise(3, 32, 32, seed=1)
    (grad,) = torch.autograd.grad((_augment(x, BGC_OPS, seed=13) * weights).sum(), x)
    assert torch.isfinite(grad).all() and (grad.abs().flatten(1).amax(dim=1) > 0).all()


def test_the_gradient_is_the_derivative():
    def augmented(x: torch.Tensor) -> torch.Tensor:
        return _augment(x, BGC_OPS, seed=14)

    x = _noise(1, 3, 8, 8).double().requires_grad_(True)
    assert torch.autograd.gradcheck(augmented, (x,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_the_same_seed_gives_the_same_output_and_another_seed_another():
    x = _noise(8, 3, 16, 16)
    assert torch.equal(_augment(x, BGC_OPS, p=0.6, seed=15), _augment(x, BGC_OPS, p=0.6, seed=15))
    assert not torch.equal(_augment(x, BGC_OPS, p=0.6, seed=15), _augment(x, BGC_OPS, p=0.6, seed=16))


def test_the_state_dict_keeps_p_as_a_float32_buffer():
    state = AdaptiveAugment(0.37).state_dict()
    assert state["p"].dtype == torch.float32 and state["p"].ndim == 0
    restored = AdaptiveAugment()
    restored.load_state_dict(state)
    assert restored.p.item() == pytest.approx(0.37) and list(restored.parameters()) == []


def test_unknown_ops_are_refused():
    with pytest.raises(ValueError, match="cutout"):
        AdaptiveAugment(0.5, ops=["xflip", "cutout"])


# ---------------------------------------------------------------------------------------- adjustment


def test_ada_adjustment_is_the_sign_times_the_images_over_ada_kimg():
    # batch 64, every 4 steps, 500 kimg to move p by 1: 256 / 500 000
    assert ada_adjustment(0.7, 0.6, 64 * 4, 500) == pytest.approx(0.000512, rel=1e-12)
    assert ada_adjustment(0.2, 0.6, 64 * 4, 500) == pytest.approx(-0.000512, rel=1e-12)
    assert ada_adjustment(0.6, 0.6, 64 * 4, 500) == 0
    assert ada_adjustment(1.0, 0.6, 32, 100) == pytest.approx(0.00032, rel=1e-12)
