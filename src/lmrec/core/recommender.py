"""The recommender contract: typed queries in, typed rankings out, and the optional
capabilities a recommender may offer (each a small ``runtime_checkable`` Protocol).

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
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from lmrec.core.query import Query, QueryBatch, Ranking
from lmrec.data.containers import Interactions, ItemCatalog, Vocabulary
from lmrec.index.topk import TopItems
from lmrec.protocols.base import EvalCases


@runtime_checkable
class Recommender(Protocol):
    """One role: learn from interactions, then score items for queries."""

    name: ClassVar[str]

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> Recommender:
        """Learn from training interactions; returns ``self``. ``valid`` (validation cases, never
        test cases) is for models that early-stop or select on it; the others ignore it."""
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


@runtime_checkable
class TopKRecommender(Protocol):
    """A recommender that finds each query's top k without ranking the full score matrix.

    ``top_items`` must return the same items as masking ``score`` and taking :func:`top_k`
    (up to float rounding of near-ties); serving uses it when present.
    """

    def top_items(
        self, batch: QueryBatch, k: int, exclude: Sequence[npt.NDArray[np.int64]]
    ) -> list[TopItems]: ...


@runtime_checkable
class ApproximateSearch(Protocol):
    """A recommender that may serve top-k lists through an approximate index."""

    def search_recall(self, sample: QueryBatch, k: int = 10) -> float | None:
        """Recall@k of the served top lists against exact scoring on ``sample``; ``None`` when
        serving is exact."""
        ...


@runtime_checkable
class Configured(Protocol):
    """A recommender with a pydantic configuration (recorded in a run's provenance)."""

    config: BaseModel


class JsonReport(Protocol):
    def to_json(self) -> dict[str, Any]: ...


@runtime_checkable
class ReportsTraining(Protocol):
    """A recommender that keeps a report of its last training (epochs, best epoch, seconds)."""

    report: JsonReport | None


@runtime_checkable
class ReadsText(Protocol):
    """A recommender that understands free-text histories (``Query.text``)."""

    reads_text: ClassVar[bool]


@runtime_checkable
class ItemCoverage(Protocol):
    """A recommender that says which of its items it can score.

    ID-only models score only the items they saw in training; an item of the catalogue without
    interactions ranks last for them (:mod:`lmrec.core.coverage`). Text models score every item
    that has text."""

    def scorable_items(self) -> npt.NDArray[np.bool_]:
        """One flag per item of ``item_vocab``: True where the model's score means something."""
        ...


@runtime_checkable
class ExtendsCatalogue(Protocol):
    """A fitted recommender that can score items added after it was fitted, from their text
    alone (a service adds a product without retraining)."""

    def with_items(self, catalog: ItemCatalog, item_ids: Sequence[str]) -> Recommender:
        """A copy that also scores ``item_ids`` (described in ``catalog``): ids it does not know
        are appended to its item vocabulary, ids it knows are re-read from their new text. The
        original is left unchanged (requests in flight keep using it)."""
        ...


@runtime_checkable
class ItemEmbeddings(Protocol):
    """A recommender with one vector per item (rows in ``item_vocab`` order), e.g. text vectors."""

    item_embeddings: npt.NDArray[np.float32]


@runtime_checkable
class Labelled(Protocol):
    """A recommender whose results table label depends on its configuration."""

    def run_label(self, name: str) -> str:
        """The label of a run of this model registered as ``name``."""
        ...
