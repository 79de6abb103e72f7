"""The model registry: an explicit table from name to constructor and config class.

Nothing is discovered by file name; adding a model means adding one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from lmrec.core.fitted import ModelContext
from lmrec.core.recommender import Persistable, Recommender


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    config: type[BaseModel]
    build: Callable[[Any, ModelContext], Recommender]
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    trained: bool = False  # learns weights with the torch trainer (minutes, not seconds)
    external: bool = False  # needs an LLM backend (an endpoint or a local model) in its config
    checkpoint: type[Any] | None = None  # loads a saved model when ``build`` is not the class

    def loader(self) -> type[Persistable] | None:
        """The class whose ``load`` reads this model's checkpoints (None: no checkpoint format)."""
        found = self.checkpoint or self.build
        if isinstance(found, type) and issubclass(found, Persistable):
            return found
        return None


def model_specs() -> Mapping[str, ModelSpec]:
    from lmrec.llm.lora.config import LlmLoraConfig
    from lmrec.models.classic.factorization import ALS, BPR, ALSConfig, BPRConfig
    from lmrec.models.classic.itemknn import ItemKNN, ItemKNNConfig
    from lmrec.models.classic.popularity import Popularity, PopularityConfig
    from lmrec.models.classic.random import RandomConfig, RandomScores
    from lmrec.models.fusion import RankFusion, RankFusionConfig
    from lmrec.models.llm import LLMRecommenderConfig, build_llm_ranker
    from lmrec.models.llm_lora import LoraReranker
    from lmrec.models.sequential.model import GRU4Rec, GRU4RecConfig, SASRec, SASRecConfig
    from lmrec.models.textseq import TextSeqRec, TextSeqRecConfig
    from lmrec.models.two_stage import TwoStage, TwoStageConfig
    from lmrec.models.zeroshot.model import ZeroShotConfig, ZeroShotTextRecommender

    specs = [
        ModelSpec(
            "pop",
            "training popularity",
            PopularityConfig,
            lambda c, _: Popularity(c),
            checkpoint=Popularity,
        ),
        ModelSpec(
            "itemknn",
            "item-item cosine kNN",
            ItemKNNConfig,
            lambda c, _: ItemKNN(c),
            checkpoint=ItemKNN,
        ),
        ModelSpec(
            "itemknn-seq",
            "item-item kNN, recent history weighted more (decay 0.5, chosen on validation)",
            ItemKNNConfig,
            lambda c, _: ItemKNN(c),
            MappingProxyType({"decay": 0.5}),
            checkpoint=ItemKNN,
        ),
        ModelSpec(
            "bpr",
            "BPR-MF, pairwise ranking matrix factorisation (implicit library)",
            BPRConfig,
            BPR,
        ),
        ModelSpec(
            "als",
            "ALS, weighted matrix factorisation, query history folded in (implicit library)",
            ALSConfig,
            ALS,
        ),
        ModelSpec(
            "random",
            "uniform random scores",
            RandomConfig,
            lambda c, _: RandomScores(c),
            checkpoint=RandomScores,
        ),
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
            lambda c, context: RankFusion(c, context, create_model),
            trained=True,
        ),
        ModelSpec(
            "two-stage",
            "a retriever's top items re-ranked by any model (config: reranker, retriever, depth)",
            TwoStageConfig,
            lambda c, context: TwoStage(c, context, create_model),
            trained=True,
        ),
        ModelSpec(
            "llm",
            "a language model ranks candidates: generated, constrained or by likelihood "
            "(config: llm = smollm2-135m | gemma3-270m | a .gguf | a folder, or endpoint + model)",
            LLMRecommenderConfig,
            lambda c, context: build_llm_ranker(c, context, create_model),
            external=True,
        ),
        ModelSpec(
            "llm-lora",
            "a LoRA-tuned local LM re-ranks a retriever's top items by letter logits "
            "(LlamaRec; config: base, retriever, depth; task=binary: TALLRec yes/no)",
            LlmLoraConfig,
            lambda c, context: LoraReranker(c, context, create_model),
            trained=True,
            checkpoint=LoraReranker,
        ),
    ]
    return MappingProxyType({s.name: s for s in specs})


def available_models(trained: bool = True, external: bool = True) -> tuple[str, ...]:
    """Registered model names; ``trained=False`` leaves out the torch-trained ones,
    ``external=False`` the ones that need an LLM backend."""
    return tuple(
        name
        for name, spec in model_specs().items()
        if (trained or not spec.trained) and (external or not spec.external)
    )


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
