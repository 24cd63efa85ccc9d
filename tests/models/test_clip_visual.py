"""CLIP's image tower (models/clip_visual.py) for `+vision-aided-clip`: OpenAI's file format written small by the
test (a TorchScript archive whose `visual.*` tensors are a ViT's), read back, checked against open_clip's
VisionTransformer run on the same weights, its sha256 enforced, and its download path over a loopback server."""

import hashlib
import warnings

import pytest
import torch
import torch.nn as nn
from open_clip.transformer import QuickGELU, VisionTransformer

from models import clip_visual
from models.clip_visual import ClipWeightsError, fetch_clip, load_clip_visual

WIDTH, LAYERS, PATCH, SIDE, OUT = 128, 3, 32, 224, 64  # ViT-B/32's layout (patch 32 at 224: 7x7), narrow and short


class OpenAIArchive(nn.Module):
    """What OpenAI's file holds, reduced to the image tower: a scripted module with a `visual` ViT."""

    def __init__(self, visual: nn.Module) -> None:
        super().__init__()
        self.visual = visual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x)


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """(path, sha256, open_clip's tower) of a small file in OpenAI's format."""
    torch.manual_seed(0)
    reference = VisionTransformer(SIDE, PATCH, WIDTH, LAYERS, WIDTH // 64, 4.0, output_dim=OUT,
                                  act_layer=QuickGELU).eval()
    with torch.no_grad():  # open_clip starts LayerNorms at identity and proj small: move them off it
        for name, p in reference.named_parameters():
            if "ln" in name or name == "proj":
                p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path_factory.mktemp("clip") / "ViT-B-32.pt"
    with warnings.catch_warnings():  # tracing's deprecation and constant-folding notices
        warnings.simplefilter("ignore")
        torch.jit.trace(OpenAIArchive(reference), torch.randn(1, 3, SIDE, SIDE), check_trace=False).save(str(path))
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), reference


def test_the_tower_built_from_the_file_equals_open_clips_on_the_same_weights(stand_in):
    path, sha, reference = stand_in
    ours = load_clip_visual(path, sha)
    assert (ours.conv1.out_channels, len(ours.transformer.resblocks), ours.grid) == (WIDTH, LAYERS, 7)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-5)
        reference.output_tokens = True
        _, tokens = reference(x)  # open_clip's patch tokens after the last block and ln_post
        reference.output_tokens = False
        kept, _ = ours.tokens(x, (LAYERS,))
        torch.testing.assert_close(ours.ln_post(kept[0][:, 1:]), tokens, rtol=1e-4, atol=1e-5)


def test_a_file_that_is_not_the_expected_one_or_is_missing_is_refused_with_the_fix(stand_in, tmp_path):
    path, _, _ = stand_in
    with pytest.raises(ClipWeightsError, match="sha256"):
        load_clip_visual(path)  # OpenAI's sha256, not the stand-in's
    with pytest.raises(ClipWeightsError, match="gbench fetch-clip"):
        load_clip_visual(tmp_path / "absent.pt")


def test_fetch_downloads_checks_and_keeps_only_the_published_file(stand_in, loopback_server, tmp_path):
    path, sha, _ = stand_in
    served, base = loopback_server
    (served / sha).mkdir()
    (served / sha / "ViT-B-32.pt").write_bytes(path.read_bytes())
    url = f"{base}{sha}/ViT-B-32.pt"  # OpenAI's URLs name the file's sha256
    kept = fetch_clip(url, tmp_path / "cache" / "ViT-B-32.pt", sha)
    assert kept.read_bytes() == path.read_bytes()
    (served / sha / "ViT-B-32.pt").write_bytes(path.read_bytes()[:-10] + b"0123456789")  # damaged in transit
    with pytest.raises(RuntimeError, match="invalid hash value"):
        fetch_clip(url, tmp_path / "other" / "ViT-B-32.pt", sha)
    assert not (tmp_path / "other" / "ViT-B-32.pt").exists()


def test_the_clip_option_reads_two_token_maps_and_the_embedding_and_records_clip(stand_in, monkeypatch):
    from bench.protocol import variants

    path, sha, _ = stand_in
    monkeypatch.setenv(clip_visual.WEIGHTS_ENV, str(path))
    monkeypatch.setattr(clip_visual, "SHA256", sha)
    d = variants.compose("dcgan+vision-aided-clip").discriminator((1, 32, 32), width=0.125)
    head = d.vision_aided
    assert head.pretrained_networks == ("clip-vit-b-32",) and head.backbone.after == (1, 2)
    assert list(head.parameters()) and not list(head.backbone.parameters())  # frozen: buffers only
    x = (torch.rand(2, 1, 32, 32) * 2 - 1).requires_grad_(True)
    maps = head.backbone_features(x)
    assert [tuple(m.shape) for m in maps] == [(2, WIDTH, 7, 7), (2, WIDTH, 7, 7), (2, OUT)]
    logits = head(x)
    assert logits.shape == (2, 3)
    logits.sum().backward()
    assert x.grad.abs().sum() > 0
