"""EQ-T / EQ-T_frac (arXiv:2106.12423, Appendix E) against analytic values and toy generators whose
equivariance is known exactly."""

import math

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.measurement.metrics.equivariance import (
    LANCZOS_A,
    eq_t,
    fractional_translation,
    integer_translation,
    psnr,
    translation_psnr,
)

SIZE = 32


class FourierToy(nn.Module):
    """A 'generator' that renders sum_k a_k sin(2 pi (f_k . x + phi_k)) on the pixel grid, with frequencies
    of at most 0.15 cycles per pixel; `translate` evaluates it at x - t, i.e. it is exactly equivariant.
    `equivariant=False` ignores `translate`; `offset` adds that constant to translated images;
    `global_noise` adds one N(0, 0.1) value per image drawn from the global RNG."""

    def __init__(self, equivariant: bool = True, offset: float = 0.0, global_noise: bool = False) -> None:
        super().__init__()
        self.z_dim, self.equivariant, self.offset, self.global_noise = 4, equivariant, offset, global_noise
        self.register_buffer("freqs", torch.tensor([[0.05, 0.11], [-0.13, 0.04], [0.09, -0.1], [0.02, 0.14]]))

    def styles(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def synthesis(self, ws: torch.Tensor, translate: torch.Tensor | None = None) -> torch.Tensor:
        n = ws.shape[0]
        coords = torch.arange(SIZE, dtype=torch.float64)
        y, x = torch.meshgrid(coords, coords, indexing="ij")
        if translate is not None and self.equivariant:
            t = translate.double()
            x, y = x - t[:, 0].view(-1, 1, 1), y - t[:, 1].view(-1, 1, 1)
        x, y = x.expand(n, SIZE, SIZE), y.expand(n, SIZE, SIZE)
        phases = ws.double().view(n, 4, 1, 1)
        f = self.freqs.double()
        image = (0.2 * torch.sin(2 * math.pi * (f[:, 0].view(1, 4, 1, 1) * x.unsqueeze(1)
                                                 + f[:, 1].view(1, 4, 1, 1) * y.unsqueeze(1)) + phases)).sum(1)
        image = image.unsqueeze(1).repeat(1, 3, 1, 1).float()
        if self.global_noise:
            image = image + 0.1 * torch.randn(n, 1, 1, 1)
        return image + (self.offset if translate is not None else 0.0)


def test_psnr_of_a_known_error():
    assert psnr(400 * 0.01**2, 400) == pytest.approx(10 * math.log10(4 / 1e-4))  # error 0.01 on 400 values
    assert psnr(0.0, 10) == math.inf
    assert psnr(4.0, 1) == pytest.approx(0.0)  # an error as large as the peak


@settings(max_examples=25, deadline=None)
@given(e=st.floats(1e-3, 1.0), sx=st.integers(-6, 6), sy=st.integers(-6, 6))
def test_constant_error_gives_ten_log_four_over_e_squared(e, sx, sy):
    """A generator exactly equivariant under integer shifts except for a constant error e in the translated
    image: over the valid pixels, PSNR = 10 log10(2^2 / e^2) whatever the shift."""
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    shifts = torch.tensor([[sx, sy], [-sy, sx]], dtype=torch.float32)
    got = translation_psnr(FourierToy(offset=e), z, shifts, fractional=False)
    assert got == pytest.approx(10 * math.log10(4 / e**2), abs=1e-3)


@pytest.mark.parametrize("sx, sy", [(3, 0), (0, -5), (-2, 7), (4, 4)])
def test_integer_translation_is_a_roll_on_the_valid_region(sx, sy):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 20)
    out, mask = integer_translation(x, torch.tensor([[sx, sy], [sx, sy]], dtype=torch.float32))
    rolled = torch.roll(x, shifts=(sy, sx), dims=(2, 3))  # positive x: content moves right
    assert mask.shape == (2, 1, 16, 20) and mask.sum() == 2 * (16 - abs(sy)) * (20 - abs(sx))
    assert torch.equal(out[mask.expand_as(out)], rolled[mask.expand_as(out)])
    assert out[~mask.expand_as(out)].abs().max() == 0  # sources outside the image: zero, and masked


def test_fractional_translation_interpolates_band_limited_images():
    """Lanczos-3 reproduces sinusoids of <= 0.15 cycles/px moved by fractions of a pixel to within 1% of their
    0.8 peak (moving them the wrong way is off by > 1), equals the exact shift at
    whole pixels, and masks a pixels on the side the content comes from and a - 1 on the other."""
    toy = FourierToy()
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    shifts = torch.tensor([[0.3, -0.5], [-1.5, 2.25]])
    out, mask = fractional_translation(toy.synthesis(z), shifts)
    expected = toy.synthesis(z, translate=shifts)
    m = mask.expand_as(out)
    assert (out - expected)[m].abs().max() < 8e-3
    assert mask[0, 0].sum() == (SIZE - 2 * LANCZOS_A + 1) ** 2
    assert mask[0, 0, :, :LANCZOS_A].sum() == 0 and mask[0, 0, :, SIZE - LANCZOS_A + 1:].sum() == 0  # x: floor 0
    whole = torch.tensor([[2.0, -3.0], [0.0, 1.0]])
    out, mask = fractional_translation(toy.synthesis(z), whole)
    exact, _ = integer_translation(toy.synthesis(z), whole)
    torch.testing.assert_close(out[mask.expand_as(out)], exact[mask.expand_as(out)])


@pytest.mark.parametrize("fractional", [False, True])
def test_equivariant_toy_scores_high_and_a_frozen_one_low(fractional):
    generator = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    assert eq_t(FourierToy(), 32, generator(), fractional=fractional, batch=8) > 40
    assert eq_t(FourierToy(equivariant=False), 32, generator(), fractional=fractional, batch=8) < 20


def test_noise_from_the_global_rng_is_the_same_in_both_images():
    toy = FourierToy(global_noise=True)
    z = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    shifts = torch.tensor([[1.0, 2.0], [-3.0, 0.0], [0.0, 0.0], [2.0, -2.0]])
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    assert translation_psnr(toy, z, shifts, fractional=False) > 100  # without reseeding: ~20 dB
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's stream is untouched


def test_eq_t_is_deterministic_and_restores_the_training_mode():
    toy = FourierToy(offset=0.01).train()
    a = eq_t(toy, 20, torch.Generator().manual_seed(0), batch=6)
    b = eq_t(toy, 20, torch.Generator().manual_seed(0), batch=20)
    assert a == pytest.approx(b) == pytest.approx(10 * math.log10(4 / 0.01**2))
    assert toy.training
