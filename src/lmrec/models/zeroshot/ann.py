"""History queries through an approximate index, for catalogues too large to score in full.

The index proposes candidates: the nearest items to the history's mean vector and to each of
its last ``max_window`` items (where the max-sim part finds its best). Those candidates are then
scored exactly with the model's own pooling, so only items the index misses can differ from the
exact ranking; :func:`search_recall` measures how often that happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lmrec.core.query import QueryBatch
from lmrec.index.base import VectorIndex
from lmrec.index.topk import TopItems, rank_rows


class Searchable(Protocol):
    """What the approximate path reads from the zero-shot model."""

    item_embeddings: npt.NDArray[np.float32]
    prior: npt.NDArray[np.float32]
    config: Any  # ZeroShotConfig: pooling, window, max_window, max_weight, decay, ann_candidates

    def user_vectors(self, batch: QueryBatch) -> npt.NDArray[np.float32]: ...

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]: ...

    def vector_index(self) -> VectorIndex: ...


def ann_top_items(
    model: Searchable,
    batch: QueryBatch,
    k: int,
    exclude: Sequence[npt.NDArray[np.int64]],
) -> list[TopItems]:
    """Top ``k`` per query from the index's candidates, scored exactly."""
    index = model.vector_index()
    emb = model.item_embeddings
    width = model.config.ann_candidates
    users = model.user_vectors(batch)
    _, by_mean = index.search(users, width + max((len(e) for e in exclude), default=0))
    share = 0.0 if model.config.pooling == "recency-mean" else model.config.max_weight
    narrow = batch.histories.truncate(min(model.config.window, model.config.max_window))
    # each recent item's neighbours, for every row in one search: row r keeps the first
    # max(k, width // its number of recent items) of its items' lists
    wanted = np.maximum(k, width // np.maximum(narrow.lengths, 1))
    near = np.empty((0, 0), dtype=np.int64)
    if share and len(narrow.items):
        _, near = index.search(emb[narrow.items], int(wanted.max()))
    out: list[TopItems] = []
    for row in range(len(batch)):
        recent = narrow[row]
        pool = [by_mean[row]]
        if share and len(recent):
            start, stop = narrow.indptr[row], narrow.indptr[row + 1]
            pool.append(near[start:stop, : wanted[row]].ravel())
        candidates = np.unique(np.concatenate(pool))
        candidates = candidates[candidates >= 0]
        scores = (1.0 - share) * (emb[candidates] @ users[row])
        if share and len(recent):
            weights = np.power(model.config.decay, np.arange(len(recent))[::-1]).astype(np.float32)
            scores = scores + share * (weights[:, None] * (emb[recent] @ emb[candidates].T)).max(0)
        scores = (scores + model.prior[candidates]).astype(np.float32)
        keep = ~np.isin(candidates, exclude[row])
        candidates, scores = candidates[keep], scores[keep]
        best = np.lexsort((candidates, -scores))[:k]  # ties: ascending item index
        out.append((candidates[best], scores[best]))
    return out


def search_recall(model: Searchable, batch: QueryBatch, k: int = 10) -> float:
    """Share of the exact top ``k`` that the approximate path returns, over ``batch``."""
    none: list[npt.NDArray[np.int64]] = [np.empty(0, dtype=np.int64)] * len(batch)
    approx = ann_top_items(model, batch, k, none)
    exact = rank_rows(model.score(batch), k, none)
    found = [
        len(np.intersect1d(a[0], e[0])) / max(len(e[0]), 1)
        for a, e in zip(approx, exact, strict=True)
    ]
    return float(np.mean(found)) if found else 1.0
