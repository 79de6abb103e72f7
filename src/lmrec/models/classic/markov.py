"""A first-order Markov chain: what people chose right after the user's last item."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field

from lmrec.core.checkpoint import load_state, save_state
from lmrec.core.fitted import FittedModel, FittedState, tie_break_prior
from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings


class MarkovConfig(Settings):
    """How far back the chain looks, and how fast older items fade."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(1, ge=1, description="Transitions from the last `window` history items.")
    decay: float = Field(0.5, gt=0.0, le=1.0, description="Weight of the item n steps back.")


class Markov(FittedModel):
    """Score = how often each item followed the history's recent items in training sequences
    (row-normalised transition counts), plus popularity to break ties."""

    name: ClassVar[str] = "markov"

    def __init__(self, config: MarkovConfig | None = None) -> None:
        self.config = config or MarkovConfig()

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> Markov:
        import scipy.sparse as sp

        state = FittedState.from_train(train)
        seqs, n = state.histories, len(state.item_vocab)
        follows = np.ones(len(seqs.items), dtype=bool)
        follows[seqs.indptr[:-1][seqs.lengths > 0]] = False  # a sequence's first item
        after, before = seqs.items[follows], seqs.items[np.flatnonzero(follows) - 1]
        counts = sp.csr_matrix((np.ones(len(after)), (before, after)), shape=(n, n))
        rows = np.maximum(np.asarray(counts.sum(axis=1)).ravel(), 1.0)
        self.transitions = sp.diags(1.0 / rows) @ counts
        self.prior = tie_break_prior(train)
        self._state = state
        return self

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        import scipy.sparse as sp

        self.fitted_state()
        recent = batch.histories.truncate(self.config.window)
        weights = np.power(self.config.decay, recent.steps_back())
        shape = (len(batch), len(self.prior))
        query = sp.csr_matrix((weights, (recent.row_ids(), recent.items)), shape=shape)
        scores: npt.NDArray[np.float32] = (query @ self.transitions).toarray().astype(np.float32)
        return scores + self.prior

    def save(self, directory: Path) -> None:
        t = self.transitions.tocsr()
        tensors = {"data": t.data, "indices": t.indices, "indptr": t.indptr, "prior": self.prior}
        save_state(directory, self.fitted_state(), self.name, self.config.model_dump(), tensors)

    @classmethod
    def load(cls, directory: Path) -> Markov:
        import scipy.sparse as sp

        state, config, t = load_state(directory, cls.name)
        model = cls(MarkovConfig.model_validate(config))
        n = len(state.item_vocab)
        model.transitions = sp.csr_matrix((t["data"], t["indices"], t["indptr"]), shape=(n, n))
        model.prior, model._state = t["prior"], state
        return model
