"""Which catalogue items a fitted model can score, and where the others rank.

The item universe is the whole catalogue (:mod:`lmrec.data.universe`), so a model may hold items
that had no training interaction. A text model scores them from their text; an ID-only model
has learned nothing about them and says so through :class:`~lmrec.core.recommender.ItemCoverage`.

The defined place of an item a model cannot score: **after every item it can score**, in
ascending item id, in every ranking (``recommend``, the service, ``evaluate``, a two-stage
retriever's candidates, an ensemble member's ranks). Its score is replaced by a value below the
row's lowest scored item, so it is never dropped silently and never ranks by an untrained
embedding's noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from lmrec.core.query import QueryBatch

if TYPE_CHECKING:
    from lmrec.core.recommender import Recommender

BoolArray = npt.NDArray[np.bool_]


def scorable_items(model: object) -> BoolArray | None:
    """The items a recommender ``model`` can score (``None``: every item of its vocabulary)."""
    from lmrec.core.recommender import ItemCoverage

    if not isinstance(model, ItemCoverage):
        return None
    mask = np.asarray(model.scorable_items(), dtype=bool)
    return None if mask.all() else mask


def unscorable_count(model: Recommender) -> int:
    """How many items of the model's vocabulary it cannot score."""
    mask = scorable_items(model)
    return 0 if mask is None else int((~mask).sum())


def place_unscorable(
    scores: npt.NDArray[np.float32], scorable: BoolArray | None
) -> npt.NDArray[np.float32]:
    """``scores`` (changed in place) with every unscorable column of each row set below the row's
    lowest finite scorable score, so those items rank last in ascending index (the tie rule)."""
    if scorable is None or scores.size == 0:
        return scores
    seen = np.where(scorable[None, :] & np.isfinite(scores), scores, np.inf)
    low = seen.min(axis=1)
    low = np.where(np.isfinite(low), low, 0.0)
    floor = (low - np.maximum(1.0, np.abs(low))).astype(np.float32)
    cols = ~scorable
    kept = scores[:, cols]
    scores[:, cols] = np.where(np.isneginf(kept), kept, floor[:, None])  # masked stays masked
    return scores


class Scorer(Protocol):
    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]: ...


def scores_with_coverage(model: Scorer, batch: QueryBatch) -> npt.NDArray[np.float32]:
    """``model.score(batch)`` as a writable float32 array, unscorable items placed last."""
    scores = np.array(model.score(batch), dtype=np.float32)
    return place_unscorable(scores, scorable_items(model))
