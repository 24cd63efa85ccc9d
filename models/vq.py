"""Vector quantization of an encoder's feature map: the bottleneck of VQ-GAN (Esser et al. 2021) and ViT-VQGAN
(Yu et al. 2022, arXiv:2110.04627).

Each feature vector z (a C-vector per position of a B x C x H x W map) is replaced by its nearest code e of a
learned codebook of `n_codes` vectors, and the decoder sees z + sg[e - z] (the straight-through estimator: the
forward value is e, the gradient reaches z unchanged). The codebook learns one of two ways:
- by loss (van den Oord et al. 2017): ||sg[z] - e||^2 moves the codes, beta ||z - sg[e]||^2 (the commitment term)
  keeps the encoder near them, beta = 0.25. CompVis/taming-transformers's default (`legacy=True`) puts beta on the
  codebook term instead (taming-transformers#46, #57); `legacy=True` here reproduces it, the default is the
  formula of the papers;
- by exponential moving averages (`ema=True`, van den Oord et al. 2017 appendix A.1): each code becomes the
  decayed mean of the vectors assigned to it (cluster sizes Laplace-smoothed), and only the commitment term is a
  loss.
ViT-VQGAN's factorized codes (`lookup_dim`): z is projected linearly to a low-dimensional lookup space (8 or 32)
where codes are matched, and the chosen code is projected back to C; with `l2_normalize` both the projected z and
the codes are l2-normalised before matching and quantizing, so the nearest code is the one of highest cosine
similarity.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

BETA = 0.25


class Encoded(NamedTuple):
    quantized: torch.Tensor  # B x embed_dim x h x w, straight-through: the codes forward, identity backward
    loss: torch.Tensor  # the quantizer's codebook + commitment loss
    indices: torch.Tensor  # B x h x w code indices


class Reconstruction(NamedTuple):
    """What a tokenizer's forward pass returns (every stage-1 model of the tokenizer task kind: models/vqgan.py's and
    models/vit_vqgan.py's)."""

    images: torch.Tensor  # B x C x H x W in [-1, 1] (unbounded for a conv decoder; clamped only when quantised)
    loss: torch.Tensor  # the quantizer's codebook + commitment loss
    indices: torch.Tensor  # B x h x w code indices
    log_scale: torch.Tensor | None = None  # a logit-Laplace decoder's per-pixel log b (None: no such output)


class VectorQuantizer(nn.Module):
    def __init__(self, n_codes: int, dim: int, beta: float = BETA, legacy: bool = False, ema: bool = False,
                 decay: float = 0.99, eps: float = 1e-5, lookup_dim: int | None = None,
                 l2_normalize: bool = False) -> None:
        super().__init__()
        if ema and legacy:
            raise ValueError("legacy places beta on the codebook loss, which an EMA codebook does not have")
        self.n_codes, self.beta, self.legacy, self.ema = n_codes, beta, legacy, ema
        self.decay, self.eps, self.l2_normalize = decay, eps, l2_normalize
        code_dim = lookup_dim or dim
        self.project_in = nn.Conv2d(dim, code_dim, 1) if lookup_dim else nn.Identity()
        self.project_out = nn.Conv2d(code_dim, dim, 1) if lookup_dim else nn.Identity()
        codes = torch.empty(n_codes, code_dim).uniform_(-1.0 / n_codes, 1.0 / n_codes)  # taming's initialisation
        if ema:
            self.register_buffer("codebook", codes)
            self.register_buffer("cluster_size", torch.zeros(n_codes))
            self.register_buffer("code_sum", codes.clone())
        else:
            self.codebook = nn.Parameter(codes)

    def codes(self) -> torch.Tensor:
        return F.normalize(self.codebook, dim=1) if self.l2_normalize else self.codebook

    def lookup_space(self, z: torch.Tensor) -> torch.Tensor:
        """B x C x H x W -> (B*H*W) x d: the vectors that are matched against the codes."""
        flat = self.project_in(z).permute(0, 2, 3, 1).reshape(-1, self.codebook.shape[1])
        return F.normalize(flat, dim=1) if self.l2_normalize else flat

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """The index of each row's nearest code in squared Euclidean distance (ties: the lowest index)."""
        codes = self.codes()
        distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codes.t() + codes.pow(2).sum(1)[None])
        return distances.argmin(dim=1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(quantized map for the decoder, the codebook + commitment loss, indices B x H x W)."""
        batch, _, height, width = z.shape
        flat = self.lookup_space(z)
        indices = self.nearest(flat.detach())
        chosen = self.codes()[indices]  # a copy: the EMA update below does not move this step's codes
        if self.ema and self.training:
            self._ema_update(flat.detach(), indices)
        commitment = F.mse_loss(flat, chosen.detach())
        if self.ema:
            loss = self.beta * commitment
        else:
            codebook = F.mse_loss(chosen, flat.detach())
            loss = commitment + self.beta * codebook if self.legacy else codebook + self.beta * commitment
        quantized = flat + (chosen - flat).detach()  # straight-through
        quantized = quantized.reshape(batch, height, width, -1).permute(0, 3, 1, 2).contiguous()  # NCHW strides
        return self.project_out(quantized), loss, indices.reshape(batch, height, width)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        onehot = F.one_hot(indices, self.n_codes).type(flat.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.code_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.n_codes * self.eps) * total
        self.codebook.copy_(self.code_sum / smoothed[:, None])

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """B x H x W code indices -> the B x C x H x W map the decoder reads (a prior's samples)."""
        return self.project_out(self.codes()[indices].permute(0, 3, 1, 2).contiguous())
