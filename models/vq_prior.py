"""The stage-2 prior of VQ-GAN (Esser et al. 2021) and ViT-VQGAN (Yu et al. 2022): a decoder-only transformer over
the code indices of a frozen tokenizer, in raster order, as taming-transformers' Net2NetTransformer (minGPT).

The sequence is [class token] c_1 ... c_T: with labels, the first token is the image's class (its own embedding
rows after the codes'), without labels a single start token; the model predicts c_t from everything before it.
Blocks are pre-norm: x + attn(LN(x)), x + MLP(LN(x)) with a 4x GELU MLP, causal multi-head attention and learned
position embeddings. Sampling draws one token at a time from softmax(logits / temperature), optionally keeping
only the `top_k` most likely codes and / or the smallest set whose probability reaches `top_p` (nucleus); with
`use_cache` each step feeds only its new token and reuses the keys and values of the earlier ones (a KV cache),
which gives the same tokens as recomputing the whole prefix (tests/models/test_vq_prior.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """x: B x t x width, the new positions; `cache` holds the keys and values of the positions before them
        (and is extended with these)."""
        batch, t, width = x.shape
        q, k, v = (part.reshape(batch, t, self.heads, -1).transpose(1, 2) for part in self.qkv(x).split(width, -1))
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        past = k.shape[2] - t
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        allowed = torch.ones(t, k.shape[2], dtype=torch.bool, device=x.device).tril(diagonal=past)
        attention = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        return self.out((attention @ v).transpose(1, 2).reshape(batch, t, width))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), cache)
        return x + self.mlp(self.norm2(x))


class CodePrior(nn.Module):
    """p(c_1..c_T | class): `n_codes` codes, `length` = T positions (e.g. 8 x 8 = 64), `n_classes` (0: one start
    token)."""

    def __init__(self, n_codes: int, length: int, n_classes: int = 0, width: int = 256, depth: int = 8,
                 heads: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_codes, self.length, self.n_classes = n_codes, length, n_classes
        self.embed = nn.Embedding(n_codes + max(n_classes, 1), width)  # codes, then the class / start tokens
        self.position = nn.Parameter(torch.zeros(1, length, width))
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, n_codes, bias=False)
        nn.init.normal_(self.position, std=0.02)

    def first_token(self, labels: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        if self.n_classes:
            if labels is None:
                raise ValueError("a class-conditional prior needs the labels to condition on")
            return self.n_codes + labels.long().reshape(batch, 1)
        return torch.full((batch, 1), self.n_codes, dtype=torch.long, device=device)

    def _logits(self, tokens: torch.Tensor, start: int, caches: list[dict] | None) -> torch.Tensor:
        x = self.embed(tokens) + self.position[:, start:start + tokens.shape[1]]
        for k, block in enumerate(self.blocks):
            x = block(x, caches[k] if caches is not None else None)
        return self.head(self.norm(x))

    def forward(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits B x T x n_codes of each position given the ones before it (codes: B x T, or B x h x w)."""
        codes = codes.reshape(len(codes), -1)
        tokens = torch.cat([self.first_token(labels, len(codes), codes.device), codes[:, :-1]], dim=1)
        return self._logits(tokens, 0, None)

    def loss(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The mean cross-entropy (nats per token) of the codes under the prior."""
        logits = self.forward(codes, labels)
        return F.cross_entropy(logits.reshape(-1, self.n_codes), codes.reshape(-1).long())

    @torch.no_grad()
    def sample(self, batch: int, labels: torch.Tensor | None = None, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """B x T code indices drawn one position at a time."""
        device = self.position.device
        tokens = self.first_token(labels, batch, device)
        caches = [{} for _ in self.blocks] if use_cache else None
        drawn = []
        for t in range(self.length):
            if use_cache:
                logits = self._logits(tokens[:, -1:], t, caches)[:, -1]
            else:
                logits = self._logits(tokens, 0, None)[:, -1]
            probs = filtered_probabilities(logits / temperature, top_k, top_p)
            nxt = torch.multinomial(probs, 1, generator=generator)
            drawn.append(nxt)
            tokens = torch.cat([tokens, nxt], dim=1)
        return torch.cat(drawn, dim=1)


def filtered_probabilities(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """softmax(logits) over the codes kept: the `top_k` largest, then the smallest set (by decreasing probability)
    whose total reaches `top_p`; the rest get probability 0 and the kept ones are renormalised."""
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(dim=-1)
    if top_p is not None:
        ordered, order = probs.sort(dim=-1, descending=True)
        before = ordered.cumsum(dim=-1) - ordered  # probability of the codes ranked above each one
        ordered = ordered.masked_fill(before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, ordered)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs
