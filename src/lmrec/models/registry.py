"""The model registry: an explicit table from name to constructor and config class.

Nothing is discovered by file name; adding a model means adding one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from lmrec.data.containers import Interactions
from lmrec.models.base import Recommender
from lmrec.models.common import ModelContext
from lmrec.protocols.base import EvalCases


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    config: type[BaseModel]
    build: Callable[[Any, ModelContext], Recommender]
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    trained: bool = False  # learns weights with the torch trainer (minutes, not seconds)


def model_specs() -> Mapping[str, ModelSpec]:
    from lmrec.models.fusion import RankFusion, RankFusionConfig
    from lmrec.models.itemknn import ItemKNN, ItemKNNConfig
    from lmrec.models.popularity import Popularity, PopularityConfig
    from lmrec.models.random import RandomConfig, RandomScores
    from lmrec.models.sequential import GRU4Rec, GRU4RecConfig, SASRec, SASRecConfig
    from lmrec.models.textseq import TextSeqRec, TextSeqRecConfig
    from lmrec.models.zeroshot import ZeroShotConfig, ZeroShotTextRecommender

    specs = [
        ModelSpec("pop", "training popularity", PopularityConfig, lambda c, _: Popularity(c)),
        ModelSpec("itemknn", "item-item cosine kNN", ItemKNNConfig, lambda c, _: ItemKNN(c)),
        ModelSpec(
            "itemknn-seq",
            "item-item kNN, recent history weighted more (decay 0.5, chosen on validation)",
            ItemKNNConfig,
            lambda c, _: ItemKNN(c),
            MappingProxyType({"decay": 0.5}),
        ),
        ModelSpec("random", "uniform random scores", RandomConfig, lambda c, _: RandomScores(c)),
        ModelSpec(
            "zeroshot",
            "zero-shot semantic matching of item text (no training on the target data)",
            ZeroShotConfig,
            ZeroShotTextRecommender,
        ),
        ModelSpec(
            "sasrec",
            "SASRec, self-attention over the item sequence, softmax cross-entropy (torch)",
            SASRecConfig,
            SASRec,
            trained=True,
        ),
        ModelSpec(
            "gru4rec",
            "GRU4Rec, recurrent network over the item sequence, softmax cross-entropy (torch)",
            GRU4RecConfig,
            GRU4Rec,
            trained=True,
        ),
        ModelSpec(
            "textseq",
            "TextSeqRec, Transformer over adapted text embeddings (transfer, few-shot, "
            "distillation; torch)",
            TextSeqRecConfig,
            TextSeqRec,
            trained=True,
        ),
        ModelSpec(
            "ensemble",
            "weighted reciprocal rank fusion of registered models (config: members)",
            RankFusionConfig,
            RankFusion,
            trained=True,
        ),
    ]
    return MappingProxyType({s.name: s for s in specs})


def available_models(trained: bool = True) -> tuple[str, ...]:
    """Registered model names; ``trained=False`` leaves out the torch-trained ones."""
    return tuple(name for name, spec in model_specs().items() if trained or not spec.trained)


def fit_model(
    model: Recommender, train: Interactions, valid: EvalCases | None = None
) -> Recommender:
    """``model.fit(train)``, passing the validation cases to models that early-stop on them."""
    if getattr(model, "trains_with_validation", False):
        model.fit(train, valid)  # type: ignore[call-arg]
    else:
        model.fit(train)
    return model


def create_model(
    name: str, config: Mapping[str, Any] | None = None, context: ModelContext | None = None
) -> Recommender:
    """Build a registered model; ``config`` is validated by the model's pydantic config."""
    specs = model_specs()
    if name not in specs:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(specs)}")
    spec = specs[name]
    merged = {**spec.defaults, **(config or {})}
    return spec.build(spec.config.model_validate(merged), context or ModelContext())
