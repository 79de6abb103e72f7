"""Candidate generation for LLM ranking, and how often the candidates contain the target.

- NIR's user filtering and item filtering (Wang & Lim, "Zero-Shot Next-Item Recommendation using
  Large Pretrained Language Models", 2023), implemented here from their description;
- any lmrec retriever: its top ``n`` items with the history masked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Interactions, Sequences
from lmrec.metrics.evaluate import score_cases
from lmrec.models.base import Recommender, top_k
from lmrec.protocols.base import EvalCases

Candidates = npt.NDArray[np.int64]


def _binary(rows: Sequences, n_items: int) -> Any:
    import scipy.sparse as sp

    m = sp.csr_matrix(
        (np.ones(len(rows.items), dtype=np.float32), (rows.row_ids(), rows.items)),
        shape=(len(rows), n_items),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _unit_rows(m: Any) -> Any:
    import scipy.sparse as sp

    assert isinstance(m, sp.csr_matrix)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m


def _top_unseen(scores: npt.NDArray[np.float32], histories: Sequences, n: int) -> Candidates:
    scores = scores.copy()
    scores[histories.row_ids(), histories.items] = -np.inf
    return top_k(scores, n)


def user_filtering(
    train: Interactions, cases: EvalCases, n: int = 19, neighbors: int = 10
) -> Candidates:
    """The ``n`` items most often interacted with by the ``neighbors`` users most similar to each
    case's history (cosine of binary item vectors; the user is not their own neighbour)."""
    users = _binary(train.sequences(), train.n_items)
    queries = _binary(cases.histories, train.n_items)
    sim = np.asarray((_unit_rows(queries) @ _unit_rows(users).T).todense(), dtype=np.float32)
    known = cases.users >= 0
    sim[np.flatnonzero(known), cases.users[known]] = -np.inf
    nearest = top_k(sim, neighbors)
    counts = np.zeros((len(cases), train.n_items), dtype=np.float32)
    dense = users.tocsr()
    for row in range(len(cases)):
        counts[row] = np.asarray(dense[nearest[row]].sum(axis=0)).ravel()
    # ties: more popular overall first, then ascending id (top_k)
    popularity = train.item_counts().astype(np.float32)
    counts += 1e-6 * popularity / max(float(popularity.max()), 1.0)
    return _top_unseen(counts, cases.histories, n)


def item_filtering(train: Interactions, cases: EvalCases, n: int = 19) -> Candidates:
    """The ``n`` items most similar (cosine of their user sets) to the items of each history."""
    items = _unit_rows(_binary(train.sequences(), train.n_items).T.tocsr())
    queries = _binary(cases.histories, train.n_items)
    scores = np.asarray((queries @ items @ items.T).todense(), dtype=np.float32)
    return _top_unseen(scores, cases.histories, n)


def retriever_candidates(model: Recommender, cases: EvalCases, n: int = 19) -> Candidates:
    """A fitted lmrec model's top ``n`` items per case, history masked."""
    out = np.empty((len(cases), n), dtype=np.int64)
    for start in range(0, len(cases), 512):
        stop = min(start + 512, len(cases))
        scores = score_cases(model, cases, start, stop, exclude_history=True)
        targets = cases.targets[start:stop]
        hist = cases.histories.take(np.arange(start, stop))
        # score_cases keeps the target unmasked even when it is in the history; mask it too
        in_history = np.zeros(len(targets), dtype=bool)
        rows = hist.row_ids()
        in_history[rows[hist.items == targets[rows]]] = True
        scores[np.flatnonzero(in_history), targets[in_history]] = -np.inf
        out[start:stop] = top_k(scores, n)
    return out


def hit_rate(candidates: Candidates, targets: npt.NDArray[np.int32]) -> float:
    """Share of cases whose target is among their candidates."""
    return float((candidates == targets[:, None]).any(axis=1).mean())
