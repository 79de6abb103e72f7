"""The recommender contract: typed queries in, typed rankings out.

Contracts written down here (tests hold us to them):

- Item and user *indices* are dense ``int32`` positions in the training data's vocabularies;
  original ids appear only in :class:`Query` and :class:`Ranking`.
- Histories are ordered oldest → most recent (most recent **last**) and travel as CSR
  :class:`~lmrec.data.containers.Sequences`; no padding at this level. Sequence models that need
  fixed-width batches pad on the **left** (so the most recent item sits in the last column).
- ``score`` returns a ``(n_queries, n_items)`` float32 matrix of finite scores; callers put
  ``-inf`` on excluded items. Higher is better. Ties are broken by ascending item index (= ascending
  original id), everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Interactions, Sequences, Vocabulary
from lmrec.data.errors import DataError


@dataclass(frozen=True)
class Query:
    """What a caller asks for.

    ``history`` (original item ids, most recent last) overrides the user's stored history; when it
    is ``None`` the model uses the history it saw for ``user`` in training (empty for unknown users).
    ``text`` is a free-text history for models that read text. Items in ``exclude`` are never
    returned; with ``exclude_history`` the history items are not returned either.
    """

    user: str | None = None
    history: tuple[str, ...] | None = None
    text: tuple[str, ...] = ()
    k: int = 10
    exclude: frozenset[str] = field(default_factory=frozenset)
    exclude_history: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"Query.k must be a positive integer, got {self.k!r}")
        if self.history is not None and not isinstance(self.history, tuple):
            object.__setattr__(self, "history", tuple(self.history))
        if not isinstance(self.exclude, frozenset):
            object.__setattr__(self, "exclude", frozenset(self.exclude))


@dataclass(frozen=True)
class Ranking:
    """Recommended items (original ids), best first, with their scores."""

    items: tuple[str, ...]
    scores: npt.NDArray[np.float32]
    explanations: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.items) != len(self.scores):
            raise ValueError("Ranking.items and Ranking.scores must have the same length")
        if self.explanations is not None and len(self.explanations) != len(self.items):
            raise ValueError("Ranking.explanations must have one entry per item")

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class QueryBatch:
    """Queries in index space: user indices (``-1`` = unknown user) and their histories.

    ``candidates`` (``(n, C)`` item indices) is set when only those items compete (candidate
    protocols); most models ignore it, re-rankers such as the LLM ranker read it.
    """

    users: npt.NDArray[np.int32]
    histories: Sequences
    candidates: npt.NDArray[np.int32] | None = None

    def __post_init__(self) -> None:
        if len(self.users) != len(self.histories):
            raise DataError("QueryBatch.users and QueryBatch.histories must have the same length")
        if self.candidates is not None and len(self.candidates) != len(self.users):
            raise DataError("QueryBatch.candidates must have one row per query")

    def __len__(self) -> int:
        return len(self.users)


@runtime_checkable
class Recommender(Protocol):
    """One role: learn from interactions, then score items for queries."""

    name: ClassVar[str]

    def fit(self, train: Interactions) -> Recommender:
        """Learn from training interactions; returns ``self``."""
        ...

    @property
    def item_vocab(self) -> Vocabulary:
        """The items this model scores, in score-column order."""
        ...

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        """Scores ``(len(batch), n_items)``, finite, higher is better."""
        ...

    def recommend(self, query: Query) -> Ranking:
        """Top ``query.k`` items for one query."""
        ...


@runtime_checkable
class Persistable(Protocol):
    """A recommender that can be written to a directory and read back without the training data."""

    def save(self, directory: Path) -> None: ...

    @classmethod
    def load(cls, directory: Path) -> Persistable: ...


TopItems = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


@runtime_checkable
class TopKRecommender(Protocol):
    """A recommender that finds each query's top k without ranking the full score matrix.

    ``top_items`` must return the same items as masking ``score`` and taking :func:`top_k`
    (up to float rounding of near-ties); serving uses it when present.
    """

    def top_items(
        self, batch: QueryBatch, k: int, exclude: Sequence[npt.NDArray[np.int64]]
    ) -> list[TopItems]: ...


def rank_rows(
    scores: npt.NDArray[np.float32], k: int, exclude: Sequence[npt.NDArray[np.int64]]
) -> list[TopItems]:
    """Per row: the top ``k`` (indices, scores) after removing ``exclude[row]``; never ``-inf``."""
    out: list[TopItems] = []
    for row, banned in enumerate(exclude):
        line = scores[row].astype(np.float32, copy=True)
        line[banned] = -np.inf
        best = top_k(line[None, :], k)[0]
        best = best[np.isfinite(line[best])]
        out.append((best, line[best]))
    return out


def top_k(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Indices of the ``k`` best columns per row; ties → ascending index; ``-inf`` columns last."""
    k = min(k, scores.shape[-1])
    if k <= 0:
        return np.empty((*scores.shape[:-1], 0), dtype=np.int64)
    if k < scores.shape[-1] // 4:
        # Candidates: everything at least as good as the k-th best value (ties included).
        kth = -np.partition(-scores, k - 1, axis=-1)[..., k - 1 : k]
        masked = np.where(scores >= kth, scores, -np.inf)
        return np.argsort(-masked, axis=-1, kind="stable")[..., :k].astype(np.int64)
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k].astype(np.int64)
