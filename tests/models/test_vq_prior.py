"""The code prior (models/vq_prior.py): causality, the KV-cache sampler against recomputing the prefix, class
conditioning, and the top-k / top-p filters against direct computations."""

import numpy as np
import pytest
import torch

from models.vq_prior import CodePrior, filtered_probabilities


def _prior(n_classes=0, seed=0):
    torch.manual_seed(seed)
    return CodePrior(n_codes=16, length=12, n_classes=n_classes, width=32, depth=2, heads=4).eval()


def test_a_position_sees_only_the_positions_before_it():
    prior = _prior()
    codes = torch.randint(16, (2, 12), generator=torch.Generator().manual_seed(1))
    logits = prior(codes)
    changed = codes.clone()
    changed[:, 7] = (codes[:, 7] + 1) % 16
    after = prior(changed)
    torch.testing.assert_close(after[:, :8], logits[:, :8])  # position 7's own prediction does not see c_7
    assert not torch.allclose(after[:, 8:], logits[:, 8:])


@pytest.mark.parametrize("n_classes, top_k, top_p", [(0, None, None), (10, 5, None), (10, None, 0.8), (0, 4, 0.9)])
def test_sampling_with_the_kv_cache_gives_the_same_codes_as_recomputing_the_prefix(n_classes, top_k, top_p):
    prior = _prior(n_classes)
    labels = torch.arange(6) % 10 if n_classes else None
    cached = prior.sample(6, labels, top_k=top_k, top_p=top_p, use_cache=True,
                          generator=torch.Generator().manual_seed(3))
    full = prior.sample(6, labels, top_k=top_k, top_p=top_p, use_cache=False,
                        generator=torch.Generator().manual_seed(3))
    assert cached.shape == (6, 12) and torch.equal(cached, full)
    # and the cached logits are the full forward pass's at every position
    caches = [{} for _ in prior.blocks]
    tokens = torch.cat([prior.first_token(labels, 6, cached.device), cached], dim=1)
    step_logits = torch.cat([prior._logits(tokens[:, t:t + 1], t, caches) for t in range(12)], dim=1)
    torch.testing.assert_close(step_logits, prior(cached, labels), rtol=1e-5, atol=1e-5)


def test_the_class_token_conditions_the_prediction_and_is_required():
    prior = _prior(n_classes=10)
    codes = torch.randint(16, (1, 12), generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(prior(codes, torch.tensor([0])), prior(codes, torch.tensor([1])))
    with pytest.raises(ValueError, match="labels"):
        prior(codes)
    loss = prior.loss(codes, torch.tensor([3]))
    expected = -torch.log_softmax(prior(codes, torch.tensor([3])), -1)[0, torch.arange(12), codes[0]].mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_top_k_and_top_p_keep_the_codes_a_direct_computation_keeps():
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, 3.0]])
    p = torch.softmax(logits, -1).numpy()[0]
    top3 = filtered_probabilities(logits, top_k=3).numpy()[0]
    kept = np.argsort(-p)[:3]
    expected = np.zeros(6)
    expected[kept] = p[kept] / p[kept].sum()
    np.testing.assert_allclose(top3, expected, rtol=1e-6)
    order = np.argsort(-p)
    nucleus = order[: np.searchsorted(np.cumsum(p[order]), 0.7) + 1]  # the smallest prefix reaching 0.7
    expected = np.zeros(6)
    expected[nucleus] = p[nucleus] / p[nucleus].sum()
    np.testing.assert_allclose(filtered_probabilities(logits, top_p=0.7).numpy()[0], expected, rtol=1e-6)
    np.testing.assert_allclose(filtered_probabilities(logits).numpy()[0], p, rtol=1e-6)
