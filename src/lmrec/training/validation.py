"""Validation during training: a model's NDCG@10 on validation cases, and early stopping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lmrec.core.recommender import Recommender
from lmrec.metrics.evaluate import evaluate
from lmrec.protocols.base import EvalCases

if TYPE_CHECKING:
    import torch


def ndcg_validator(model: Recommender, valid: EvalCases) -> Callable[[], float]:
    """A callback for :meth:`Trainer.fit`: ``model``'s NDCG@10 on ``valid`` (validation cases,
    never test cases), computed by the same evaluator as every reported figure."""

    def validate() -> float:
        return evaluate(model, valid, ks=(10,)).value("ndcg@10")

    return validate


@dataclass
class EarlyStopping:
    """Keeps the best validation metric's weights; says when ``patience`` validations in a row
    brought no gain (``patience`` 0: never)."""

    patience: int
    best_metric: float | None = None
    best_epoch: int = 0
    stale: int = 0
    state: dict[str, torch.Tensor] = field(default_factory=dict)

    def update(self, epoch: int, metric: float, net: torch.nn.Module) -> None:
        if self.best_metric is None or metric > self.best_metric:
            self.best_metric, self.best_epoch, self.stale = metric, epoch, 0
            self.state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            self.stale += 1

    @property
    def should_stop(self) -> bool:
        return bool(self.patience) and self.stale >= self.patience

    def restore(self, net: torch.nn.Module) -> None:
        """Load the best weights into ``net`` (nothing when no validation ran)."""
        if self.best_metric is not None:
            net.load_state_dict(self.state)
