"""TextSeqRec's configuration, in two parts (as transformers' ``PretrainedConfig`` and
``TrainingArguments``): :class:`TextSeqArchitecture` is what a checkpoint fixes (a pretrained
model's architecture replaces the run's), :class:`TextSeqRecConfig` adds how a run uses it
(text, IDs, transfer, tuning, distillation, training). The keys are flat: ``--set layers=1``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from lmrec.settings import Settings
from lmrec.training.config import TrainConfig

TEXT_LR = 1e-3


class TextSeqArchitecture(Settings):
    """The network's shape and scoring: kept by a checkpoint, taken over by a transferred model."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: int = Field(64, ge=1)
    layers: int = Field(2, ge=1)
    heads: int = Field(1, ge=1)
    max_len: int = Field(200, ge=1, description="Only the last max_len history items are read.")
    experts: int = Field(8, ge=1, description="Experts of the MoE adapter.")
    fusion: Literal["add", "init"] = Field(
        "add",
        description="With ids: 'add' sums each item's adapted text vector and its ID embedding "
        "(UniSRec's transductive setting); 'init' starts the ID table as the text vectors' "
        "principal components and trains it alone (the adapter is unused), as SASRec would.",
    )
    temperature: float = Field(
        0.07, ge=0.0, description="Cosine scores / temperature; 0 = dot-product scores."
    )
    prior: bool = Field(
        False,
        description="Add a learned multiple of the training-free text score (cosine between the "
        "recency-weighted mean of the history's centred text vectors and each item's).",
    )
    prior_decay: float = Field(
        0.9, gt=0.0, le=1.0, description="Text prior: weight of the item n steps back."
    )
    prior_window: int = Field(
        10, ge=0, description="Text prior: best match among the last n items (0 = mean only)."
    )
    id_fallback: bool = Field(
        False,
        description="With ids and fusion 'add': an item without training interactions is its "
        "adapted text vector alone (its untrained ID row is never read), so a new item is "
        "scored from its text as the model scores every item's text part.",
    )
    prior_gain: float = Field(
        50.0,
        gt=0.0,
        description="Text prior: the weights are this multiple of their parameters, so they "
        "learn this many times faster (Adam moves a parameter by about lr per step).",
    )


class TextSeqRecConfig(TextSeqArchitecture):
    """Hyper-parameters of :class:`~lmrec.models.textseq.TextSeqRec` (unknown keys are
    rejected): the architecture's fields plus how this run uses it."""

    encoder: str = Field("minilm", description="Sentence encoder: a name or a local directory.")
    template: str | None = Field(None, description="Item text template; None = dataset default.")
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    ids: bool = Field(False, description="Add trainable item-ID embeddings (in-domain).")
    domains: bool = Field(
        False,
        description="Joint training on a dataset from lmrec.data.joint.combine: each history "
        "is scored against its own domain's items only (and the text prior centres each "
        "domain on its own mean), as a single-domain model would be.",
    )
    prior_weight: float = Field(
        10.0, description="Text prior: starting total weight (70% mean, 30% best match)."
    )
    pretrained: str | None = Field(
        None, description="Start from this saved TextSeqRec (its architecture is used)."
    )
    tune: Literal["all", "adapter", "adapter+lora", "none"] = Field(
        "all", description="What trains: everything, the adapter, adapter + LoRA, or nothing."
    )
    lora_rank: int = Field(8, ge=1, description="Rank of LoRA on attention (tune=adapter+lora).")
    recenter: bool = Field(
        True,
        description="With `pretrained`: move the whitening biases by the difference between "
        "this catalogue's mean text vector and the source's (catalogue text only).",
    )
    transformer_weight: float = Field(
        1.0,
        ge=0.0,
        description="With the text prior: the Transformer's scores are multiplied by this before "
        "the prior is added (1 = as trained; 0 = the prior alone, with its learned weights).",
    )
    teacher: str | None = Field(None, description="Distil from this saved TextSeqRec.")
    distill_weight: float = Field(0.5, ge=0.0, le=1.0, description="Share of the KL term.")
    distill_temperature: float = Field(1.0, gt=0.0)
    distill_top_k: int = Field(
        0,
        ge=0,
        description="0: the teacher's full distribution at every step; k: its top k items, "
        "computed once before training (much faster, approximate).",
    )
    id_dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="With id_fallback: in training, each item's ID row is dropped with this "
        "probability per step, so the text part learns to rank an item on its own (as a new "
        "item must be ranked).",
    )
    new_item_negatives: bool = Field(
        True,
        description="Items without training interactions compete as negatives in the training "
        "softmax; False leaves them out (they did not exist yet), so the model does not learn "
        "to push a new item's text down.",
    )
    new_share: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="hybrid: the share of requests whose next item is new that the new-item "
        "score offset is chosen for (on validation cases).",
    )
    threads: int = Field(1, ge=1, description="CPU threads for the sentence encoder.")
    train: TrainConfig = Field(
        default_factory=lambda: TrainConfig(lr=TEXT_LR),
        description="Trainer settings; lr defaults to 1e-3 here (chosen on ML-100K validation).",
    )

    def architecture(self) -> TextSeqArchitecture:
        """The part a checkpoint fixes."""
        fields = set(TextSeqArchitecture.model_fields)
        return TextSeqArchitecture.model_validate(self.model_dump(include=fields))

    def with_architecture(self, architecture: TextSeqArchitecture) -> TextSeqRecConfig:
        """This run's choices on a pretrained model's architecture."""
        return self.model_copy(update=architecture.model_dump())

    @model_validator(mode="after")
    def _prior_needs_full_softmax(self) -> TextSeqRecConfig:
        if self.prior and self.train.loss != "ce":
            raise ValueError("prior: true needs train.loss='ce' (the prior scores every item)")
        return self

    @model_validator(mode="after")
    def _init_fusion_needs_ids(self) -> TextSeqRecConfig:
        if self.fusion == "init" and not self.ids:
            raise ValueError("fusion: 'init' needs ids: true (it initialises the ID table)")
        return self

    @model_validator(mode="after")
    def _fallback_needs_added_ids(self) -> TextSeqRecConfig:
        if self.id_fallback and not (self.ids and self.fusion == "add"):
            raise ValueError("id_fallback needs ids: true and fusion: 'add' (text + ID rows)")
        if self.id_dropout and not self.id_fallback:
            raise ValueError("id_dropout needs id_fallback: true")
        return self

    @model_validator(mode="after")
    def _no_tuning_needs_pretrained(self) -> TextSeqRecConfig:
        if self.tune == "none" and not self.pretrained:
            raise ValueError("tune='none' needs `pretrained` (an untrained model is random)")
        return self

    @field_validator("train", mode="before")
    @classmethod
    def _text_learning_rate(cls, value: Any) -> Any:
        if isinstance(value, dict) and "lr" not in value:
            return {**value, "lr": TEXT_LR}
        return value
