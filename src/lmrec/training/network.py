"""The network contract the trainer trains: :class:`SequenceNetwork` (imported only by code that
trains or scores, as it needs torch).

Conventions every sequence network follows:

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

    def softmax_excluded(self, items: tuple[int, int] | None = None) -> torch.Tensor | None:
        """Items (of the range ``items``) the training softmax leaves out, as a boolean mask;
        ``None``: every item competes."""
        return None
