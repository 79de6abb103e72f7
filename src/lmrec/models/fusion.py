"""Ensembles of registered models by weighted reciprocal rank fusion.

Each member ranks every item; an item's fused score is ``Σ_m w_m / (k + rank_m)`` with 1-based
ranks (Cormack, Clarke & Büttcher, SIGIR 2009). Only ranks are combined, so members whose scores
live on different scales (cosines, logits, counts) fuse without calibration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field

from lmrec.core.checkpoint import ModelLoader, load_state, save_member, save_state
from lmrec.core.coverage import scorable_items, scores_with_coverage
from lmrec.core.fitted import FittedModel, FittedState, ModelContext, ModelFactory
from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Interactions
from lmrec.data.errors import DataError
from lmrec.errors import ConfigError
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings


class FusionMember(Settings):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="A registered model name.")
    config: dict[str, Any] = Field(default_factory=dict, description="Its configuration.")
    weight: float = Field(1.0, gt=0.0)


class RankFusionConfig(Settings):
    """``members``: two or more registered models; ``k``: the RRF smoothing constant."""

    model_config = ConfigDict(extra="forbid")

    members: list[FusionMember] = Field(min_length=2)
    k: float = Field(60.0, ge=0.0, description="Larger k flattens the reward for top ranks.")


def ranks_of(scores: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """1-based rank of every item in each row (ties: ascending item index ranks first)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(len(scores))[:, None]
    ranks[rows, order] = np.arange(1, scores.shape[1] + 1)[None, :]
    return ranks.astype(np.float32)


class RankFusion(FittedModel):
    """A weighted reciprocal-rank-fusion ensemble; ``fit`` fits every member on the same data."""

    name: ClassVar[str] = "ensemble"

    def __init__(
        self, config: RankFusionConfig, context: ModelContext, create: ModelFactory | None
    ) -> None:
        self.config = config
        self.context = context
        self.create = create  # None: loaded, already fitted
        self.members: list[Recommender] = []

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> RankFusion:
        state = FittedState.from_train(train)
        self.members = []
        for spec in self.config.members:
            if spec.model == self.name:
                raise ConfigError("an ensemble member may not itself be an ensemble")
            if self.create is None:
                raise ConfigError("a loaded ensemble is fitted already; create a new one to fit")
            model = self.create(spec.model, spec.config, self.context).fit(train, valid)
            if model.item_vocab.ids != state.item_vocab.ids:
                raise DataError(f"ensemble member {spec.model!r} scores another item set")
            self.members.append(model)
        self._state = state
        return self

    def scorable_items(self) -> npt.NDArray[np.bool_]:
        """An item any member can score (the others rank it last, adding almost nothing)."""
        out = np.zeros(len(self.fitted_state().item_vocab), dtype=bool)
        for model in self.members:
            mask = scorable_items(model)
            out |= True if mask is None else mask
        return out

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        self.fitted_state()
        out = np.zeros((len(batch), len(self.item_vocab)), dtype=np.float32)
        for spec, model in zip(self.config.members, self.members, strict=True):
            out += spec.weight / (self.config.k + ranks_of(scores_with_coverage(model, batch)))
        return out

    def save(self, directory: Path) -> None:
        """The ensemble's config and each member in ``member-<i>/`` (by its registry name)."""
        save_state(directory, self.fitted_state(), self.name, self.config.model_dump(), {})
        for i, model in enumerate(self.members):
            save_member(directory, f"member-{i}", model)

    @classmethod
    def load(cls, directory: Path, context: ModelContext, member: ModelLoader) -> RankFusion:
        state, config, _ = load_state(directory, cls.name)
        model = cls(RankFusionConfig.model_validate(config), context, None)
        model.members = [
            member(directory / f"member-{i}", context) for i in range(len(config["members"]))
        ]
        model._state = state
        return model
