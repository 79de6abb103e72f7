"""Popularity: every user gets the most-interacted items of the training data."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict

from lmrec.core.checkpoint import load_state, save_state
from lmrec.core.fitted import FittedModel, FittedState
from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings


class PopularityConfig(Settings):
    """Popularity has no hyper-parameters; the config exists so unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class Popularity(FittedModel):
    """Score = number of training interactions of the item (every row counts once).

    Ties are broken by ascending item id, as everywhere in lmrec.
    """

    name: ClassVar[str] = "pop"

    def __init__(self, config: PopularityConfig | None = None) -> None:
        self.config = config or PopularityConfig()
        self.counts: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> Popularity:
        self._state = FittedState.from_train(train)
        self.counts = train.item_counts().astype(np.float32)
        return self

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        self.fitted_state()
        return np.broadcast_to(self.counts, (len(batch), len(self.counts))).copy()

    def save(self, directory: Path) -> None:
        save_state(
            directory,
            self.fitted_state(),
            self.name,
            self.config.model_dump(),
            {"counts": self.counts},
        )

    @classmethod
    def load(cls, directory: Path) -> Popularity:
        state, config, tensors = load_state(directory, cls.name)
        model = cls(PopularityConfig.model_validate(config))
        model._state = state
        model.counts = tensors["counts"]
        return model
