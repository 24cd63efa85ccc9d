"""AC-GAN (Odena, Olah & Shlens 2017, arXiv:1610.09585) at 32x32 (its CIFAR-10 network), 128x128 (its
ImageNet network) and 64x64 (derived, see below); other sizes are refused.

Layer sizes follow the widely used PyTorch re-implementation clvrai/ACGAN-PyTorch (network.py,
`_netG_CIFAR10` / `_netD_CIFAR10` at 32x32, `_netG` / `_netD` at 128x128), whose loop G's step also follows: it
takes the D step's fakes (`g_on_d_fakes`). G takes z with the one-hot class (110 inputs: 100 noise + 10
classes) into a linear layer read as a 1x1 map, then transposed convolutions with BN and ReLU, and a last
transposed convolution to the image with tanh:

- 32x32: linear to 384; 4x4 kernels 384 -> 192 (4x4) -> 96 (8x8) -> 48 (16x16) -> image (32x32).
- 128x128: linear to 768; 5x5 kernels, stride 2, no padding, 768 -> 384 (5x5) -> 256 (13x13) -> 192 (29x29)
  -> 64 (61x61), then an 8x8 kernel, stride 2, to the image (128x128).

D, the same at every size: six 3x3 convolutions 16-32-64-128-256-512 (stride 2 at 16, 64 and 256),
LeakyReLU(0.2), BN on all but the first, dropout 0.5 after each; two linear heads on the flattened last
map: real/fake (1 logit) and the class (n_classes logits). The stride-1 convolutions pad by 1 at 32x32
(the map ends at 4x4) and not at all at 64 and 128 (as the reference's ImageNet D: 13x13 at 128x128).

64x64 has no published AC-GAN network. Departure, by this rule: the 128x128 network with one up-sampling
stage fewer, the highest-resolution 5x5 one (192 -> 64 at 61x61), so G runs 768 -> 384 (5x5) -> 256 (13x13)
-> 192 (29x29) and the same 8x8 output layer reaches 64x64; D is the 128x128 one unchanged (it is fully
convolutional; its map ends at 5x5, and the heads read 5x5x512).

Another departure, at every size: the reference's G has a fixed 110 inputs (the class one-hot written over
the first noise entries); ours takes z_dim + n_classes, the same 110 for 10 classes but more for more
classes (D matches the reference for any number of classes). `width` scales every channel count, G's
linear output included.

D minimises the adversarial loss plus the class cross-entropy on reals and fakes; G its adversarial loss
plus the class cross-entropy of its fakes (`aux_classifier` weight 1). Recipe: Adam lr 2e-4, betas
(0.5, 0.999), batch 100 as the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import FeatureDiscriminator
from models.init import normal_002
from models.registry import Recipe, Variant, register

D_CHANNELS = (16, 32, 64, 128, 256, 512)
D_STRIDES = (2, 1, 2, 1, 2, 1)
D_KERNEL = 3


@dataclass(frozen=True)
class Layout:
    """One resolution's G and the padding of D's stride-1 convolutions (published channel counts)."""

    g_linear: int  # channels of the 1x1 map the linear layer writes
    g_stages: tuple[tuple[int, int, int, int], ...]  # (channels, kernel, stride, padding) of each BN-ReLU stage
    g_out: tuple[int, int, int]  # (kernel, stride, padding) of the layer that writes the image
    d_pad_stride1: int

    def d_map(self, size: int) -> int:
        """Height (= width) of D's last feature map for `size` x `size` images."""
        for stride in D_STRIDES:
            pad = 1 if stride == 2 else self.d_pad_stride1
            size = (size + 2 * pad - D_KERNEL) // stride + 1
        return size


_LAYOUT_128 = Layout(768, ((384, 5, 2, 0), (256, 5, 2, 0), (192, 5, 2, 0), (64, 5, 2, 0)), (8, 2, 0), 0)
LAYOUTS = {
    32: Layout(384, ((192, 4, 1, 0), (96, 4, 2, 1), (48, 4, 2, 1)), (4, 2, 1), 1),
    64: Layout(768, _LAYOUT_128.g_stages[:-1], _LAYOUT_128.g_out, 0),
    128: _LAYOUT_128,
}


def layout(data_shape: tuple[int, ...]) -> Layout:
    """The layout for `data_shape` (C x H x W); a size without one is a ValueError naming those there are."""
    height, width = data_shape[1:]
    if height != width or height not in LAYOUTS:
        *first, last = (f"{s}x{s}" for s in LAYOUTS)
        sizes = f"{', '.join(first)} or {last}"
        raise ValueError(f"this AC-GAN is built for {sizes} images, got {tuple(data_shape)}")
    return LAYOUTS[height]


def _scaled(channels: tuple[int, ...], width: float) -> list[int]:
    return [max(1, round(c * width)) for c in channels]


class ACGANGenerator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 10) -> None:
        super().__init__()
        spec = layout(data_shape)
        c = _scaled((spec.g_linear, *(stage[0] for stage in spec.g_stages)), width)
        self.z_dim, self.n_classes = z_dim, n_classes
        self.linear = nn.Linear(z_dim + n_classes, c[0])
        layers: list[nn.Module] = []
        for c_in, c_out, (_, kernel, stride, pad) in zip(c[:-1], c[1:], spec.g_stages, strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, kernel, stride, pad, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(c[-1], data_shape[0], *spec.g_out, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_002(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.linear(torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], dim=1))
        return self.net(h[:, :, None, None])


class ACGANDiscriminator(FeatureDiscriminator):
    """`forward(x)` is the real/fake logit; `forward_with_classes(x)` also returns the class logits from
    the same features (one pass)."""

    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 10) -> None:
        super().__init__()
        spec = layout(data_shape)
        c = _scaled(D_CHANNELS, width)
        layers: list[nn.Module] = []
        for i, (c_in, c_out, stride) in enumerate(zip([data_shape[0], *c], c, D_STRIDES, strict=False)):
            pad = 1 if stride == 2 else spec.d_pad_stride1
            layers.append(nn.Conv2d(c_in, c_out, D_KERNEL, stride, pad, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers += [nn.LeakyReLU(0.2, True), nn.Dropout(0.5)]
        self.trunk = nn.Sequential(*layers)
        n_features = c[-1] * spec.d_map(data_shape[1]) ** 2
        self.head = nn.Linear(n_features, 1)
        self.classes = nn.Linear(n_features, n_classes)
        normal_002(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x)).flatten()

    def forward_with_classes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        phi = self.features(x)
        return self.head(phi).flatten(), self.classes(phi)


register(Variant(
    name="acgan", family="acgan",
    paper="Odena, Olah & Shlens 2017, Conditional Image Synthesis with Auxiliary Classifier GANs "
          "(arXiv:1610.09585)",
    generator=ACGANGenerator, discriminator=ACGANDiscriminator,
    recipe=Recipe(loss="ns", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1, batch=100, aux_classifier=1.0,
                  g_on_d_fakes=True),
    data_kinds=("images",), z_dim=100, conditional=True,
))
