"""ID-based sequence recommenders trained with the softmax trainer: SASRec and GRU4Rec.

The classes here hold configuration, vocabularies and the trained network; the network code is in
:mod:`lmrec.models.sequential.networks` and the training loop in :mod:`lmrec.training.trainer`. torch is
imported only when a model is fitted, scored or loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from lmrec.core.checkpoint import load_state, save_state
from lmrec.core.fitted import FittedModel, FittedState, ModelContext
from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings
from lmrec.training.config import TrainConfig

if TYPE_CHECKING:
    from typing_extensions import Self

    from lmrec.training.distill import Distillation
    from lmrec.training.network import SequenceNetwork
    from lmrec.training.trainer import TrainReport


class SASRecConfig(Settings):
    """SASRec with softmax cross-entropy ("SASRec+"); defaults follow Klenitskiy & Vasilev (2023)
    on ML-1M: 2 blocks × 64, one head, dropout 0.2, the last 200 items."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: int = Field(64, ge=1)
    layers: int = Field(2, ge=1)
    heads: int = Field(1, ge=1)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    max_len: int = Field(200, ge=1, description="Only the last max_len history items are read.")
    train: TrainConfig = Field(default_factory=TrainConfig)


class GRU4RecConfig(Settings):
    """GRU4Rec trained with softmax cross-entropy over all items."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: int = Field(64, ge=1)
    layers: int = Field(1, ge=1)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    max_len: int = Field(200, ge=1, description="Only the last max_len history items are read.")
    train: TrainConfig = Field(default_factory=TrainConfig)


class SequenceSettings(Protocol):
    """What every sequence model's config has (SASRecConfig, GRU4RecConfig, TextSeqRecConfig)."""

    @property
    def max_len(self) -> int: ...

    @property
    def train(self) -> TrainConfig: ...

    def model_dump(self) -> dict[str, Any]: ...


C = TypeVar("C", bound=SequenceSettings)


class SequenceModel(FittedModel, Generic[C]):
    """A next-item model over item-id sequences. ``fit(train, valid)`` early-stops on the
    validation cases' NDCG@10 when they are given; without them it trains ``train.epochs``."""

    name: ClassVar[str] = "sequence"
    config_type: ClassVar[type[BaseModel]] = BaseModel
    config: C

    def __init__(self, context: ModelContext | None = None) -> None:
        # subclasses take (config, context) and set self.config first
        self.progress = context.progress if context else False
        self.on_epoch = context.on_epoch if context else None
        self.net: SequenceNetwork | None = None
        self.report: TrainReport | None = None

    def build_network(self, n_items: int) -> SequenceNetwork:
        raise NotImplementedError

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> Self:
        import torch

        state = FittedState.from_train(train)
        self._state = state
        torch.manual_seed(self.config.train.seed)
        self.net = self.build_network(len(state.item_vocab))
        self.report = self.train_network(valid)
        return self

    def train_network(
        self, valid: EvalCases | None, distill: Distillation | None = None
    ) -> TrainReport:
        """Train ``self.net`` on the fitted histories, early-stopping on ``valid`` when given."""
        from lmrec.training.batches import TrainingRows
        from lmrec.training.trainer import Trainer
        from lmrec.training.validation import ndcg_validator

        rows = TrainingRows.from_sequences(
            self.fitted_state().histories, self.config.max_len, self.config.train.windows
        )
        trainer = Trainer(self.config.train, self.progress, self.on_epoch)
        validator = ndcg_validator(self, valid) if valid is not None else None
        return trainer.fit(self.network(), rows, validator, distill, self.item_segments())

    def item_segments(self) -> list[int]:
        """Item-range bounds the softmax is split by in training (a joint model's domains);
        empty: one softmax over every item."""
        return []

    def score(self, batch: QueryBatch, chunk: int = 512) -> npt.NDArray[np.float32]:
        import torch

        from lmrec.training.batches import pad_left, trim

        self.fitted_state()
        net = self.network()
        net.eval()
        out = np.empty((len(batch), len(self.item_vocab)), dtype=np.float32)
        padded = pad_left(batch.histories, self.config.max_len)
        with torch.inference_mode():
            table = net.item_table()
            for start in range(0, len(batch), chunk):
                inputs = torch.from_numpy(trim(padded[start : start + chunk])).to(table.device)
                last = torch.zeros(inputs.shape, dtype=torch.bool, device=table.device)
                last[:, -1] = True
                scores = net.scores(inputs, last, table)
                out[start : start + chunk] = scores.float().cpu().numpy()
        return out

    def network(self) -> SequenceNetwork:
        if self.net is None:
            self.fitted_state()  # raises NotFittedError
            raise RuntimeError("fitted state without a network")
        return self.net

    def save(self, directory: Path) -> None:
        tensors = {
            **{f"net.{k}": v.cpu().numpy() for k, v in self.network().state_dict().items()},
            **self.extra_tensors(),
        }
        config = self.config.model_dump()
        if self.report is not None:
            config = {**config, "_training": self.report.to_json()}
        save_state(directory, self.fitted_state(), self.name, config, tensors)

    def extra_tensors(self) -> dict[str, npt.NDArray[Any]]:
        """Arrays besides the network's state a checkpoint needs (none for ID models)."""
        return {}

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Rebuild a saved model from ``directory`` (no training data needed)."""
        state, config, tensors = load_state(directory, cls.name)
        config.pop("_training", None)
        model = cls(cls.config_type.model_validate(config))  # type: ignore[arg-type]
        model._state = state
        model.net = model.restore_network(len(state.item_vocab), tensors)
        model.net.eval()
        return model

    def restore_network(self, n_items: int, tensors: dict[str, Any]) -> SequenceNetwork:
        """The network with the weights of a checkpoint's ``net.*`` tensors."""
        import torch

        net = self.build_network(n_items)
        net.load_state_dict(
            {k[4:]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith("net.")}
        )
        return net


class SASRec(SequenceModel[SASRecConfig]):
    name: ClassVar[str] = "sasrec"
    config_type: ClassVar[type[BaseModel]] = SASRecConfig

    def __init__(self, config: SASRecConfig | None = None, context: ModelContext | None = None):
        super().__init__(context)
        self.config: SASRecConfig = config or SASRecConfig()

    def build_network(self, n_items: int) -> SequenceNetwork:
        from lmrec.models.sequential.networks import SASRecNetwork

        c = self.config
        return SASRecNetwork(n_items, c.hidden_size, c.layers, c.heads, c.dropout, c.max_len)


class GRU4Rec(SequenceModel[GRU4RecConfig]):
    name: ClassVar[str] = "gru4rec"
    config_type: ClassVar[type[BaseModel]] = GRU4RecConfig

    def __init__(self, config: GRU4RecConfig | None = None, context: ModelContext | None = None):
        super().__init__(context)
        self.config: GRU4RecConfig = config or GRU4RecConfig()

    def build_network(self, n_items: int) -> SequenceNetwork:
        from lmrec.models.sequential.networks import GRU4RecNetwork

        c = self.config
        return GRU4RecNetwork(n_items, c.hidden_size, c.layers, c.dropout)
