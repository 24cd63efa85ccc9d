"""The code prior (models/vq_prior.py): causality, the KV-cache sampler against recomputing the prefix, class
conditioning, the top-k / top-p filters against direct computations, and the parameter counts against
taming-transformers' GPT at its published settings."""

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


# Parameter counts of taming-transformers' GPT (taming/modules/transformer/mingpt.py), measured by running the
# reference code itself here (its GPT class built on the meta device; the faceshq one also on the CPU) at the
# transformer_config of each config file, CompVis/taming-transformers at 3ba01b241669f5ade541ce990f7650a3b8f65318:
# (vocab_size, block_size, n_layer, n_head, n_embd) -> sum of its parameters' numel.
TAMING_GPT_COUNTS = {
    "configs/faceshq_transformer.yaml (and drin_transformer.yaml)": ((1024, 512, 24, 16, 1024), 304_932_864),
    "configs/coco_scene_images_transformer.yaml": ((8192, 348, 40, 16, 1408), 975_876_352),
    "configs/open_images_scene_images_transformer.yaml": ((8192, 348, 36, 16, 1536), 1_045_638_144),
}


@pytest.mark.parametrize("config", sorted(TAMING_GPT_COUNTS))
def test_the_parameter_count_is_taming_gpts_plus_the_start_token_row(config):
    (vocab, block, layers, heads, width), reference = TAMING_GPT_COUNTS[config]
    with torch.device("meta"):
        prior = CodePrior(n_codes=vocab, length=block, n_classes=0, width=width, depth=layers, heads=heads,
                          dropout=0.1)
    ours = sum(p.numel() for p in prior.parameters())
    # the same network, except that our start token has an embedding row of its own (taming's is code 0's)
    assert ours == reference + width
    assert ours == CodePrior.parameter_count(vocab, block, 0, width, layers)
    assert sum(p.numel() for p in prior.blocks.parameters()) == layers * (12 * width * width + 13 * width)


@pytest.mark.parametrize("n_codes, length, n_classes, width, depth", [(16, 12, 0, 32, 2), (16384, 256, 1000, 64, 3),
                                                                       (1024, 64, 10, 48, 1)])
def test_the_closed_form_count_is_the_module_count(n_codes, length, n_classes, width, depth):
    with torch.device("meta"):
        prior = CodePrior(n_codes, length, n_classes, width=width, depth=depth, heads=4)
    assert sum(p.numel() for p in prior.parameters()) == CodePrior.parameter_count(n_codes, length, n_classes,
                                                                                   width, depth)
