"""Matrix factorisation baselines, BPR-MF and ALS, wrapping the ``implicit`` library.

We do not re-implement either: ``implicit`` (Ben Frederickson's, the library most recommender
papers and toolkits use for these) fits the factors; lmrec adds what a registered model needs —
its config, scoring of arbitrary histories, popularity tie-breaking and safetensors checkpoints.

What each does with a query's history (in leave-one-out, the validation item is the last history
item at test time):

- ``als`` folds the whole query history in at scoring time (one least-squares solve per query
  against the fixed item factors, ``implicit``'s ``recalculate_user``), so new users and the
  validation item count.
- ``bpr`` cannot fold in (it is trained by SGD): a training user scores with the factor learned on
  the training split (their validation item is not seen); a query without a training user uses
  the mean of its history items' factors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field

from lmrec.core.checkpoint import load_state, save_state
from lmrec.core.fitted import FittedModel, FittedState, ModelContext, tie_break_prior
from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions, Sequences
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings

MISSING = "BPR and ALS need the implicit library: pip install 'lmrec[mf]' (or pip install implicit)"


class _MFConfig(Settings):
    model_config = ConfigDict(extra="forbid")

    factors: int = Field(64, ge=1, description="Latent dimensions.")
    regularization: float = Field(0.01, ge=0.0, description="L2 penalty on the factors.")
    iterations: int = Field(15, ge=1, description="Passes over the data.")
    seed: int = Field(0, description="Random initialisation (implicit's random_state).")
    threads: int = Field(
        0, ge=0, description="OpenMP threads (0 = every core; BPR is exactly repeatable at 1)."
    )


class ALSConfig(_MFConfig):
    """Hyper-parameters of :class:`ALS` (implicit's AlternatingLeastSquares)."""

    alpha: float = Field(1.0, gt=0.0, description="Confidence scale: C = 1 + alpha·count.")


class BPRConfig(_MFConfig):
    """Hyper-parameters of :class:`BPR` (implicit's BayesianPersonalizedRanking)."""

    iterations: int = Field(100, ge=1, description="Epochs of sampled pair updates.")
    learning_rate: float = Field(0.01, gt=0.0, description="SGD step size.")
    threads: int = Field(1, ge=0, description="Threads (0 = every core; >1 is not repeatable).")


def _import_implicit() -> Any:
    try:
        import implicit.cpu.als
        import implicit.cpu.bpr
    except ImportError as exc:
        raise ImportError(MISSING) from exc
    return implicit.cpu


def _counts(rows: Sequences, n_items: int) -> Any:
    """Sparse (rows × items) matrix of interaction counts, float32."""
    import scipy.sparse as sp

    m = sp.csr_matrix(
        (np.ones(len(rows.items), dtype=np.float32), (rows.row_ids(), rows.items)),
        shape=(len(rows), n_items),
    )
    m.sum_duplicates()
    return m


class _ImplicitMF(FittedModel):
    """Shared fit / score / save of the two factorisations; subclasses build the library model
    and compute query factors."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[_MFConfig]]
    config: ALSConfig | BPRConfig

    def __init__(self, config: Any = None, context: ModelContext | None = None) -> None:
        self.progress = context.progress if context else False
        self.user_factors = np.empty((0, 0), dtype=np.float32)
        self.item_factors = np.empty((0, 0), dtype=np.float32)
        self.prior = np.empty(0, dtype=np.float32)

    def _library_model(self) -> Any:
        raise NotImplementedError

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> _ImplicitMF:
        from threadpoolctl import threadpool_limits

        self._state = FittedState.from_train(train)
        _import_implicit()  # loaded first, so the limit below reaches the BLAS it brings
        # implicit parallelises itself; a threaded BLAS underneath only slows it (its own advice)
        with threadpool_limits(1, "blas"):
            model = self._library_model()
            model.fit(_counts(train.sequences(), train.n_items), show_progress=self.progress)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        self.prior = tie_break_prior(train)
        return self

    def query_factors(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        self.fitted_state()
        scores = self.query_factors(batch) @ self.item_factors.T
        return (scores + self.prior).astype(np.float32)

    def save(self, directory: Path) -> None:
        save_state(
            directory,
            self.fitted_state(),
            self.name,
            self.config.model_dump(),
            {
                "user_factors": self.user_factors,
                "item_factors": self.item_factors,
                "prior": self.prior,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> _ImplicitMF:
        state, config, tensors = load_state(directory, cls.name)
        model = cls(cls.config_class.model_validate(config))
        model._state = state
        model.user_factors = tensors["user_factors"]
        model.item_factors = tensors["item_factors"]
        model.prior = tensors["prior"]
        return model


class ALS(_ImplicitMF):
    """Weighted matrix factorisation by alternating least squares (Hu, Koren & Volinsky, ICDM
    2008), fitted by ``implicit``; every query's factor is solved from its own history."""

    name: ClassVar[str] = "als"
    config_class: ClassVar[type[_MFConfig]] = ALSConfig

    def __init__(self, config: ALSConfig | None = None, context: ModelContext | None = None):
        super().__init__(config, context)
        self.config = config or ALSConfig()
        self._solver: Any = None

    def _library_model(self) -> Any:
        c = self.config
        assert isinstance(c, ALSConfig)
        self._solver = _import_implicit().als.AlternatingLeastSquares(
            factors=c.factors,
            regularization=c.regularization,
            alpha=c.alpha,
            iterations=c.iterations,
            random_state=c.seed,
            num_threads=c.threads,
        )
        return self._solver

    def query_factors(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        from threadpoolctl import threadpool_limits

        _import_implicit()
        with threadpool_limits(1, "blas"):
            if self._solver is None:  # loaded from a checkpoint: a solver around its factors
                solver = self._library_model()
                solver.item_factors = self.item_factors
            counts = _counts(batch.histories, len(self.prior))
            factors = self._solver.recalculate_user(np.arange(len(batch)), counts)
        return np.asarray(factors, dtype=np.float32).reshape(len(batch), -1)


class BPR(_ImplicitMF):
    """Bayesian personalised ranking on matrix factorisation (Rendle et al., UAI 2009), fitted by
    ``implicit``; item factors carry a bias column, matched by a constant 1 in every user factor."""

    name: ClassVar[str] = "bpr"
    config_class: ClassVar[type[_MFConfig]] = BPRConfig

    def __init__(self, config: BPRConfig | None = None, context: ModelContext | None = None):
        super().__init__(config, context)
        self.config = config or BPRConfig()

    def _library_model(self) -> Any:
        c = self.config
        assert isinstance(c, BPRConfig)
        return _import_implicit().bpr.BayesianPersonalizedRanking(
            factors=c.factors,
            learning_rate=c.learning_rate,
            regularization=c.regularization,
            iterations=c.iterations,
            random_state=c.seed,
            num_threads=c.threads,
        )

    def query_factors(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        dims = self.item_factors.shape[1]
        out = np.zeros((len(batch), dims), dtype=np.float32)
        out[:, -1] = 1.0  # the bias column: an empty history scores by item bias alone
        for row in range(len(batch)):
            user = int(batch.users[row])
            if user >= 0:
                out[row] = self.user_factors[user]
                continue
            history = batch.histories[row]
            if len(history):
                out[row, :-1] = self.item_factors[history, :-1].mean(axis=0)
        return out
