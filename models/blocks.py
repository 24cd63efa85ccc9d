"""Building blocks shared by the ResNet GAN families (SNGAN, projection cGAN, SAGAN, BigGAN).

Every normalisation layer here is called as `norm(x, cond)`: `cond` is the class label (long) for
ConditionalBatchNorm2d, a conditioning vector for LinearConditionalBatchNorm2d and ignored by
BatchNorm, so one residual block serves unconditional and conditional generators alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

NormFactory = Callable[[int], nn.Module]


class BatchNorm(nn.BatchNorm2d):
    """BatchNorm2d with the conditional layers' call signature (the condition is ignored)."""

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x)


class ConditionalBatchNorm2d(nn.Module):
    """Class-conditional BN (de Vries et al. 2017; Miyato & Koyama 2018): BN without its own affine,
    then a per-class scale and shift looked up from embeddings (scale starts at 1, shift at 0)."""

    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(n_classes, channels)
        self.bias = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.gain(y)[:, :, None, None] * self.bn(x) + self.bias(y)[:, :, None, None]


class LinearConditionalBatchNorm2d(nn.Module):
    """BigGAN's conditional BN (Brock et al. 2019): scale 1 + W_g c and shift W_b c from a conditioning
    vector c (the shared class embedding concatenated with this block's chunk of z); no bias terms."""

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return (1 + self.gain(cond))[:, :, None, None] * self.bn(x) + self.bias(cond)[:, :, None, None]


class SelfAttention(nn.Module):
    """The self-attention block of SAGAN (Zhang et al. 2019), in the form of its authors' and BigGAN's
    code: 1x1 convs give query f and key g with C/8 channels and value h with C/2; keys and values are
    2x2 max-pooled; the attention map is softmax(f^T g) over key positions; a 1x1 conv maps the attended
    values back to C channels and the block returns x + gamma * o with gamma starting at 0."""

    def __init__(self, channels: int, pool: bool = True) -> None:
        super().__init__()
        self.query = nn.Conv2d(channels, max(1, channels // 8), 1, bias=False)
        self.key = nn.Conv2d(channels, max(1, channels // 8), 1, bias=False)
        self.value = nn.Conv2d(channels, max(1, channels // 2), 1, bias=False)
        self.out = nn.Conv2d(max(1, channels // 2), channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))
        self.pool = pool

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        """o (before gamma and the residual): what the block adds to x."""
        n, _, h, w = x.shape
        q = self.query(x).flatten(2)  # (n, C/8, hw)
        k, v = self.key(x), self.value(x)
        if self.pool:
            k, v = F.max_pool2d(k, 2), F.max_pool2d(v, 2)
        attention = torch.softmax(q.transpose(1, 2) @ k.flatten(2), dim=-1)  # (n, hw, hw')
        o = (v.flatten(2) @ attention.transpose(1, 2)).view(n, -1, h, w)
        return self.out(o)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.gamma * self.attend(x)


class GatedShortcut(nn.Module):
    """The gated shortcut of arXiv:2201.11351 for generator residual blocks, as the source notes describe
    it: from the shortcut s and the block's features f, a gate g = sigmoid(W_g [s, f]) in (0, 1) and a
    refinement r = W_r [s, f]; the block returns g * f + (1 - g) * r, so it learns how much of f to keep
    and what to add from the combination instead of summing s and f. W_g and W_r are 1x1 convolutions
    (the notes give no kernel size; 1x1 keeps the block's cost close to a plain one)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gate = nn.Conv2d(2 * channels, channels, 1)
        self.refine = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, shortcut: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        both = torch.cat([shortcut, features], dim=1)
        gate = torch.sigmoid(self.gate(both))
        return gate * features + (1 - gate) * self.refine(both)


class GBlock(nn.Module):
    """Pre-activation up-sampling ResNet block of SNGAN/BigGAN generators: norm-ReLU-up2(nearest)-conv3x3-
    norm-ReLU-conv3x3, plus a shortcut up2 then conv1x1 (the shortcut conv only where channels change or
    the block up-samples). `gated` replaces the sum with the gated shortcut."""

    def __init__(self, c_in: int, c_out: int, norm: NormFactory, upsample: bool = True,
                 gated: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.norm1, self.norm2 = norm(c_in), norm(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut_conv = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or upsample) else None
        self.gated = GatedShortcut(c_out) if gated else None

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(self._up(F.relu(self.norm1(x, cond))))
        h = self.conv2(F.relu(self.norm2(h, cond)))
        s = self._up(x)
        if self.shortcut_conv is not None:
            s = self.shortcut_conv(s)
        return self.gated(s, h) if self.gated is not None else s + h


class DBlock(nn.Module):
    """Down-sampling ResNet block of SNGAN/BigGAN discriminators: (ReLU)-conv3x3-ReLU-conv3x3-avgpool2,
    shortcut conv1x1-avgpool2 (conv only where channels change or it down-samples). The first block of
    a D (`optimized`) takes the image: no leading ReLU, and its shortcut pools before the 1x1 conv.
    The first conv outputs c_out channels when `wide` (BigGAN's D_wide) and c_in otherwise (the SNGAN
    authors' blocks); the optimized block is always wide."""

    def __init__(self, c_in: int, c_out: int, downsample: bool = True, optimized: bool = False,
                 wide: bool = True) -> None:
        super().__init__()
        self.downsample, self.optimized = downsample, optimized
        hidden = c_out if wide or optimized else c_in
        self.conv1 = nn.Conv2d(c_in, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, c_out, 3, padding=1)
        self.shortcut_conv = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or downsample) else None

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.optimized else F.relu(x)
        h = self._down(self.conv2(F.relu(self.conv1(h))))
        if self.optimized:
            s = self.shortcut_conv(self._down(x))
        else:
            s = x if self.shortcut_conv is None else self._down(self.shortcut_conv(x))
        return s + h


class ProjectionHead(nn.Module):
    """The projection discriminator's output (Miyato & Koyama 2018): psi(phi) + <embed(y), phi>, with
    psi a linear layer over the pooled features phi; without a label only psi."""

    def __init__(self, features: int, n_classes: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_classes, features)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, phi: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.embed(y) * phi).sum(dim=1)
