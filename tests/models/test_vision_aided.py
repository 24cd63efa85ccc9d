"""The vision-aided D's head (models/vision_aided.py): a frozen EfficientNet-lite0 read at three levels, three
trainable branches, one logit per level and image."""

import pytest
import torch

from models.efficientnet_lite import HEAD_CHANNELS
from models.vision_aided import EfficientNetLevels, VisionAidedHead


def efficientnet_head(side: int, n_classes: int = 0) -> VisionAidedHead:
    return VisionAidedHead(EfficientNetLevels(side), n_classes)


@pytest.fixture(scope="module")
def head():
    torch.manual_seed(0)
    return efficientnet_head(64)


def test_the_backbone_is_frozen_in_eval_mode_and_recorded(head):
    head.train()
    head.requires_grad_(True)  # the harness does this to D before every D step
    assert list(head.backbone.parameters()) == []
    assert all(not m.training for m in head.backbone.net.modules())
    assert all(m.training for m in head.maps.modules())
    assert head.pretrained_networks == ("efficientnet-lite0",)
    assert "backbone.net.conv_stem.weight" in head.state_dict()  # the checkpoint records the frozen weights


def test_the_trainable_parameters_are_the_three_branches_by_formula():
    """3x3 conv 112 -> 128 and 1x1 128 -> 1 on stage 4; 3x3 320 -> 256 and 1x1 256 -> 1 on stage 6; linear 1280 ->
    256 -> 1 on the pooled feature; with classes, an embedding of 256 per class. Spectral norm adds buffers only."""
    branches = (112 * 128 * 9 + 128) + (128 + 1) + (320 * 256 * 9 + 256) + (256 + 1) + (HEAD_CHANNELS * 256 + 256) + (
        256 + 1)
    count = sum(p.numel() for p in efficientnet_head(64).parameters())
    assert count == branches
    assert sum(p.numel() for p in efficientnet_head(64, n_classes=10).parameters()) == branches + 10 * 256


@pytest.mark.parametrize(("channels", "side"), [(1, 64), (3, 64), (1, 224)])
def test_one_logit_per_level_and_image_and_a_gradient_to_the_image(channels, side):
    torch.manual_seed(0)
    head = efficientnet_head(side).train()
    x = (torch.rand(2, channels, 32, 32) * 2 - 1).requires_grad_(True)
    logits = head(x)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # G's step goes through the frozen network


def test_without_backbone_gradients_only_the_head_learns_and_the_backbone_never_moves(head):
    before = {k: b.clone() for k, b in head.backbone.state_dict().items()}
    x = (torch.rand(4, 1, 32, 32) * 2 - 1).requires_grad_(True)
    features = head.backbone_features(x)
    assert all(f.requires_grad for f in features)  # by default the backbone is differentiable
    head.zero_grad()
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    head(x, backbone_grad=False).sum().backward()
    assert x.grad is None  # the backbone ran without autograd: nothing reaches the image
    assert all(p.grad is not None for p in head.parameters())
    optimizer.step()
    after = head.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BatchNorm running statistics


def test_the_conditional_head_adds_the_class_projection_and_needs_labels():
    torch.manual_seed(0)
    head = efficientnet_head(64, n_classes=10).eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        a, b = head(x, torch.tensor([0, 1, 2])), head(x, torch.tensor([3, 3, 3]))
        hidden = head.vector.hidden(head.backbone_features(x)[-1])
        embed = head.vector.embed.weight
        expected = (embed[torch.tensor([0, 1, 2])] - embed[3]).mul(hidden).sum(dim=1)
    torch.testing.assert_close(a[:, :2], b[:, :2])  # the map levels are unconditional
    torch.testing.assert_close(a[:, 2] - b[:, 2], expected)
    with pytest.raises(ValueError, match="pass the labels"):
        head(x)


def test_input_sides_that_the_backbone_cannot_take_are_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        EfficientNetLevels(48)


def test_the_inception_ablation_reads_the_metrics_own_network_outside_the_module_tree():
    """Its pooled vector is the metric network's pool3 (the scripted forward, on the same prepared input); the
    network is in no parameter list or state dict, so neither D's optimizer nor a checkpoint holds it."""
    from models.inception_trunk import inception_layers
    from models.vision_aided import InceptionLevels

    levels = InceptionLevels()
    head = VisionAidedHead(levels).train()
    head.requires_grad_(True)  # as the harness does to D: must not reach the frozen network
    assert head.pretrained_networks == ("tf-inception-v3",)
    assert not any(k.startswith("backbone") for k in head.state_dict())
    assert not any(p.requires_grad for p in levels._layers[0].parameters())
    x = (torch.rand(2, 1, 32, 32) * 2 - 1).requires_grad_(True)
    maps_and_vector = levels(x)
    assert [tuple(t.shape) for t in maps_and_vector] == [(2, 768, 17, 17), (2, 2048, 8, 8), (2, 2048)]
    prepared = (torch.nn.functional.interpolate((x.detach().expand(-1, 3, -1, -1) + 1) * 127.5, size=299,
                                                mode="bicubic", align_corners=False) - 128) / 128
    with torch.no_grad():
        torch.testing.assert_close(maps_and_vector[-1].detach(), inception_layers().forward(prepared).flatten(1))
    head(x).sum().backward()
    assert x.grad.abs().sum() > 0
