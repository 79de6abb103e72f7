"""The LLM ranker as a registered model (``-m llm``): its backend, candidates and prompt from one
config, so ``lmrec evaluate``, ``lmrec llm-rank`` and the benchmarks build it the same way.

Candidate protocols (``llmrank-20``) give the candidates; under full ranking they are the top
``n_candidates`` of ``retriever`` (a registered model, or NIR's ``nir-user`` / ``nir-item``
filters), fitted only when a batch without candidates arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from lmrec.core.checkpoint import ModelLoader, load_state, save_member, save_state
from lmrec.core.fitted import ModelContext, ModelFactory
from lmrec.core.recommender import Recommender
from lmrec.errors import CheckpointError
from lmrec.llm.backends import LLMBackend, OpenAICompatibleBackend
from lmrec.llm.cache import ResponseCache
from lmrec.llm.prompts import Domain
from lmrec.llm.ranker import LLMRankConfig, LLMRanker
from lmrec.models.two_stage import create_retriever, load_retriever


class LLMRecommenderConfig(LLMRankConfig):
    """The ranker's settings plus where the LLM runs and where full-ranking candidates come from.
    Give exactly one of ``endpoint`` (with ``model``) and ``llm``."""

    endpoint: str | None = Field(
        None, description="OpenAI-compatible base URL, e.g. http://localhost:8000/v1."
    )
    model: str = Field("", description="The model name the endpoint serves.")
    llm: str | None = Field(
        None,
        description="A local model run in this process: smollm2-135m, gemma3-270m, a .gguf file, "
        "a Hugging Face model folder or a hub name.",
    )
    runtime: Literal["torch", "llama-cpp"] = Field(
        "torch",
        description="Local model: torch (all methods) or llama-cpp (generate and constrained "
        "only; ~4x faster generation; needs llama-cpp-python).",
    )
    threads: int | None = Field(
        None, ge=1, description="Local model: CPU threads (default: half the cores, at most 8)."
    )
    context: int = Field(
        2048,
        ge=128,
        description="Local model: most prompt + reply tokens (oldest history dropped).",
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable of the key.")
    timeout: float = Field(
        600.0, gt=0.0, description="Seconds per HTTP request (a local server may be slow)."
    )
    concurrency: int = Field(
        1, ge=1, description="HTTP requests in flight at once (raise it for hosted APIs)."
    )
    cache_dir: str | None = Field(
        None, description="Response cache folder (default: lmrec's cache directory)."
    )
    retriever: str = Field(
        "itemknn-seq",
        description="Full ranking: candidates from this registered model, nir-user or nir-item.",
    )
    retriever_config: dict[str, Any] = Field(
        default_factory=dict, description="The retriever's own configuration."
    )

    @model_validator(mode="after")
    def _one_backend(self) -> LLMRecommenderConfig:
        if (self.endpoint is None) == (self.llm is None):
            raise ValueError("give exactly one of --endpoint URL (with --model) or --llm NAME|PATH")
        if self.endpoint is not None and not self.model:
            raise ValueError("--endpoint needs --model (the model name the server serves)")
        return self


def build_backend(config: LLMRecommenderConfig) -> LLMBackend:
    """The configured backend, with the persistent response cache."""
    from lmrec.text.cache import default_cache_dir

    folder = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    cache = ResponseCache(folder / "llm-responses.sqlite")
    if config.endpoint is not None:
        return OpenAICompatibleBackend(
            config.endpoint,
            config.model,
            config.api_key_env,
            config.timeout,
            concurrency=config.concurrency,
            cache=cache,
        )
    from lmrec.llm.local import resolve_llm
    from lmrec.llm.local_backend import LocalBackend

    if config.runtime == "llama-cpp":
        from lmrec.llm.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(resolve_llm(str(config.llm)), config.threads, config.context, cache)
    return LocalBackend(
        resolve_llm(str(config.llm)),
        threads=config.threads,
        context=config.context,
        cache=cache,
        weights_cache=folder,
    )


class LLMRecommender(LLMRanker):
    """The LLM ranker built from one config: saved as that config plus its fitted retriever (the
    backend is built again from the config when it is loaded; its responses stay cached)."""

    def save(self, directory: Path) -> None:
        config = self.config.model_dump()
        save_state(directory, self.fitted_state(), self.name, config, {})
        save_member(directory, "retriever", self.fitted_retriever())

    @classmethod
    def load(
        cls, directory: Path, context: ModelContext | None = None, member: ModelLoader | None = None
    ) -> LLMRecommender:
        """The saved ranker, its backend built again from the saved config."""
        if member is None:
            raise CheckpointError("llm loads through lmrec.models.registry.load_model")
        context = context or ModelContext()
        state, config, _ = load_state(directory, cls.name)
        retriever = load_retriever(directory / "retriever", context, member)
        model = build_llm_ranker(
            LLMRecommenderConfig.model_validate(config), context, _no_factory, retriever
        )
        model._state = state
        return model


def build_llm_ranker(
    config: LLMRecommenderConfig,
    context: ModelContext,
    create: ModelFactory,
    retriever: Recommender | None = None,
) -> LLMRecommender:
    """An :class:`LLMRanker` over the configured backend, titles from the context's catalogue."""
    catalog = context.catalog
    title = catalog.title if catalog is not None else str
    if retriever is None:
        retriever = create_retriever(config.retriever, config.retriever_config, context, create)
    # the whole config is the ranker's (a subclass of its own), so provenance records the backend
    return LLMRecommender(
        build_backend(config), title, config, retriever, Domain.for_dataset(context.dataset)
    )


def _no_factory(name: str, config: Any, context: ModelContext) -> Recommender:
    raise RuntimeError("a loaded LLM ranker has its retriever")
