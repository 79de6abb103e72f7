"""The LLM ranker as a registered model (``-m llm``): its backend, candidates and prompt from one
config, so ``lmrec evaluate``, ``lmrec llm-rank`` and the benchmarks build it the same way.

Candidate protocols (``llmrank-20``) give the candidates; under full ranking they are the top
``n_candidates`` of ``retriever`` (a registered model, or NIR's ``nir-user`` / ``nir-item``
filters), fitted only when a batch without candidates arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from lmrec.core.checkpoint import ModelLoader, load_state, save_member, save_state
from lmrec.core.fitted import ModelContext, ModelFactory
from lmrec.core.recommender import Recommender
from lmrec.errors import ConfigError
from lmrec.llm.ranking.prompts import Domain
from lmrec.llm.ranking.ranker import LLMRankConfig, LLMRanker
from lmrec.llm.ranking.titles import title_function
from lmrec.llm.runtime.config import BackendConfig, build_backend
from lmrec.models.two_stage import create_retriever, load_retriever


class LLMRecommenderConfig(LLMRankConfig, BackendConfig):
    """The ranker's settings, where the LLM runs (:class:`BackendConfig`: exactly one of
    ``endpoint`` with ``model``, or ``llm``) and where full-ranking candidates come from."""

    retriever: str = Field(
        "itemknn-seq",
        description="Full ranking: candidates from this registered model, nir-user or nir-item.",
    )
    retriever_config: dict[str, Any] = Field(
        default_factory=dict, description="The retriever's own configuration."
    )


class LLMRecommender(LLMRanker):
    """The LLM ranker built from one config: saved as that config plus its fitted retriever (the
    backend is built again from the config when it is loaded; its responses stay cached)."""

    def save(self, directory: Path) -> None:
        config = self.config.model_dump()
        save_state(directory, self.fitted_state(), self.name, config, {})
        save_member(directory, "retriever", self.fitted_retriever())

    @classmethod
    def load(cls, directory: Path, context: ModelContext, member: ModelLoader) -> LLMRecommender:
        """The saved ranker, its backend built again from the saved config."""
        state, config, _ = load_state(directory, cls.name)
        retriever = load_retriever(directory / "retriever", context, member)
        model = build_llm_ranker(
            LLMRecommenderConfig.model_validate(config), context, None, retriever
        )
        model._state = state
        return model


def build_llm_ranker(
    config: LLMRecommenderConfig,
    context: ModelContext,
    create: ModelFactory | None,
    retriever: Recommender | None = None,
) -> LLMRecommender:
    """An :class:`LLMRanker` over the configured backend, titles from the context's catalogue."""
    title = title_function(context.catalog, config.title_format, config.natural_titles)
    if retriever is None:
        if create is None:
            raise ConfigError("the LLM ranker needs a model factory or a fitted retriever")
        retriever = create_retriever(config.retriever, config.retriever_config, context, create)
    # the whole config is the ranker's (a subclass of its own), so provenance records the backend
    return LLMRecommender(
        build_backend(config), title, config, retriever, Domain.for_dataset(context.dataset)
    )
