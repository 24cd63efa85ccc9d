"""CycleGAN's ResNet generator (Zhu et al., ICCV 2017, arXiv:1703.10593), after Johnson et al.'s style
transfer network: 9 residual blocks for 256x256 images, 6 for 128x128 (paper's appendix);
`blocks` defaults to 6, for 128x128 and smaller.

Reflection pad 3 + 7x7 conv to ngf; two stride-2 3x3 convs (ngf -> 2ngf -> 4ngf); `blocks` residual blocks at
4ngf (reflection pad 1, 3x3 conv, norm, ReLU, [dropout 0.5], reflection pad 1, 3x3 conv, norm; no activation
after the sum); two stride-2 3x3 transposed convs with output_padding 1 (4ngf -> 2ngf -> ngf); reflection
pad 3 + 7x7 conv + tanh. Norm and ReLU follow every conv but the last. Works at any size divisible by 4.
Built as junyanz/pytorch-CycleGAN-and-pix2pix@78913853, models/networks.py (ResnetGenerator, ResnetBlock):
biases with instance norm only, plus always on the last conv; CycleGAN's defaults are instance norm, no
dropout, ngf 64, weights ~ N(0, 0.02).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from models.init import normal_002
from models.patchgan import norm_layer, uses_bias

PUBLISHED_NGF = 64


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, norm: str, dropout: bool) -> None:
        super().__init__()
        bias = uses_bias(norm)
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels),
                  nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, width: float = 1.0, blocks: int = 6,
                 norm: str = "instance", dropout: bool = False) -> None:
        super().__init__()
        ngf, bias = max(1, round(PUBLISHED_NGF * width)), uses_bias(norm)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias), norm_layer(norm, ngf),
                  nn.ReLU(True)]
        for c in (ngf, 2 * ngf):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), norm_layer(norm, 2 * c), nn.ReLU(True)]
        layers += [ResnetBlock(4 * ngf, norm, dropout) for _ in range(blocks)]
        for c in (4 * ngf, 2 * ngf):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias), norm_layer(norm, c // 2),
                       nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_002(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"the ResNet generator needs sides divisible by 4, got {tuple(x.shape[-2:])}")
        return self.net(x)
