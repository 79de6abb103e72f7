"""Evidence from the model itself: which history items make *this model* recommend an item.

Occlusion works for any fitted model: the history is scored once whole and once without each of
its items (one batched scoring call), and an item's contribution is how much the recommended
item's score drops without it. The counterfactual set is the fewest history items whose removal
pushes the item out of the top ``k``: greedy (take items by contribution, strongest first, until
the item leaves the top ``k``; one more batched call for all the prefixes), so it is small but not
guaranteed smallest. Attention weights are not evidence and are not used.

Ranks are among the items the whole history's query could return (the whole history stays
excluded when items are removed, so the candidates never change).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.core.coverage import scores_with_coverage
from lmrec.core.fitted import FittedModel, exclusions, fitted_state_of, resolve
from lmrec.core.query import Query, QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Sequences

MAX_OCCLUDED = 1_000  # the most recent distinct history items tried one by one
MOST_CITED = 3  # an explanation names at most this many items
POOL = 20  # the strongest single contributions the joint choice picks from
RECENT = 10  # ... and the most recent items (removing one re-weighs the rest in recency models)


@dataclass(frozen=True)
class Evidence:
    """Why ``item`` is recommended after ``history``, by the model's own scores."""

    item: str
    rank: int  # 1-based, with the whole history
    k: int
    contributions: tuple[tuple[str, float], ...]  # (history item, score drop), strongest first
    counterfactual: tuple[str, ...]  # () when removing every tried item keeps it in the top k
    strongest: tuple[str, ...] = ()  # at most MOST_CITED items chosen jointly (see occlusion)

    def cited(self, most: int = 3) -> tuple[str, ...]:
        """The items an explanation names: the counterfactual set when it is small, else the
        jointly strongest few, else the ``most`` strongest single contributions."""
        if self.counterfactual and len(self.counterfactual) <= most:
            return self.counterfactual
        if self.strongest:
            return self.strongest[:most]
        return tuple(i for i, c in self.contributions[:most] if c > 0)

    def to_json(self, most: int = MOST_CITED, top: int = 10) -> dict[str, Any]:
        """What JSON outputs carry next to an explanation's text: the cited items, the
        counterfactual set, and the score drops of the cited items and the ``top`` strongest."""
        cited = self.cited(most)
        shown = [(i, c) for n, (i, c) in enumerate(self.contributions) if n < top or i in cited]
        return {
            "item_id": self.item,
            "rank": self.rank,
            "k": self.k,
            "cited": list(cited),
            "counterfactual": list(self.counterfactual),
            "contributions": [
                {"item_id": i, "score_drop": c} for i, c in shown if c > 0 or i in cited
            ],
        }


IntArray = npt.NDArray[np.int64]


class Occluded:
    """One history of one query in index space, re-scored with items taken out: every variant
    is an index array cut from the history's (one id lookup per explanation, not per variant).
    Ranks are among the items outside the whole history (and inside ``domain``)."""

    def __init__(
        self,
        model: Recommender | FittedModel,
        history: Sequence[str],
        item: str,
        domain: str | None = None,
    ) -> None:
        self.model = model
        self.state = fitted_state_of(model)
        self.indices = resolve(self.state, [Query(history=tuple(history))]).histories[0]
        self.position = dict(zip(history, self.indices.tolist(), strict=True))
        self.target = self.state.item_vocab.index(item)
        banned = self.indices[self.indices != self.target].astype(np.int64)
        if domain is not None:
            outside = exclusions(self.state, Query(domain=domain), np.empty(0, dtype=np.int64))
            banned = np.concatenate([banned, outside])
        self.banned = banned

    def _of(self, items: Collection[str]) -> IntArray:
        return np.asarray([self.position[i] for i in items if i in self.position], dtype=np.int64)

    def without(self, gone: Collection[str]) -> npt.NDArray[np.int32]:
        """The history without ``gone``, in order."""
        return self.indices[~np.isin(self.indices, self._of(gone))]

    def only(self, kept: Collection[str]) -> npt.NDArray[np.int32]:
        """Only ``kept`` of the history, in history order."""
        return self.indices[np.isin(self.indices, self._of(kept))]

    def scores(self, rows: Sequence[npt.NDArray[np.int32]]) -> npt.NDArray[np.float64]:
        """Score rows after each history (one call); banned items and NaN at -inf."""
        users = np.full(len(rows), -1, dtype=np.int32)
        batch = QueryBatch(users, Sequences.from_arrays([np.asarray(r) for r in rows]))
        scores = scores_with_coverage(self.model, batch).astype(np.float64, copy=True)
        scores[:, self.banned] = -np.inf
        scores[np.isnan(scores)] = -np.inf
        return scores

    def ranks(self, rows: Sequence[npt.NDArray[np.int32]]) -> npt.NDArray[np.int64]:
        """The 1-based rank of the item after each history (one scoring call)."""
        return _ranks(self.scores(rows), self.target)

    def margins(self, rows: Sequence[npt.NDArray[np.int32]], k: int) -> npt.NDArray[np.float64]:
        """How far the item's score is above the ``k``-th best other item's after each history
        (one scoring call); below 0: it has left the top ``k``."""
        scores = self.scores(rows)
        own = scores[:, self.target].copy()
        scores[:, self.target] = -np.inf
        kth = np.partition(scores, -k, axis=1)[:, -k] if scores.shape[1] >= k else -np.inf
        return np.asarray(own - kth, dtype=np.float64)


def _ranks(scores: npt.NDArray[np.float64], target: int) -> npt.NDArray[np.int64]:
    """The 1-based rank of column ``target`` in each row of masked scores (-inf ranks last)."""
    own = scores[:, target][:, None]
    better = (scores > own).sum(axis=1)
    ranks = np.where(np.isfinite(own[:, 0]), better + 1, scores.shape[1])
    return np.asarray(ranks, dtype=np.int64)


def strongest_few(
    seen: Occluded, k: int, helping: Sequence[str], most: int = MOST_CITED
) -> tuple[str, ...]:
    """Up to ``most`` history items chosen one at a time, each the one whose removal (with those
    already chosen) brings the item closest to leaving the top ``k`` (one batched call per
    step); stops once it has left, or when no item brings it closer. ``helping`` is the pool
    (:func:`occlusion` gives the ``POOL`` strongest single contributions and the ``RECENT`` most
    recent items: in a recency-weighted model an item that raises nothing alone may matter
    jointly)."""
    chosen: list[str] = []
    pool = list(dict.fromkeys(helping))
    for _ in range(most):
        candidates = [c for c in pool if c not in chosen]
        if not candidates:
            break
        rows = [seen.without(chosen), *(seen.without({*chosen, c}) for c in candidates)]
        now, *margins = seen.margins(rows, k)  # row 0: the margin with ``chosen`` removed
        best = int(np.argmin(margins))
        if margins[best] >= now:  # no item brings it closer: none is cited for nothing
            break
        chosen.append(candidates[best])
        if margins[best] < 0:
            break
    return tuple(chosen)


def occlusion(
    model: Recommender | FittedModel,
    history: Sequence[str],
    item: str,
    k: int = 10,
    max_occluded: int = MAX_OCCLUDED,
    domain: str | None = None,
) -> Evidence:
    """Contributions of the last ``max_occluded`` distinct history items to ``item``'s score,
    and the greedy counterfactual set (two batched scoring calls); on a joint model ``domain``
    ranks the item among that domain's items, as its recommendation did."""
    seen = Occluded(model, history, item, domain)
    tried = list(dict.fromkeys(h for h in reversed(history) if h != item))[:max_occluded]
    # one call: the whole history (row 0, also its rank) and the history without each item
    scores = seen.scores([seen.indices, *(seen.without((gone,)) for gone in tried)])
    drops = scores[0, seen.target] - scores[1:, seen.target]
    drops = np.where(np.isfinite(drops), drops, 0.0)
    order = np.argsort(-drops, kind="stable")
    contributions = tuple((tried[j], float(drops[j])) for j in order)
    rank = int(_ranks(scores[:1], seen.target)[0])
    helping = [i for i, c in contributions if c > 0]
    counterfactual = _counterfactual(seen, k, helping)
    strongest: tuple[str, ...] = ()
    if not counterfactual or len(counterfactual) > MOST_CITED:
        strongest = strongest_few(seen, k, [*helping[:POOL], *tried[:RECENT]])
    return Evidence(item, rank, k, contributions, counterfactual, strongest)


def _counterfactual(seen: Occluded, k: int, helping: Sequence[str]) -> tuple[str, ...]:
    """The shortest prefix of ``helping`` whose removal pushes the item out of the top ``k``."""
    if not helping:
        return ()
    ranks = seen.ranks([seen.without(helping[:m]) for m in range(1, len(helping) + 1)])
    out = np.flatnonzero(ranks > k)
    return tuple(helping[: int(out[0]) + 1]) if len(out) else ()


def keep_only(
    model: Recommender | FittedModel,
    history: Sequence[str],
    item: str,
    kept: Sequence[str],
    domain: str | None = None,
) -> int:
    """``item``'s rank when the history is only ``kept`` (in history order): sufficiency."""
    seen = Occluded(model, history, item, domain)
    return int(seen.ranks([seen.only(kept)])[0])


def remove(
    model: Recommender | FittedModel,
    history: Sequence[str],
    item: str,
    removed: Sequence[str],
    domain: str | None = None,
) -> int:
    """``item``'s rank when ``removed`` are taken out of the history: necessity."""
    seen = Occluded(model, history, item, domain)
    return int(seen.ranks([seen.without(removed)])[0])
