"""Typed queries and rankings: what a caller asks a recommender for and what it gets back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Sequences
from lmrec.data.errors import DataError
from lmrec.data.people import merge_histories


@dataclass(frozen=True)
class Query:
    """What a caller asks for.

    ``history`` (original item ids, most recent last) overrides the user's stored history; when it
    is ``None`` the model uses the history it saw for ``user`` in training (empty for unknown users).
    ``text`` is a free-text history for models that read text. Items in ``exclude`` are never
    returned; with ``exclude_history`` the history items are not returned either. On a model of a
    joint dataset (:mod:`lmrec.data.joint`), ``domain`` keeps the recommendations inside one
    domain, and the history may hold items of every domain (:meth:`across` builds one).
    """

    user: str | None = None
    history: tuple[str, ...] | None = None
    text: tuple[str, ...] = ()
    k: int = 10
    exclude: frozenset[str] = field(default_factory=frozenset)
    exclude_history: bool = True
    domain: str | None = None

    @classmethod
    def across(cls, histories: Mapping[str, Sequence[str]], domain: str, **options: Any) -> Query:
        """A query for ``domain``'s items from per-domain histories of original item ids: the
        other domains' items first, ``domain``'s last (:func:`lmrec.data.people.merge_histories`)."""
        return cls(history=merge_histories(histories, domain), domain=domain, **options)

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
