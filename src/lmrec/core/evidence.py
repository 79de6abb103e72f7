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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lmrec.core.coverage import scores_with_coverage
from lmrec.core.fitted import FittedModel, fitted_state_of, resolve
from lmrec.core.query import Query
from lmrec.core.recommender import Recommender

MAX_OCCLUDED = 1_000  # the most recent distinct history items tried one by one
MOST_CITED = 3  # an explanation names at most this many items
POOL = 20  # the strongest single contributions the joint choice picks from


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


def _scores_after(
    model: Recommender | FittedModel,
    histories: Sequence[Sequence[str]],
    item: str,
    banned: Sequence[str],
) -> tuple[npt.NDArray[np.float64], int]:
    """Score rows after each history (one call), ``banned`` items and NaN at -inf; and the
    column of ``item``."""
    state = fitted_state_of(model)
    batch = resolve(state, [Query(history=tuple(h)) for h in histories])
    scores = scores_with_coverage(model, batch).astype(np.float64, copy=True)
    excluded = state.item_vocab.lookup([b for b in banned if b != item])
    scores[:, excluded[excluded >= 0]] = -np.inf
    scores[np.isnan(scores)] = -np.inf
    return scores, state.item_vocab.index(item)


def ranks_after(
    model: Recommender | FittedModel,
    histories: Sequence[Sequence[str]],
    item: str,
    banned: Sequence[str],
) -> npt.NDArray[np.int64]:
    """The 1-based rank of ``item`` after each history (one scoring call), among the items
    outside ``banned``; NaN scores rank last."""
    return _ranks(*_scores_after(model, histories, item, banned))


def _ranks(scores: npt.NDArray[np.float64], target: int) -> npt.NDArray[np.int64]:
    """The 1-based rank of column ``target`` in each row of masked scores (-inf ranks last)."""
    own = scores[:, target][:, None]
    better = (scores > own).sum(axis=1)
    ranks = np.where(np.isfinite(own[:, 0]), better + 1, scores.shape[1])
    return np.asarray(ranks, dtype=np.int64)


def margins_after(
    model: Recommender | FittedModel,
    histories: Sequence[Sequence[str]],
    item: str,
    banned: Sequence[str],
    k: int,
) -> npt.NDArray[np.float64]:
    """How far ``item``'s score is above the ``k``-th best other item's after each history (one
    scoring call); below 0: it has left the top ``k``."""
    scores, target = _scores_after(model, histories, item, banned)
    own = scores[:, target].copy()
    scores[:, target] = -np.inf
    kth = np.partition(scores, -k, axis=1)[:, -k] if scores.shape[1] >= k else -np.inf
    return np.asarray(own - kth, dtype=np.float64)


def strongest_few(
    model: Recommender | FittedModel,
    history: Sequence[str],
    item: str,
    k: int,
    helping: Sequence[str],
    most: int = MOST_CITED,
) -> tuple[str, ...]:
    """Up to ``most`` history items chosen one at a time, each the one whose removal (with those
    already chosen) brings ``item`` closest to leaving the top ``k`` (one batched call per
    step, over the ``POOL`` strongest single contributions); stops once it has left."""
    chosen: list[str] = []
    pool = list(helping[:POOL])
    for _ in range(most):
        candidates = [c for c in pool if c not in chosen]
        if not candidates:
            break
        gone = set(chosen)
        histories = [[h for h in history if h not in gone and h != c] for c in candidates]
        margins = margins_after(model, histories, item, history, k)
        best = int(np.argmin(margins))
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
) -> Evidence:
    """Contributions of the last ``max_occluded`` distinct history items to ``item``'s score,
    and the greedy counterfactual set (two batched scoring calls)."""
    tried = list(dict.fromkeys(h for h in reversed(history) if h != item))[:max_occluded]
    without = [[h for h in history if h != gone] for gone in tried]
    # one call: the whole history (row 0, also its rank) and the history without each item
    scores, target = _scores_after(model, [list(history), *without], item, history)
    drops = scores[0, target] - scores[1:, target]
    drops = np.where(np.isfinite(drops), drops, 0.0)
    order = np.argsort(-drops, kind="stable")
    contributions = tuple((tried[j], float(drops[j])) for j in order)
    rank = int(_ranks(scores[:1], target)[0])
    counterfactual = _counterfactual(model, history, item, k, contributions)
    strongest: tuple[str, ...] = ()
    if not counterfactual or len(counterfactual) > MOST_CITED:
        helping = [i for i, c in contributions if c > 0]
        strongest = strongest_few(model, history, item, k, helping)
    return Evidence(item, rank, k, contributions, counterfactual, strongest)


def _counterfactual(
    model: Recommender | FittedModel,
    history: Sequence[str],
    item: str,
    k: int,
    contributions: Sequence[tuple[str, float]],
) -> tuple[str, ...]:
    helping = [i for i, c in contributions if c > 0]
    if not helping:
        return ()
    prefixes = [set(helping[:m]) for m in range(1, len(helping) + 1)]
    ranks = ranks_after(
        model, [[h for h in history if h not in p] for p in prefixes], item, history
    )
    out = np.flatnonzero(ranks > k)
    return tuple(helping[: int(out[0]) + 1]) if len(out) else ()


def keep_only(
    model: Recommender | FittedModel, history: Sequence[str], item: str, kept: Sequence[str]
) -> int:
    """``item``'s rank when the history is only ``kept`` (in history order): sufficiency."""
    only = [h for h in history if h in set(kept)]
    return int(ranks_after(model, [only], item, history)[0])


def remove(
    model: Recommender | FittedModel, history: Sequence[str], item: str, removed: Sequence[str]
) -> int:
    """``item``'s rank when ``removed`` are taken out of the history: necessity."""
    gone = set(removed)
    return int(ranks_after(model, [[h for h in history if h not in gone]], item, history)[0])
