"""The stage-2 prior of VQ-GAN (Esser et al. 2021) and ViT-VQGAN (Yu et al. 2022): a decoder-only transformer over
the code indices of a frozen tokenizer, in raster order, as taming-transformers' Net2NetTransformer (minGPT).

The sequence is [class token] c_1 ... c_T: with labels, the first token is the image's class (its own embedding
rows after the codes'), without labels a single start token; the model predicts c_t from everything before it.
Blocks are pre-norm: x + attn(LN(x)), x + MLP(LN(x)) with a 4x GELU MLP, causal multi-head attention and learned
position embeddings. Sampling draws one token at a time from softmax(logits / temperature), optionally keeping
only the `top_k` most likely codes and / or the smallest set whose probability reaches `top_p` (nucleus); with
`use_cache` each step feeds only its new token and reuses the keys and values of the earlier ones (a KV cache),
which gives the same tokens as recomputing the whole prefix (tests/models/test_vq_prior.py).

Against the reference, taming-transformers' `taming.modules.transformer.mingpt.GPT` (CompVis/taming-transformers at
3ba01b241669f5ade541ce990f7650a3b8f65318): the blocks are the same network (per block 12 w^2 + 13 w parameters at
width w: q, k, v and output projections with biases 4 (w^2 + w), the MLP 8 w^2 + 5 w, two LayerNorms 4 w), as are
the learned positions, the final LayerNorm, the bias-free untied head, the N(0, 0.02) initialisation of the linear
and embedding weights (zero biases, zero positions) and the dropout sites (`dropout` plays all of minGPT's
embd_pdrop, attn_pdrop and resid_pdrop: on the embeddings, the attention probabilities and both residual branches).
So with V = `vocab_size`, P = `block_size`, L = `n_layer`, the reference has

    L (12 w^2 + 13 w) + (2 V + P + 2) w

parameters, and ours (`CodePrior.parameter_count`)

    depth (12 w^2 + 13 w) + (2 n_codes + max(n_classes, 1) + length + 2) w.

The one deliberate difference: taming puts the conditioning into the code vocabulary (its start token is code 0's
row and ImageNet class k is fed as token k, sharing code k's embedding), while we give the start / class tokens
embedding rows of their own after the codes', so at n_codes = V and length = P ours has max(n_classes, 1) w more
parameters (one row of width w unconditional). The head predicts codes only in both. taming's sequence
conditioning (a prefix of depth / segmentation / coordinate / bounding-box tokens) has no counterpart here; its
networks are compared at n_codes = V, length = P, n_classes = 0 (tests/models/test_vq_prior.py has the measured
reference counts).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.attention_drop, self.residual_drop = nn.Dropout(dropout), nn.Dropout(dropout)

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
        attention = self.attention_drop(scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1))
        return self.residual_drop(self.out((attention @ v).transpose(1, 2).reshape(batch, t, width)))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads, dropout)
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
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, n_codes, bias=False)
        for module in self.modules():  # minGPT's initialisation; the positions stay at zero
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    @staticmethod
    def parameter_count(n_codes: int, length: int, n_classes: int = 0, width: int = 256, depth: int = 8) -> int:
        """The closed form of sum(p.numel() for p in CodePrior(...).parameters()) (see the module docstring)."""
        return depth * (12 * width * width + 13 * width) + (2 * n_codes + max(n_classes, 1) + length + 2) * width

    def first_token(self, labels: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        if self.n_classes:
            if labels is None:
                raise ValueError("a class-conditional prior needs the labels to condition on")
            return self.n_codes + labels.long().reshape(batch, 1)
        return torch.full((batch, 1), self.n_codes, dtype=torch.long, device=device)

    def _logits(self, tokens: torch.Tensor, start: int, caches: list[dict] | None) -> torch.Tensor:
        x = self.drop(self.embed(tokens) + self.position[:, start:start + tokens.shape[1]])
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
