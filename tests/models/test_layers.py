"""models/minibatch.py and models/spectral.py: the D layers families build in and options insert."""

import itertools
import math
import statistics

import pytest
import torch
import torch.nn as nn

from models.minibatch import MinibatchDiscrimination, MinibatchStdDev
from models.spectral import spectral_normalize


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class _Layers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 5)
        self.conv = nn.Conv2d(2, 3, 3)

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.fc(x), self.conv(image)


def test_spectral_normalize_makes_each_weight_unit_spectral_norm():
    torch.manual_seed(0)
    module = _Layers()
    for layer in (module.fc, module.conv):
        with torch.no_grad():
            layer.weight.mul_(5.0)
    assert torch.linalg.matrix_norm(module.fc.weight.flatten(1), ord=2) > 2
    spectral_normalize(module).train()
    x, image = torch.randn(4, 6), torch.randn(4, 2, 5, 5)
    for _ in range(20):
        module(x, image)
    for layer in (module.fc, module.conv):
        assert hasattr(layer, "parametrizations") and hasattr(layer.parametrizations, "weight")
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=1e-2)


def test_minibatch_stddev_appends_the_mean_group_std_as_progan():
    n, g, f = 8, 4, 3
    x = _randn(n, f, seed=2)
    out = MinibatchStdDev(g)(x)
    assert out.shape == (n, f + 1)
    torch.testing.assert_close(out[:, :f], x)
    groups = n // g
    for i in range(n):
        members = [x[j] for j in range(n) if j % groups == i % groups]
        expected = statistics.fmean(statistics.pstdev(float(m[c]) for m in members) for c in range(f))
        assert out[i, f].item() == pytest.approx(expected, rel=1e-6)
    assert out[0, f] == out[2, f] == out[4, f] == out[6, f] and out[0, f] != out[1, f]


def test_minibatch_stddev_with_a_batch_smaller_than_the_group_uses_one_group():
    x = _randn(3, 2, seed=5)
    out = MinibatchStdDev(4)(x)
    expected = statistics.fmean(statistics.pstdev(x[:, c].tolist()) for c in range(2))
    assert out[:, 2].tolist() == pytest.approx([expected] * 3, rel=1e-6)


def test_minibatch_stddev_refuses_a_batch_not_divisible_by_the_group():
    with pytest.raises(ValueError, match="not divisible"):
        MinibatchStdDev(4)(torch.zeros(6, 2))


def test_minibatch_discrimination_matches_the_naive_sum():
    """o(x_i)_b = sum_{j != i} exp(-|M_i,b - M_j,b|_1), M_i = f(x_i) T with T viewed as A x B x C."""
    torch.manual_seed(0)
    a, kernels, dim, n = 4, 3, 2, 5
    layer = MinibatchDiscrimination(a, kernels, dim).double()
    with torch.no_grad():
        layer.T.mul_(0.3)
    x = _randn(n, a, seed=6)
    out = layer(x)
    assert out.shape == (n, a + kernels)
    torch.testing.assert_close(out[:, :a], x)
    t = layer.T.detach().view(a, kernels, dim)
    m = [[[sum(x[i, k].item() * t[k, b, c].item() for k in range(a)) for c in range(dim)] for b in range(kernels)]
         for i in range(n)]
    for i, b in itertools.product(range(n), range(kernels)):
        expected = sum(math.exp(-sum(abs(m[i][b][c] - m[j][b][c]) for c in range(dim))) for j in range(n) if j != i)
        assert out[i, a + b].item() == pytest.approx(expected, rel=1e-9)
    assert out[:, a:].min().item() > 1e-3


def test_minibatch_discrimination_gradients_match_the_pairwise_differences():
    """The same gradients as autograd through the explicit (n, n, B, C) differences, ties (equal rows) included."""
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(4, kernels=3, kernel_dim=2).double()
    x = torch.cat([_randn(5, 4, seed=7), _randn(1, 4, seed=7)]).requires_grad_()  # rows 0 and 5 are equal
    weights = _randn(6, 7, seed=8)
    (layer(x) * weights).sum().backward()
    ours = (x.grad.clone(), layer.T.grad.clone())
    x.grad, layer.T.grad = None, None
    m = (x @ layer.T).view(6, 3, 2)
    l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)
    naive = (torch.exp(-l1) * (1 - torch.eye(6, dtype=x.dtype)).unsqueeze(2)).sum(dim=1)
    (torch.cat([x, naive], dim=1) * weights).sum().backward()
    torch.testing.assert_close(ours, (x.grad, layer.T.grad), rtol=1e-12, atol=1e-12)


def test_minibatch_discrimination_of_identical_samples_is_n_minus_one():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(3, kernels=4)
    out = layer(torch.randn(1, 3).repeat(6, 1))
    torch.testing.assert_close(out[:, 3:], torch.full((6, 4), 5.0))
    assert layer(torch.randn(1, 3))[:, 3:].abs().max().item() == 0.0


def test_minibatch_stddev_on_feature_maps_appends_one_constant_channel():
    """(N, C, H, W): the std over the group of every channel and pixel, averaged to one number, as a channel."""
    n, g, c, h, w = 4, 2, 2, 3, 3
    x = _randn(n, c, h, w, seed=3)
    out = MinibatchStdDev(g)(x)
    assert out.shape == (n, c + 1, h, w)
    torch.testing.assert_close(out[:, :c], x)
    groups = n // g
    for i in range(n):
        members = [x[j] for j in range(n) if j % groups == i % groups]
        expected = statistics.fmean(statistics.pstdev(float(m[ch, y, z]) for m in members)
                                    for ch in range(c) for y in range(h) for z in range(w))
        assert torch.allclose(out[i, c], torch.full((h, w), expected, dtype=x.dtype), rtol=1e-6)
