"""The model registry: an explicit table from name to constructor, config class and loader.

Nothing is discovered by file name; adding a model means adding one row here. The registry also
owns the two ways a model comes into being: :func:`create_model` (from a config, to be fitted)
and :func:`load_model` (from a folder :func:`save_model` wrote). Composite models (ensemble,
two-stage, llm, llm-lora) save their members by registry name and load them back through
:func:`load_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from lmrec.core.checkpoint import ModelLoader, read_meta
from lmrec.core.checkpoint import save_model as save_model
from lmrec.core.fitted import ModelContext
from lmrec.core.recommender import Recommender
from lmrec.errors import CheckpointError, ConfigError, field_error


@dataclass(frozen=True)
class ModelSpec:
    """One registry row. The flags say what the model needs, not how it is implemented."""

    name: str
    description: str
    config: type[BaseModel]
    build: Callable[[Any, ModelContext], Recommender]
    load: Callable[[Path, ModelContext, ModelLoader], Recommender]
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    learns_weights: bool = False  # trained by the torch trainer: minutes, so served from a folder
    needs_backend: bool = False  # needs an LLM backend (an endpoint or a local model) in its config
    members: Callable[[Any], list[tuple[str, dict[str, Any]]]] | None = None  # composite: parts

    def slow_fit(self, config: Mapping[str, Any] | None = None) -> bool:
        """Whether fitting takes minutes (this model, or any member of a composite one):
        ``serve`` and ``recommend`` then load a folder written by ``lmrec train`` instead."""
        if self.learns_weights:
            return True
        if self.members is None:
            return False
        if config is None:  # a composite whose members are not named yet may hold any model
            return True
        specs = model_specs()
        parts = self.members(validate_config(self, config))
        return any(n in specs and specs[n].slow_fit(c) for n, c in parts)


def plain(cls: Any) -> Callable[[Path, ModelContext, ModelLoader], Recommender]:
    """The loader of a model whose folder holds everything (``cls.load(directory)``)."""
    return lambda directory, context, member: cls.load(directory)


def composite(cls: Any) -> Callable[[Path, ModelContext, ModelLoader], Recommender]:
    """The loader of a model that also reads the context and loads members by registry name
    (``cls.load(directory, context, member)``)."""
    return lambda directory, context, member: cls.load(directory, context, member)


def model_specs() -> Mapping[str, ModelSpec]:
    from lmrec.llm.lora.config import LlmLoraConfig
    from lmrec.models.classic.factorization import ALS, BPR, ALSConfig, BPRConfig
    from lmrec.models.classic.itemknn import ItemKNN, ItemKNNConfig
    from lmrec.models.classic.markov import Markov, MarkovConfig
    from lmrec.models.classic.popularity import Popularity, PopularityConfig
    from lmrec.models.classic.random import RandomConfig, RandomScores
    from lmrec.models.fusion import RankFusion, RankFusionConfig
    from lmrec.models.llm import LLMRecommender, LLMRecommenderConfig, build_llm_ranker
    from lmrec.models.llm_lora import LoraReranker
    from lmrec.models.sequential.model import GRU4Rec, GRU4RecConfig, SASRec, SASRecConfig
    from lmrec.models.textseq import TextSeqRec, TextSeqRecConfig
    from lmrec.models.textseq.hybrid import HYBRID_DEFAULTS, HybridRec
    from lmrec.models.two_stage import TwoStage, TwoStageConfig
    from lmrec.models.zeroshot.model import ZeroShotConfig, ZeroShotTextRecommender
    from lmrec.models.zeroshot.tuned import TextEncoderConfig, TunedTextRecommender

    specs = [
        ModelSpec(
            "pop",
            "training popularity",
            PopularityConfig,
            lambda c, _: Popularity(c),
            plain(Popularity),
        ),
        ModelSpec(
            "itemknn",
            "item-item cosine kNN",
            ItemKNNConfig,
            lambda c, _: ItemKNN(c),
            plain(ItemKNN),
        ),
        ModelSpec(
            "itemknn-seq",
            "item-item kNN, recent history weighted more (decay 0.5, chosen on validation)",
            ItemKNNConfig,
            lambda c, _: ItemKNN(c),
            plain(ItemKNN),
            MappingProxyType({"decay": 0.5}),
        ),
        ModelSpec(
            "markov",
            "first-order Markov chain",
            MarkovConfig,
            lambda c, _: Markov(c),
            plain(Markov),
        ),
        ModelSpec(
            "bpr",
            "BPR-MF, pairwise ranking matrix factorisation (implicit library)",
            BPRConfig,
            BPR,
            plain(BPR),
        ),
        ModelSpec(
            "als",
            "ALS, weighted matrix factorisation, query history folded in (implicit library)",
            ALSConfig,
            ALS,
            plain(ALS),
        ),
        ModelSpec(
            "random",
            "uniform random scores",
            RandomConfig,
            lambda c, _: RandomScores(c),
            plain(RandomScores),
        ),
        ModelSpec(
            "zeroshot",
            "zero-shot semantic matching of item text (no training on the target data)",
            ZeroShotConfig,
            ZeroShotTextRecommender,
            composite(ZeroShotTextRecommender),
        ),
        ModelSpec(
            "text-encoder",
            "zeroshot with its sentence encoder first tuned on next-item prediction "
            "(contrastive; the folder's encoder/ loads into any text model by path; torch)",
            TextEncoderConfig,
            TunedTextRecommender,
            composite(TunedTextRecommender),
            learns_weights=True,
        ),
        ModelSpec(
            "sasrec",
            "SASRec, self-attention over the item sequence, softmax cross-entropy (torch)",
            SASRecConfig,
            SASRec,
            plain(SASRec),
            learns_weights=True,
        ),
        ModelSpec(
            "gru4rec",
            "GRU4Rec, recurrent network over the item sequence, softmax cross-entropy (torch)",
            GRU4RecConfig,
            GRU4Rec,
            plain(GRU4Rec),
            learns_weights=True,
        ),
        ModelSpec(
            "textseq",
            "TextSeqRec, Transformer over adapted text embeddings (transfer, few-shot, "
            "distillation; torch)",
            TextSeqRecConfig,
            TextSeqRec,
            composite(TextSeqRec),
            learns_weights=True,
        ),
        ModelSpec(
            "hybrid",
            "TextSeqRec with item IDs where items have interactions and text where they have "
            "none: one model for warm items, new items and thin histories (torch)",
            TextSeqRecConfig,
            HybridRec,
            composite(HybridRec),
            defaults=MappingProxyType(HYBRID_DEFAULTS),
            learns_weights=True,
        ),
        ModelSpec(
            "ensemble",
            "weighted reciprocal rank fusion of registered models (config: members)",
            RankFusionConfig,
            lambda c, context: RankFusion(c, context, create_model),
            composite(RankFusion),
            members=lambda c: [(m.model, m.config) for m in c.members],
        ),
        ModelSpec(
            "two-stage",
            "a retriever's top items re-ranked by any model (config: reranker, retriever, depth)",
            TwoStageConfig,
            lambda c, context: TwoStage(c, context, create_model),
            composite(TwoStage),
            members=lambda c: [(c.retriever, c.retriever_config), (c.reranker, c.reranker_config)],
        ),
        ModelSpec(
            "llm",
            "a language model ranks candidates: generated, constrained or by likelihood "
            "(config: llm = smollm2-135m | gemma3-270m | a .gguf | a folder, or endpoint + model)",
            LLMRecommenderConfig,
            lambda c, context: build_llm_ranker(c, context, create_model),
            composite(LLMRecommender),
            needs_backend=True,
            members=lambda c: [(c.retriever, c.retriever_config)],
        ),
        ModelSpec(
            "llm-lora",
            "a LoRA-tuned local LM re-ranks a retriever's top items by letter logits "
            "(LlamaRec; config: base, retriever, depth; task=binary: TALLRec yes/no)",
            LlmLoraConfig,
            lambda c, context: LoraReranker(c, context, create_model),
            composite(LoraReranker),
            learns_weights=True,
        ),
    ]
    return MappingProxyType({s.name: s for s in specs})


def available_models(slow: bool = True, backend: bool = True) -> tuple[str, ...]:
    """Registered model names; ``slow=False`` leaves out the ones whose fit takes minutes (torch
    training), ``backend=False`` the ones that need an LLM backend."""
    return tuple(
        name
        for name, spec in model_specs().items()
        if (slow or not spec.slow_fit()) and (backend or not spec.needs_backend)
    )


def model_spec(name: str) -> ModelSpec:
    """The registry row of ``name`` (:class:`ConfigError` naming the registered ones)."""
    specs = model_specs()
    if name not in specs:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(specs)}")
    return specs[name]


def validate_config(spec: ModelSpec, config: Mapping[str, Any] | None) -> BaseModel:
    """``config`` over the model's defaults, checked by its pydantic class."""
    try:
        return spec.config.model_validate({**spec.defaults, **(config or {})})
    except ValidationError as exc:
        raise field_error(f"model {spec.name!r}: ", exc) from None


def create_model(
    name: str, config: Mapping[str, Any] | None = None, context: ModelContext | None = None
) -> Recommender:
    """Build a registered model; ``config`` is validated by the model's pydantic config."""
    spec = model_spec(name)
    return spec.build(validate_config(spec, config), context or ModelContext())


def saved_model_name(directory: Path) -> str:
    """The registered model a folder written by :func:`save_model` holds."""
    return str(read_meta(directory)["model"])


def load_model(
    directory: Path, context: ModelContext | None = None, expect: str | None = None
) -> Recommender:
    """The model saved in ``directory``, whatever its kind: the folder names it, the registry
    knows how to read it. ``context`` gives text models their catalogue and caches; ``expect``
    refuses a folder that holds another model."""
    directory = Path(directory)
    name = saved_model_name(directory)
    if expect is not None and name != expect:
        raise CheckpointError(f"{directory} holds a {name!r} model, not {expect!r}")
    spec = model_spec(name)
    try:
        model = spec.load(directory, context or ModelContext(), load_model)
    except (KeyError, OSError) as exc:  # a file or a key of the folder is missing
        raise CheckpointError(f"{directory}: cannot read the saved {spec.name!r} ({exc})") from exc
    if not isinstance(model, Recommender):
        raise CheckpointError(f"{directory}: did not load a recommender")
    return model
