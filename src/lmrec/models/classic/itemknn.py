"""Item-based k-nearest-neighbours on co-occurrence cosine, optionally sequence-aware."""

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


class ItemKNNConfig(Settings):
    """Hyper-parameters of :class:`ItemKNN`."""

    model_config = ConfigDict(extra="forbid")

    neighbors: int = Field(100, ge=0, description="Neighbours kept per item (0 keeps all).")
    shrink: float = Field(0.0, ge=0.0, description="Added to the cosine denominator.")
    decay: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Weight of a history item n steps before the most recent one is decay**n; "
        "1.0 weighs the whole history equally (order-insensitive).",
    )
    max_history: int = Field(0, ge=0, description="Use only the last N history items (0 = all).")


class ItemKNN(FittedModel):
    """Score(item) = Σ over history items h of weight(h) · cos(h, item).

    ``cos(i, j) = |U_i ∩ U_j| / (sqrt(|U_i|·|U_j|) + shrink)`` over the sets of training users
    ``U``; each item keeps its ``neighbors`` most similar items. Training popularity, scaled below
    any similarity difference, breaks ties (so an empty history gets popular items).
    """

    name: ClassVar[str] = "itemknn"

    def __init__(self, config: ItemKNNConfig | None = None) -> None:
        self.config = config or ItemKNNConfig()
        self.similarity: object = None
        self.prior: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> ItemKNN:
        import scipy.sparse as sp

        self._state = FittedState.from_train(train)
        n_items = train.n_items
        x = sp.csr_matrix(
            (np.ones(len(train), dtype=np.float32), (train.users, train.items)),
            shape=(train.n_users, n_items),
        )
        x.sum_duplicates()
        x.data[:] = 1.0
        co = (x.T @ x).tocsr()
        co.setdiag(0.0)
        co.eliminate_zeros()
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel()).astype(np.float32)
        pairs = co.tocoo()
        denom = norms[pairs.row] * norms[pairs.col] + self.config.shrink
        sim = sp.csr_matrix((pairs.data / denom, (pairs.row, pairs.col)), shape=(n_items, n_items))
        self.similarity = _keep_top(sim, self.config.neighbors)
        self.prior = tie_break_prior(train)
        return self

    def history_weights(self, batch: QueryBatch) -> object:
        """Sparse (queries × items) matrix of history weights."""
        import scipy.sparse as sp

        hist = batch.histories
        if self.config.max_history:
            hist = hist.truncate(self.config.max_history)
        weights = np.power(self.config.decay, hist.steps_back()).astype(np.float32)
        w = sp.csr_matrix(
            (weights, (hist.row_ids(), hist.items)), shape=(len(batch), len(self.prior))
        )
        w.sum_duplicates()
        return w

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        self.fitted_state()
        w = self.history_weights(batch)
        scores = np.asarray((w @ self.similarity).todense(), dtype=np.float32)  # type: ignore[operator]
        scores += self.prior
        return scores

    def save(self, directory: Path) -> None:
        sim = self.similarity
        save_state(
            directory,
            self.fitted_state(),
            self.name,
            self.config.model_dump(),
            {
                "sim_indptr": sim.indptr.astype(np.int64),  # type: ignore[attr-defined]
                "sim_indices": sim.indices.astype(np.int32),  # type: ignore[attr-defined]
                "sim_data": sim.data.astype(np.float32),  # type: ignore[attr-defined]
                "prior": self.prior,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> ItemKNN:
        import scipy.sparse as sp

        state, config, t = load_state(directory, cls.name)
        model = cls(ItemKNNConfig.model_validate(config))
        n = len(state.item_vocab)
        model._state = state
        model.similarity = sp.csr_matrix(
            (t["sim_data"], t["sim_indices"], t["sim_indptr"]), shape=(n, n)
        )
        model.prior = t["prior"]
        return model


def _keep_top(sim: object, k: int) -> object:
    """Keep the ``k`` largest entries of every row of a CSR matrix (ties → lower column index)."""
    import scipy.sparse as sp

    assert isinstance(sim, sp.csr_matrix)
    if k == 0:
        return sim
    sim.sort_indices()
    indptr, indices, data = sim.indptr, sim.indices, sim.data
    keep = np.zeros(len(data), dtype=bool)
    for row in range(sim.shape[0]):
        start, end = indptr[row], indptr[row + 1]
        if end - start <= k:
            keep[start:end] = True
            continue
        order = np.argsort(-data[start:end], kind="stable")[:k]
        keep[start + order] = True
    rows = np.repeat(np.arange(sim.shape[0]), np.diff(indptr))
    return sp.csr_matrix((data[keep], (rows[keep], indices[keep])), shape=sim.shape)
