"""One backend configuration and one factory: every command that needs a language model (the
ranker, ``explain``, ``serve``'s "why?" texts, ``llm serve``) builds it here, with the response
cache, from a local model (``llm``) or an OpenAI-compatible endpoint (``endpoint`` + ``model``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from lmrec.llm.runtime.backends import LLMBackend
from lmrec.settings import Settings


class BackendConfig(Settings):
    """Where the language model runs. Give exactly one of ``endpoint`` (with ``model``) and
    ``llm``."""

    model_config = ConfigDict(extra="forbid")

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

    @model_validator(mode="after")
    def _one_backend(self) -> BackendConfig:
        if (self.endpoint is None) == (self.llm is None):
            raise ValueError("give exactly one of --endpoint URL (with --model) or --llm NAME|PATH")
        if self.endpoint is not None and not self.model:
            raise ValueError("--endpoint needs --model (the model name the server serves)")
        return self


def build_backend(config: BackendConfig) -> LLMBackend:
    """The configured backend, with the persistent response cache."""
    from lmrec.llm.runtime.backends import OpenAICompatibleBackend
    from lmrec.llm.runtime.cache import ResponseCache
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
    from lmrec.llm.runtime.locate import resolve_llm

    if config.runtime == "llama-cpp":
        from lmrec.llm.runtime.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(resolve_llm(str(config.llm)), config.threads, config.context, cache)
    from lmrec.llm.runtime.local_backend import LocalBackend

    return LocalBackend(
        resolve_llm(str(config.llm)),
        threads=config.threads,
        context=config.context,
        cache=cache,
        weights_cache=folder,
    )
