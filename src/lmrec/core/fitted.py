"""Shared machinery for recommenders that score every item of a training vocabulary.

:class:`FittedState` holds what every such model keeps after ``fit``: the vocabularies and each
training user's chronological history (for queries that give a user id but no history).
:func:`recommend_with` turns a :class:`Query` into a :class:`Ranking` through a model's ``score``.
:class:`ModelContext` is what a model may read besides the interactions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lmrec.core.query import Query, QueryBatch, Ranking
from lmrec.data.containers import Dataset, Interactions, ItemCatalog, Sequences, Vocabulary
from lmrec.data.errors import DataError
from lmrec.index.topk import top_k

if TYPE_CHECKING:
    from lmrec.core.recommender import Recommender


@dataclass(frozen=True)
class ModelContext:
    """What a model may need besides training interactions: the dataset's name and item catalogue
    (for text models), where to cache embeddings, and whether to show progress bars."""

    dataset: str = ""
    catalog: ItemCatalog | None = None
    cache_dir: Path | None = None
    progress: bool = False
    encoder: Any = None  # a ready lmrec.text.encoders.Encoder to share between models
    # told (epoch, validation metric or None) after each training epoch, e.g. by a tuner
    on_epoch: Callable[[int, float | None], None] | None = None

    @classmethod
    def for_dataset(cls, dataset: Dataset, progress: bool = False) -> ModelContext:
        """What models may read besides interactions: the dataset's name and catalogue."""
        return cls(dataset.name, dataset.catalog, progress=progress)


ModelFactory = Callable[[str, Mapping[str, Any], ModelContext], "Recommender"]
"""Builds a registered model by name (the registry's ``create_model``, handed to models that
build members or retrievers of their own, so they need not import the registry)."""


def tie_break_prior(train: Interactions) -> npt.NDArray[np.float32]:
    """Training popularity scaled to at most 1e-6: added to a model's scores, it breaks their ties
    (more popular first) without reordering any real difference, and ranks an empty history."""
    counts = train.item_counts().astype(np.float64)
    prior: npt.NDArray[np.float32] = (1e-6 * counts / max(counts.max(), 1.0)).astype(np.float32)
    return prior


class NotFittedError(RuntimeError):
    """A model used before ``fit`` (or ``load``)."""


@dataclass(frozen=True)
class FittedState:
    """Vocabularies and training histories of a fitted model."""

    user_vocab: Vocabulary
    item_vocab: Vocabulary
    histories: Sequences

    @classmethod
    def from_train(cls, train: Interactions) -> FittedState:
        if len(train) == 0:
            raise DataError("cannot fit on an empty interaction log")
        return cls(train.user_vocab, train.item_vocab, train.sequences())

    def resolve(self, query: Query) -> QueryBatch:
        """The query in index space; unknown history items raise :class:`UnknownIdError`."""
        user = -1
        if query.user is not None and query.user in self.user_vocab:
            user = self.user_vocab.index(query.user)
        if query.history is not None:
            history = np.array([self.item_vocab.index(i) for i in query.history], dtype=np.int32)
        elif user >= 0:
            history = np.asarray(self.histories[user])
        else:
            history = np.empty(0, dtype=np.int32)
        return QueryBatch(
            np.array([user], dtype=np.int32), Sequences.from_lists([history.tolist()])
        )

    @functools.cached_property
    def domain_ranges(self) -> dict[str, tuple[int, int]]:
        """Each domain's item range of a joint model (found once; DataError otherwise)."""
        from lmrec.data.joint import domain_ranges

        return domain_ranges(self.item_vocab.ids)

    def to_json(self) -> dict[str, Any]:
        return {"users": list(self.user_vocab.ids), "items": list(self.item_vocab.ids)}

    @classmethod
    def from_json(cls, data: dict[str, Any], histories: Sequences) -> FittedState:
        return cls(Vocabulary("user", data["users"]), Vocabulary("item", data["items"]), histories)


class FittedModel:
    """Mixin for recommenders built on :class:`FittedState`: ``item_vocab`` and ``recommend``.

    Subclasses set ``self._state`` in ``fit``/``load`` and implement ``score``.
    """

    _state: FittedState | None = None

    @property
    def item_vocab(self) -> Vocabulary:
        return self.fitted_state().item_vocab

    def fitted_state(self) -> FittedState:
        if self._state is None:
            raise NotFittedError(f"{type(self).__name__}: call fit() or load() first")
        return self._state

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    def recommend(self, query: Query) -> Ranking:
        return recommend_with(self.fitted_state(), self.score, query)


def recommend_with(
    state: FittedState,
    score: Callable[[QueryBatch], npt.NDArray[np.float32]],
    query: Query,
) -> Ranking:
    """Score one query, mask exclusions with ``-inf``, and return the top ``query.k`` items."""
    batch = state.resolve(query)
    scores = score(batch)[0].astype(np.float32, copy=True)
    if query.exclude_history:
        scores[batch.histories[0]] = -np.inf
    return best_items(state, scores, query)


def excluded_indices(state: FittedState, query: Query) -> list[int]:
    """Indices of ``query.exclude`` (ids the model does not know are ignored)."""
    return [state.item_vocab.index(i) for i in query.exclude if i in state.item_vocab]


def best_items(state: FittedState, scores: npt.NDArray[np.float32], query: Query) -> Ranking:
    """The top ``query.k`` of one score row after removing ``query.exclude``, items outside
    ``query.domain`` and ``-inf`` items."""
    scores[excluded_indices(state, query)] = -np.inf
    if query.domain is not None:
        from lmrec.data.joint import domain_range

        start, stop = domain_range(state.domain_ranges, query.domain)
        scores[:start] = -np.inf
        scores[stop:] = -np.inf
    best = top_k(scores[None, :], query.k)[0]
    best = best[np.isfinite(scores[best])]
    return Ranking(tuple(state.item_vocab.decode(best)), scores[best])
