"""Torch networks of the ID-based sequence models (imported only by code that trains or scores).

They subclass :class:`lmrec.training.network.SequenceNetwork` and follow its conventions (inputs
shifted by one, 0 = padding, left padding; scores against the tied output item table).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lmrec.training.network import SequenceNetwork


class FastDropout(nn.Module):
    """Dropout whose mask comes from random bytes (8 per 64-bit draw), resolution 1/256.

    torch's CPU ``bernoulli_`` draws one random number per element and was 42% of a SASRec
    training step on ML-1M; this draws one per eight elements (same expected scaling).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.threshold = round(p * 256)
        self.scale = 256.0 / (256 - self.threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        n = x.numel()
        draws = torch.empty((n + 7) // 8, dtype=torch.int64, device=x.device)
        draws.random_(-(2**63), 2**63 - 1)
        keep = draws.view(torch.uint8)[:n].view(x.shape) >= self.threshold
        return x * keep.to(x.dtype).mul_(self.scale)


class CausalSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.drop = FastDropout(dropout)
        self.scale = 1.0 / math.sqrt(hidden // heads)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, last: bool = False) -> torch.Tensor:
        """``bias``: additive ``(batch, 1, width, width)`` mask, ``-inf`` where a key is hidden.
        ``last``: only the last position queries (output ``(batch, 1, hidden)``)."""
        b, w, h = x.shape
        q, k, v = self.qkv(x).view(b, w, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        if last:
            q, bias = q[:, :, -1:], bias[:, :, -1:]
        n = q.shape[2]
        weights = torch.softmax(
            torch.baddbmm(
                bias.expand(b, self.heads, n, w).reshape(b * self.heads, n, w),
                q.reshape(b * self.heads, n, -1) * self.scale,
                k.reshape(b * self.heads, w, -1).transpose(1, 2),
            ),
            dim=-1,
        )
        y = torch.bmm(self.drop(weights), v.reshape(b * self.heads, w, -1))
        out: torch.Tensor = self.out(y.view(b, self.heads, n, -1).transpose(1, 2).reshape(b, n, h))
        return out


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden)
        self.attn = CausalSelfAttention(hidden, heads, dropout)
        self.norm2 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, hidden * 4 if hidden < 256 else hidden * 2),
            nn.GELU(),
            FastDropout(dropout),
            nn.Linear(hidden * 4 if hidden < 256 else hidden * 2, hidden),
        )
        self.drop = FastDropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, last: bool = False) -> torch.Tensor:
        """``last``: the output of the last position only, ``(batch, 1, hidden)``."""
        x = (x[:, -1:] if last else x) + self.drop(self.attn(self.norm1(x), mask, last))
        out: torch.Tensor = x + self.drop(self.ffn(self.norm2(x)))
        return out


class SASRecNetwork(SequenceNetwork):
    """SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the item sequence.

    Positions are counted from the right (the most recent item always has the last position), so
    batches trimmed to their longest sequence see the same position embeddings as full-width ones.
    """

    def __init__(
        self,
        n_items: int,
        hidden: int,
        layers: int,
        heads: int,
        dropout: float,
        max_len: int,
        ids: bool = True,
    ) -> None:
        super().__init__(n_items, hidden, ids)
        self.max_len = max_len
        self.positions = nn.Embedding(max_len, hidden)
        nn.init.normal_(self.positions.weight, std=1.0 / math.sqrt(hidden))
        self.drop = FastDropout(dropout)
        self.blocks = nn.ModuleList(TransformerBlock(hidden, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.scale = math.sqrt(hidden)

    def encode(self, inputs: torch.Tensor, last: bool = False) -> torch.Tensor:
        """Hidden states ``(batch, width, hidden)``; ``last``: of the last position only
        (``(batch, 1, hidden)``; the final block then does one query per row)."""
        w = inputs.shape[1]
        if w > self.max_len:
            raise ValueError(f"sequence width {w} exceeds max_len {self.max_len}")
        valid = inputs > 0
        pos = torch.arange(self.max_len - w, self.max_len, device=inputs.device)
        x = self.lookup(inputs) + self.positions(pos)[None]
        x = self.drop(x) * valid[..., None]
        # query i may read key j ≤ i that is an item; padding queries read only themselves.
        causal = torch.ones(w, w, dtype=torch.bool, device=inputs.device).tril()
        eye = torch.eye(w, dtype=torch.bool, device=inputs.device)
        allowed = (causal[None] & valid[:, None, :]) | eye[None]
        bias = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device).masked_fill_(
            ~allowed, float("-inf")
        )
        for i, block in enumerate(self.blocks):
            x = block(x, bias[:, None], last and i == len(self.blocks) - 1)
        out: torch.Tensor = self.norm(x)
        return out

    def last_hidden(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.encode(inputs, last=True)[:, -1]

    def lookup(self, inputs: torch.Tensor) -> torch.Tensor:
        """Input vectors of item indices (row 0 = padding); text networks override this."""
        out: torch.Tensor = self.items(inputs) * self.scale
        return out


class GRU4RecNetwork(SequenceNetwork):
    """GRU4Rec (Hidasi et al., ICLR 2016) as used in recent comparisons: embedding → GRU →
    projection back to the embedding space, scored against the tied item table."""

    def __init__(self, n_items: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__(n_items, hidden)
        self.drop = FastDropout(dropout)
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True)
        self.project = nn.Linear(hidden, hidden)

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        valid = inputs > 0
        x = self.drop(self.items(inputs))
        out, _ = self.gru(x)
        # left padding: states over padding carry no item; zero them so nothing reads them.
        projected: torch.Tensor = self.project(self.drop(out))
        return projected * valid[..., None]
