"""Two-stage pipelines: a retriever's top ``depth`` items, re-ranked by any registered model.

``lmrec evaluate -m sasrec --retriever itemknn-seq --depth 50`` builds one; so does the registered
model ``two-stage`` from a config file. The re-ranker sees a :class:`QueryBatch` whose
``candidates`` are the retriever's top ``depth`` unseen items (in the retriever's order), so LLM and
non-LLM re-rankers are compared on exactly the same candidates. Items below the cut keep the
retriever's order after the re-ranked ones: a case whose target the retriever missed is ranked
as the retriever ranked it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field

from lmrec.core.checkpoint import ModelLoader, load_state, save_member, save_state
from lmrec.core.coverage import scorable_items
from lmrec.core.fitted import FittedModel, FittedState, ModelContext, ModelFactory
from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Interactions
from lmrec.data.errors import DataError
from lmrec.errors import ConfigError
from lmrec.llm.ranking.candidates import unseen_order
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings

NIR_RETRIEVERS: dict[str, Literal["user", "item"]] = {"nir-user": "user", "nir-item": "item"}


class TwoStageConfig(Settings):
    """The re-ranker, the retriever and how many of the retriever's items are re-ranked."""

    model_config = ConfigDict(extra="forbid")

    reranker: str = Field(description="A registered model name.")
    reranker_config: dict[str, Any] = Field(default_factory=dict)
    retriever: str = Field(
        "itemknn-seq", description="A registered model name, nir-user or nir-item."
    )
    retriever_config: dict[str, Any] = Field(
        default_factory=dict,
        description="The retriever's config (nir-*: neighbors, recipe = lmrec | nir).",
    )
    depth: int = Field(50, ge=1, description="How many of the retriever's top items compete.")


def create_retriever(
    name: str, config: dict[str, Any], context: ModelContext, create: ModelFactory
) -> Recommender:
    """A registered model, or NIR's user / item filter (``nir-user`` / ``nir-item``)."""
    if name in NIR_RETRIEVERS:
        from lmrec.llm.ranking.candidates import NIRFilter

        unknown = set(config) - {"neighbors", "recipe"}
        if unknown:
            raise ConfigError(f"{name}: unknown option(s) {', '.join(sorted(unknown))}")
        return NIRFilter(NIR_RETRIEVERS[name], **config)
    return create(name, config, context)


def load_retriever(directory: Path, context: ModelContext, member: ModelLoader) -> Recommender:
    """A saved retriever: NIR's filter, or a registered model."""
    from lmrec.core.checkpoint import read_meta
    from lmrec.llm.ranking.candidates import NIRFilter

    if read_meta(directory).get("model") == NIRFilter.name:
        return NIRFilter.load(directory)
    return member(directory, context)


class TwoStage(FittedModel):
    """The retriever narrows every query to ``depth`` items; the re-ranker orders them."""

    name: ClassVar[str] = "two-stage"

    def __init__(
        self, config: TwoStageConfig, context: ModelContext, create: ModelFactory | None
    ) -> None:
        if config.reranker == self.name:
            raise ConfigError("a two-stage re-ranker may not itself be a two-stage pipeline")
        self.config = config
        if create is None:  # load() sets both stages
            return
        self.retriever = create_retriever(
            config.retriever, config.retriever_config, context, create
        )
        self.reranker = create(config.reranker, config.reranker_config, context)

    def run_label(self, name: str) -> str:
        c = self.config
        return f"{c.retriever}→{c.reranker}@{c.depth}"

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> TwoStage:
        state = FittedState.from_train(train)
        for stage in (self.retriever, self.reranker):
            stage.fit(train, valid)
            if stage.item_vocab.ids != state.item_vocab.ids:
                raise DataError(f"{type(stage).__name__} scores another item set")
        self._state = state
        return self

    def save(self, directory: Path) -> None:
        """The config, then ``retriever/`` and ``reranker/`` (each by its registry name)."""
        save_state(directory, self.fitted_state(), self.name, self.config.model_dump(), {})
        save_member(directory, "retriever", self.retriever)
        save_member(directory, "reranker", self.reranker)

    @classmethod
    def load(cls, directory: Path, context: ModelContext, member: ModelLoader) -> TwoStage:
        state, config, _ = load_state(directory, cls.name)
        model = cls(TwoStageConfig.model_validate(config), context, None)
        model.retriever = load_retriever(directory / "retriever", context, member)
        model.reranker = member(directory / "reranker", context)
        model._state = state
        return model

    def scorable_items(self) -> npt.NDArray[np.bool_]:
        """Items both stages can score: the retriever finds them, the re-ranker orders them."""
        out = np.ones(len(self.fitted_state().item_vocab), dtype=bool)
        for stage in (self.retriever, self.reranker):
            mask = scorable_items(stage)
            if mask is not None:
                out &= mask
        return out

    def candidates(self, batch: QueryBatch) -> npt.NDArray[np.int32]:
        """The retriever's top ``depth`` unseen items per query, best first (ties: lower index)."""
        return unseen_order(self.retriever, batch)[:, : self.config.depth].astype(np.int32)

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        self.fitted_state()
        if batch.candidates is not None:  # a candidate protocol already chose the set
            return np.asarray(self.reranker.score(batch), dtype=np.float32)
        order = unseen_order(self.retriever, batch)
        cand = order[:, : self.config.depth].astype(np.int32)
        scores = np.asarray(
            self.reranker.score(QueryBatch(batch.users, batch.histories, cand)), dtype=np.float32
        )
        return merge_reranked(order, cand, np.take_along_axis(scores, cand, axis=1))


def merge_reranked(
    order: npt.NDArray[np.int64],
    cand: npt.NDArray[np.int32],
    picked: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """Full score rows: the candidates ``cand`` (each row's first items of the retriever's
    ``order``) ranked by their re-ranker scores ``picked`` (ties keep the retriever's order), then
    every other item in the retriever's order."""
    n, n_items = order.shape
    rows = np.arange(n)[:, None]
    out = np.empty((n, n_items), dtype=np.float32)
    out[rows, order] = -np.arange(1, n_items + 1, dtype=np.float32)[None, :]
    best = np.argsort(-picked, axis=1, kind="stable")
    reranked = np.take_along_axis(cand, best, axis=1)
    depth = cand.shape[1]
    out[rows, reranked] = np.arange(depth, 0, -1, dtype=np.float32)[None, :]
    return out
