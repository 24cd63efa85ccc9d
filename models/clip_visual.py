"""CLIP's image tower (Radford et al. 2021, arXiv:2103.00020; openai/CLIP model.py `VisionTransformer`) in plain
torch, built from the weights of OpenAI's released file, for the vision-aided D's real backbone (models/
vision_aided.py, `+vision-aided-clip`). The file cannot be had offline here; the tests write small files in its
format.

Network (ViT-B/32 at 224: width 768, 12 blocks, 12 heads, patch 32, 7x7 grid, output 512): a patch conv without
bias, a class token and positional embeddings, LayerNorm, pre-norm residual blocks (multi-head self-attention,
then an MLP with 4x width and QuickGELU, x * sigmoid(1.702 x)), LayerNorm of the class token and its
projection. The sizes are read from the weights, as CLIP's `build_model` does.

The released file (`ViT-B-32.pt`, the URL below names its sha256) is a TorchScript archive of the whole model:
it is loaded only after its sha256 matches, with `torch.jit.load` (TorchScript holds tensors and TorchScript
code, no pickled Python objects), and only its `visual.*` tensors are kept. `gbench fetch-clip`
downloads it (`fetch_clip`: torch.hub's download, which checks the sha256 before keeping the file).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.files import load_torchscript, sha256_of

NAME = "clip-vit-b-32"
URL = ("https://openaipublic.azureedge.net/clip/models/"
       "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt")
SHA256 = URL.split("/")[-2]  # OpenAI's URLs name the file's sha256, which its `clip` package checks
WEIGHTS_ENV = "GAN_BENCH_CLIP_WEIGHTS"  # a path to the file, instead of the default
DEFAULT_WEIGHTS = Path("~/.cache/clip/ViT-B-32.pt")  # where the `clip` package keeps it
MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's input normalisation of [0, 1] RGB
STD = (0.26862954, 0.26130258, 0.27577711)
HEAD_WIDTH = 64  # CLIP's ViTs have width / 64 attention heads


class ClipWeightsError(RuntimeError):
    """The file is missing, or is not OpenAI's (its sha256 differs)."""


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: tokens x batch x width, as CLIP's
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        h = self.mlp.c_fc(self.ln_2(x))
        return x + self.mlp.c_proj(h * torch.sigmoid(1.702 * h))


class ClipVisual(nn.Module):
    """CLIP's ViT image tower; `tokens(x, after)` gives the tokens after each listed number of blocks."""

    def __init__(self, width: int, layers: int, patch: int, grid: int, output_dim: int) -> None:
        super().__init__()
        self.grid, self.input_side = grid, patch * grid
        self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.Sequential(*(ResidualAttentionBlock(width, width // HEAD_WIDTH)
                                                     for _ in range(layers)))
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, output_dim))

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> ClipVisual:
        """The tower of the sizes its weights have (keys without the `visual.` prefix), loaded strictly."""
        width, _, patch, _ = state["conv1.weight"].shape
        layers = len({m.group(1) for k in state if (m := re.match(r"transformer\.resblocks\.(\d+)\.", k))})
        grid = round((state["positional_embedding"].shape[0] - 1) ** 0.5)
        net = cls(width, layers, patch, grid, state["proj"].shape[1])
        net.load_state_dict(state, strict=True)
        return net.eval()

    def tokens(self, x: torch.Tensor, after: tuple[int, ...]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The tokens (batch x tokens x width) after each number of blocks in `after`, and the projected
        embedding of the class token (CLIP's image feature) at the end."""
        x = self.conv1(x).flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype))
        x, kept = x.transpose(0, 1), []
        for i, block in enumerate(self.transformer.resblocks, start=1):
            x = block(x)
            if i in after:
                kept.append(x.transpose(0, 1))
        return kept, self.ln_post(x[0]) @ self.proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tokens(x, ())[1]


def normalise(x: torch.Tensor, side: int) -> torch.Tensor:
    """Images in [-1, 1] (1 or 3 channels) as CLIP reads them: RGB, `side` x `side` (area resize, as the
    vision-aided reference), [0, 1] normalised by CLIP's mean and std."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (side, side):
        x = F.interpolate(x, size=side, mode="area")
    mean, std = (torch.tensor(v, dtype=x.dtype, device=x.device).view(1, 3, 1, 1) for v in (MEAN, STD))
    return ((x + 1.0) / 2.0 - mean) / std


def weights_path() -> Path:
    """The file to read: $GAN_BENCH_CLIP_WEIGHTS, else the `clip` package's cache."""
    return Path(os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS).expanduser()


def load_clip_visual(path: Path | None = None, sha256: str | None = None) -> ClipVisual:
    """The image tower of OpenAI's file at `path` (default `weights_path()`), refused unless its sha256 is
    `sha256` (default OpenAI's, SHA256)."""
    path = weights_path() if path is None else Path(path)
    sha256 = SHA256 if sha256 is None else sha256
    if not path.is_file():
        raise ClipWeightsError(f"{path}: no such file; the vision-aided D's CLIP backbone needs OpenAI's ViT-B-32.pt: "
                               f"run `gbench fetch-clip` (downloads {URL}), or set {WEIGHTS_ENV} to its path")
    if (digest := sha256_of(path)) != sha256:
        raise ClipWeightsError(f"{path} has sha256 {digest}, not {sha256} (OpenAI's {NAME} file): download it again "
                               f"with `gbench fetch-clip`")
    archive = load_torchscript(path)
    state = {k.removeprefix("visual."): v.float() for k, v in archive.state_dict().items() if k.startswith("visual.")}
    return ClipVisual.from_state_dict(state)


def fetch_clip(url: str = URL, dest: Path | None = None, sha256: str = SHA256) -> Path:
    """Download OpenAI's file once (needs internet) to `dest` (default `weights_path()`); torch.hub checks its
    sha256 before keeping it, and the image tower is then built from it once, as a check."""
    target = weights_path() if dest is None else Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(target), hash_prefix=sha256, progress=False)
    load_clip_visual(target, sha256)
    return target
