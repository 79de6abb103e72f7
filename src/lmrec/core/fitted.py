"""Shared machinery for recommenders that score every item of a training vocabulary.

:class:`FittedState` holds what every such model keeps after ``fit``: the vocabularies and each
training user's chronological history (for queries that give a user id but no history).
:func:`rank_batch` is the one ranking path: queries in, rankings out (history resolution,
exclusion and domain masking in one place), for ``recommend``, the evaluator and the service.
:class:`ModelContext` is what a model may read besides the interactions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from lmrec.core.coverage import scorable_items, scores_with_coverage
from lmrec.core.query import Query, QueryBatch, Ranking
from lmrec.data.containers import Dataset, Interactions, ItemCatalog, Sequences, Vocabulary
from lmrec.data.errors import DataError, UnknownIdError
from lmrec.errors import ConfigError
from lmrec.errors import NotFittedError as NotFittedError
from lmrec.index.topk import rank_rows

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

    @functools.cached_property
    def seen(self) -> npt.NDArray[np.bool_]:
        """One flag per item: True when it has at least one training interaction."""
        counts = np.bincount(self.histories.items, minlength=len(self.item_vocab))
        flags: npt.NDArray[np.bool_] = counts > 0
        flags.flags.writeable = False
        return flags

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

    Subclasses set ``self._state`` in ``fit``/``load`` and implement ``score``. An ID-only
    model scores only the items seen in training (:meth:`scorable_items`); a model that scores
    items from their text sets ``scores_from_text``.
    """

    _state: FittedState | None = None
    scores_from_text: ClassVar[bool] = False

    def scorable_items(self) -> npt.NDArray[np.bool_]:
        """Every item for a text model, else the items with training interactions."""
        state = self.fitted_state()
        if self.scores_from_text:
            return np.ones(len(state.item_vocab), dtype=bool)
        return state.seen

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
        return rank_batch(self, [query])[0]


IntArray = npt.NDArray[np.int64]


def resolve(state: FittedState, queries: Sequence[Query]) -> QueryBatch:
    """The queries in index space: a known user's index (else ``-1``) and the given history, or
    the user's training history when none is given. Unknown history items raise
    :class:`UnknownIdError`."""
    users = np.full(len(queries), -1, dtype=np.int32)
    rows: list[npt.NDArray[np.int32]] = []
    for row, query in enumerate(queries):
        if query.user is not None and query.user in state.user_vocab:
            users[row] = state.user_vocab.index(query.user)
        if query.history is not None:
            found = state.item_vocab.lookup(query.history)
            if len(found) and found.min() < 0:
                raise UnknownIdError("item", query.history[int(np.argmin(found))])
            rows.append(found)
        elif users[row] >= 0:
            rows.append(np.asarray(state.histories[int(users[row])], dtype=np.int32))
        else:
            rows.append(np.empty(0, dtype=np.int32))
    return QueryBatch(users, Sequences.from_arrays(rows))


def exclusions(state: FittedState, query: Query, history: npt.NDArray[Any]) -> IntArray:
    """Indices a query must never get back: its history (``exclude_history``), its ``exclude``
    ids the model knows, and every item outside ``query.domain``."""
    parts: list[npt.NDArray[Any]] = []
    if query.exclude_history:
        parts.append(history)
    if query.exclude:
        found = state.item_vocab.lookup(query.exclude)
        parts.append(found[found >= 0])
    if query.domain is not None:
        from lmrec.data.joint import domain_range

        start, stop = domain_range(state.domain_ranges, query.domain)
        parts.append(np.r_[0:start, stop : len(state.item_vocab)])
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.concatenate(parts).astype(np.int64, copy=False)


def rank_batch(model: Recommender | FittedModel, queries: Sequence[Query]) -> list[Ranking]:
    """Each query's top ``k`` items, best first, never an excluded item.

    One scoring call for all queries without free text (the model's own top-k search when it has
    one); free-text queries go to a text model's ``recommend`` one by one."""
    from lmrec.core.recommender import ReadsText

    out: list[Ranking | None] = [None] * len(queries)
    plain = [i for i, q in enumerate(queries) if not q.text]
    for i, query in enumerate(queries):
        if query.text:
            if not isinstance(model, ReadsText):
                raise ConfigError(f"{type(model).__name__} cannot read free text (Query.text)")
            out[i] = model.recommend(query)
    if plain:
        state = fitted_state_of(model)
        picked = [queries[i] for i in plain]
        batch = resolve(state, picked)
        banned = [exclusions(state, q, batch.histories[r]) for r, q in enumerate(picked)]
        k = max(q.k for q in picked)
        scorable = scorable_items(model)
        top_items = getattr(model, "top_items", None)  # TopKRecommender (a cheap check)
        if top_items is not None and scorable is None:
            found = top_items(batch, k, banned)
        else:  # items the model cannot score rank last (lmrec.core.coverage)
            found = rank_rows(scores_with_coverage(model, batch), k, banned)
        vocab = state.item_vocab
        for i, query, (best, scores) in zip(plain, picked, found, strict=True):
            best, scores = best[: query.k], scores[: query.k]
            out[i] = Ranking(tuple(vocab.decode(best)), np.asarray(scores, dtype=np.float32))
    return [r for r in out if r is not None]


def fitted_state_of(model: Recommender | FittedModel) -> FittedState:
    """The vocabularies and training histories of a fitted model."""
    getter = getattr(model, "fitted_state", None)
    if getter is None:
        raise ConfigError(f"{type(model).__name__} keeps no fitted state (FittedModel)")
    state = getter()
    if not isinstance(state, FittedState):
        raise ConfigError(f"{type(model).__name__}.fitted_state() is not a FittedState")
    return state


def best_of(state: FittedState, scores: npt.NDArray[np.float32], query: Query) -> Ranking:
    """The top ``query.k`` of one score row of a query with no history to exclude (free text):
    without ``query.exclude`` and items outside ``query.domain``."""
    empty = np.empty(0, dtype=np.int64)
    best, found = rank_rows(scores[None, :], query.k, [exclusions(state, query, empty)])[0]
    return Ranking(tuple(state.item_vocab.decode(best)), np.asarray(found, dtype=np.float32))
