"""Torch networks of the ID-based sequence models (imported only by code that trains or scores).

Conventions shared by every network here:

- inputs are ``(batch, width)`` int64 item indices **shifted by one** (0 is padding), left-padded so
  the most recent item sits in the last column;
- ``forward`` returns hidden states ``(batch, width, hidden)``; item scores are the dot product of a
  hidden state with the output item table ``item_table()`` (``(n_items, hidden)``, no padding row);
  ``scores(inputs, where)`` gives them for the positions ``where`` selects, optionally for a range
  of items only (networks that add a score term beyond the dot product override
  ``add_score_terms``).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SequenceNetwork(nn.Module):
    """Base: an item embedding table (row 0 = padding) tied to the output layer."""

    def __init__(self, n_items: int, hidden: int, ids: bool = True) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1 if ids else 1, hidden, padding_idx=0)
        nn.init.normal_(self.items.weight, std=1.0 / math.sqrt(hidden))
        with torch.no_grad():
            self.items.weight[0].zero_()

    def item_table(self, items: tuple[int, int] | None = None) -> torch.Tensor:
        """Output vectors of every item, or of the item range ``items = (start, stop)``."""
        table = self.items.weight[1:]
        return table if items is None else table[items[0] : items[1]]

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.encode(inputs)

    def last_hidden(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(batch, hidden)`` hidden states of the last column only (networks that can skip the
        other positions' work override this)."""
        hidden: torch.Tensor = self(inputs)
        return hidden[:, -1]

    def scores(
        self,
        inputs: torch.Tensor,
        where: torch.Tensor,
        table: torch.Tensor | None = None,
        items: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """``(selected positions, n_items)`` scores at the positions of the boolean ``(batch,
        width)`` mask ``where``; ``table`` is ``item_table(items)`` when the caller already has
        it; ``items = (start, stop)`` scores only that range of items (one domain of a joint
        model)."""
        table = self.item_table(items) if table is None else table
        if where.shape[1] and int(where.sum()) == len(where) and bool(where[:, -1].all()):
            hidden = self.last_hidden(inputs)  # one query per row, the last (scoring)
        else:
            hidden = self(inputs)[where]
        return self.add_score_terms(hidden @ table.T, inputs, where, items)

    def add_score_terms(
        self,
        out: torch.Tensor,
        inputs: torch.Tensor,
        where: torch.Tensor,
        items: tuple[int, int] | None,
    ) -> torch.Tensor:
        """``out`` (the dot-product scores) plus any further score terms: none here."""
        return out


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
