"""Exact top-k for the zero-shot model at serving speed, two ways.

**Similarity rows** (catalogues whose n × n float32 cosine matrix fits the memory budget): every
pooling is a function of the history items' cosine rows. The mean part is
``Σ_w weight_w·S[h_w, j] / ‖Σ_w weight_w·e_{h_w}‖`` (the norm from the history's Gram block of
``S``), the max part ``max_w weight_w·S[h_w, j]``. A query then reads its history's rows
(≈ 9 × 67 KB on Amazon Games) instead of the whole embedding matrix (26 MB).

**Neighbour lists** (larger catalogues) prune the max-sim part of ``mean-max``:

``mean-max`` scores item j as ``(1 - a)·m_j + a·x_j + prior_j`` where ``m_j`` is the cosine to
the user's mean vector and ``x_j = max_w weight_w · cos(h_w, j)`` over the last ``W`` history
items. Computing every ``x_j`` costs ``W`` passes over the catalogue; the mean part costs one.

Each item keeps its ``M`` nearest neighbours with their similarities, and ``t_h``, the M-th
neighbour's similarity. For history item ``w`` and any item ``j``: if ``j`` is on ``w``'s list its
similarity is known, else it is at most ``t_{h_w}``. So for every item:

- a lower bound ``L_j`` = the best known weighted similarity (``-inf`` if on no list),
- an upper bound ``max(L_j, max over lists without j of weight_w · t_{h_w})``.

1. ``τ`` = the k-th best *lower-bound* score (excluded items left out);
2. every item whose *upper-bound* score reaches ``τ`` is scored exactly;
3. the top k of the exactly scored items is the exact top k: every other item's true score is at
   most its upper bound, below ``τ``, and k exactly scored items reach ``τ``.

The result equals ranking by the full score matrix (up to float rounding of near-ties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lmrec.index.topk import top_k


@dataclass(frozen=True)
class NeighbourLists:
    """The ``M`` most similar items of every item (itself included) and the M-th similarity."""

    items: npt.NDArray[np.int32]  # (n, M)
    sims: npt.NDArray[np.float32]  # (n, M) their similarities
    floor: npt.NDArray[np.float32]  # (n,) similarity of the M-th neighbour

    @classmethod
    def build(
        cls, embeddings: npt.NDArray[np.float32], m: int, block: int = 1024
    ) -> NeighbourLists:
        n = len(embeddings)
        m = min(m, n)
        items = np.empty((n, m), dtype=np.int32)
        sims = np.empty((n, m), dtype=np.float32)
        for start in range(0, n, block):
            block_sims = embeddings[start : start + block] @ embeddings.T
            part = np.argpartition(-block_sims, m - 1, axis=1)[:, :m]
            items[start : start + block] = part
            sims[start : start + block] = np.take_along_axis(block_sims, part, axis=1)
        return cls(items, sims, sims.min(axis=1))


HEADROOM = 1024  # rows and columns a served similarity matrix keeps free for items added later


def similarity_rows(
    embeddings: npt.NDArray[np.float32], block: int = 2048, spare: int = 0
) -> npt.NDArray[np.float32]:
    """The n × n cosine matrix of unit-length embeddings, computed in row blocks; with
    ``spare``, a view of an (n + spare)² buffer, so items added later need no copy of it."""
    n = len(embeddings)
    out = np.empty((n + spare, n + spare), dtype=np.float32)[:n, :n]
    for start in range(0, n, block):
        np.matmul(embeddings[start : start + block], embeddings.T, out=out[start : start + block])
    return out


def scores_from_rows(
    sims: npt.NDArray[np.float32],
    history: npt.NDArray[np.int32],
    weights: npt.NDArray[np.float32],
    max_width: int,
    share: float,
) -> npt.NDArray[np.float32]:
    """One query's pooled scores (no prior) from the cosine rows of its history.

    ``history`` (oldest first, at least one item) and its recency ``weights`` feed the mean part;
    the max part uses the last ``max_width`` of them with the same weights.
    """
    rows = sims[history]
    scores = np.zeros(rows.shape[1], dtype=np.float32)
    if share < 1.0:
        gram = rows[:, history]
        norm = float(np.sqrt(max(float(weights @ gram @ weights), 0.0)))
        scores += (1.0 - share) / max(norm, 1e-12) * (weights @ rows)
    if share > 0.0:
        width = min(max_width, len(history))
        scores += share * (rows[-width:] * weights[-width:, None]).max(axis=0)
    return scores


@dataclass(frozen=True)
class MeanMaxQuery:
    """One query of the mean-max ranking: the mean-part scores of every item and the history."""

    mean_scores: npt.NDArray[np.float32]  # (n,) (1 - a)·m_j + prior_j
    history: npt.NDArray[np.int32]  # the last W history items, oldest first
    weights: npt.NDArray[np.float32]  # their recency weights
    exclude: npt.NDArray[np.int64]
    k: int


def exact_top_k(
    query: MeanMaxQuery,
    embeddings: npt.NDArray[np.float32],
    lists: NeighbourLists,
    share: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], int]:
    """Top-k item indices and scores, and how many items were scored exactly."""
    n = len(query.mean_scores)
    hist_emb = embeddings[query.history] * query.weights[:, None]

    def exact(items: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        best = (hist_emb @ embeddings[items].T).max(axis=0)
        return np.asarray(query.mean_scores[items] + share * best, dtype=np.float32)

    banned = np.zeros(n, dtype=bool)
    banned[query.exclude] = True
    listed = lists.items[query.history].astype(np.int64)  # (W, M)
    known = lists.sims[query.history] * query.weights[:, None]
    lower = np.full(n, -np.inf, dtype=np.float32)
    np.maximum.at(lower, listed.ravel(), known.ravel())
    # upper: off w's list, sim ≤ t_w; the bound over all lists is the largest weighted floor,
    # except for items on the list that has it (then: the second largest)
    floors = query.weights * lists.floor[query.history]
    order = np.argsort(-floors)
    top_floor = floors[order[0]]
    second = floors[order[1]] if len(order) > 1 else -np.inf
    upper = np.full(n, top_floor, dtype=np.float32)
    upper[listed[order[0]]] = second
    upper = np.maximum(upper, lower)
    low_scores = query.mean_scores + share * lower
    low_scores[banned] = -np.inf
    finite = np.flatnonzero(np.isfinite(low_scores))
    if len(finite) >= query.k:
        tau = -np.partition(-low_scores[finite], query.k - 1)[query.k - 1]
    else:
        tau = -np.inf
    todo = np.flatnonzero((query.mean_scores + share * upper >= tau) & ~banned)
    scored = np.full(n, -np.inf, dtype=np.float32)
    scored[todo] = exact(todo)
    best = top_k(scored[None, :], query.k)[0]
    best = best[np.isfinite(scored[best])]
    return best, scored[best], len(todo)
