import math

import pytest
import torch

from bench.losses import get_loss


def test_non_saturating_values_at_known_logits():
    ns = get_loss("ns")
    zero = torch.zeros(4)
    assert ns.d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert ns.g_loss(zero).item() == pytest.approx(math.log(2))
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    expected_d = -math.log(1 / (1 + math.exp(-2.0))) - math.log(1 - 1 / (1 + math.exp(1.0)))
    assert ns.d_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert ns.g_loss(fake).item() == pytest.approx(-math.log(1 / (1 + math.exp(1.0))), rel=1e-6)


def test_non_saturating_generator_gradient_does_not_vanish_when_d_is_confident():
    """The point of NS (Goodfellow et al. Sec. 3): strong gradient where D rejects the fakes."""
    fake = torch.tensor([-10.0], requires_grad=True)
    get_loss("ns").g_loss(fake).backward()
    assert fake.grad.abs().item() > 0.99
    saturating = torch.tensor([-10.0], requires_grad=True)
    (-torch.nn.functional.softplus(saturating)).mean().backward()  # log(1 - sigmoid(t))
    assert saturating.grad.abs().item() < 1e-4


def test_unknown_loss_lists_known_ones():
    with pytest.raises(KeyError, match="known: ns"):
        get_loss("nope")
