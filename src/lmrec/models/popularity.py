"""Popularity: every user gets the most-interacted items of the training data."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from lmrec.data.containers import Interactions, Vocabulary
from lmrec.models.base import Query, QueryBatch, Ranking
from lmrec.models.common import (
    FittedState,
    NotFittedError,
    load_state,
    recommend_with,
    save_state,
)


class PopularityConfig(BaseModel):
    """Popularity has no hyper-parameters; the config exists so unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class Popularity:
    """Score = number of training interactions of the item (every row counts once).

    Ties are broken by ascending item id, as everywhere in lmrec.
    """

    name: ClassVar[str] = "pop"

    def __init__(self, config: PopularityConfig | None = None) -> None:
        self.config = config or PopularityConfig()
        self._state: FittedState | None = None
        self.counts: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)

    def fit(self, train: Interactions) -> Popularity:
        self._state = FittedState.from_train(train)
        self.counts = train.item_counts().astype(np.float32)
        return self

    @property
    def item_vocab(self) -> Vocabulary:
        return self._fitted().item_vocab

    def _fitted(self) -> FittedState:
        if self._state is None:
            raise NotFittedError("call fit() or load() first")
        return self._state

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        self._fitted()
        return np.broadcast_to(self.counts, (len(batch), len(self.counts))).copy()

    def recommend(self, query: Query) -> Ranking:
        return recommend_with(self._fitted(), self.score, query)

    def save(self, directory: Path) -> None:
        save_state(
            directory, self._fitted(), self.name, self.config.model_dump(), {"counts": self.counts}
        )

    @classmethod
    def load(cls, directory: Path) -> Popularity:
        state, config, tensors = load_state(directory, cls.name)
        model = cls(PopularityConfig.model_validate(config))
        model._state = state
        model.counts = tensors["counts"]
        return model
