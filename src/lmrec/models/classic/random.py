"""Random scores: the floor every model must beat (and a check of the candidate protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field

from lmrec.core.checkpoint import load_state, save_state
from lmrec.core.fitted import FittedModel, FittedState
from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings


class RandomConfig(Settings):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="Seed; scores of a known user depend only on (seed, user).")


class RandomScores(FittedModel):
    """Uniform random scores, reproducible per (seed, user) whatever the batch size."""

    name: ClassVar[str] = "random"

    def __init__(self, config: RandomConfig | None = None) -> None:
        self.config = config or RandomConfig()

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> RandomScores:
        self._state = FittedState.from_train(train)
        return self

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        n = len(self.item_vocab)
        out = np.empty((len(batch), n), dtype=np.float32)
        for row, user in enumerate(batch.users):
            rng = np.random.default_rng([self.config.seed, int(user) + 1])
            out[row] = rng.random(n, dtype=np.float32)
        return out

    def save(self, directory: Path) -> None:
        save_state(directory, self.fitted_state(), self.name, self.config.model_dump(), {})

    @classmethod
    def load(cls, directory: Path) -> RandomScores:
        state, config, _ = load_state(directory, cls.name)
        model = cls(RandomConfig.model_validate(config))
        model._state = state
        return model
