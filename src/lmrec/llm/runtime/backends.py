"""Generative LLM backends: the protocols, and an OpenAI-compatible HTTP client.

The in-process backend (a local GGUF or Hugging Face model) is
:class:`lmrec.llm.runtime.local_backend.LocalBackend`.

A backend turns prompts into :class:`Completion` objects and never raises for a failed call: the
completion carries the error instead, so a ranking pipeline can fall back (to the retriever's
order) and report how many calls failed.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from lmrec.llm.runtime.cache import ResponseCache, cache_key


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.0
    max_tokens: int = 300
    top_p: float = 1.0
    seed: int | None = 0


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None


@dataclass
class Usage:
    """Running totals of one backend (thread-safe updates through :meth:`add`)."""

    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}


@runtime_checkable
class LLMBackend(Protocol):
    """One role: complete prompts."""

    model: str
    usage: Usage

    def complete(
        self, prompts: Sequence[str], params: GenerationParams | None = None
    ) -> list[Completion]: ...


@runtime_checkable
class ConstrainedRanking(Protocol):
    """A backend that can reply with every candidate number exactly once (``[3]`` per line)."""

    def rank_constrained(
        self, prompts: Sequence[str], sizes: Sequence[int], answer_prefix: str = ""
    ) -> list[Completion]: ...


@runtime_checkable
class ScoresContinuations(Protocol):
    """A backend that returns the log-probability of each token of each continuation."""

    def continuation_scores(
        self, prompt: str, continuations: Sequence[str], answer_prefix: str = "", raw: bool = False
    ) -> list[npt.NDArray[np.float32]]: ...


@runtime_checkable
class CountsTokens(Protocol):
    """A backend that knows its tokenizer and context window."""

    @property
    def context_length(self) -> int: ...

    def count_tokens(self, prompt: str) -> int: ...


def ranking_schema(n: int) -> dict[str, Any]:
    """JSON schema of a full ranking of ``n`` numbered candidates: each number once."""
    numbers = {"type": "integer", "minimum": 1, "maximum": n}
    ranking = {"type": "array", "items": numbers, "minItems": n, "maxItems": n, "uniqueItems": True}
    return {
        "type": "object",
        "properties": {"ranking": ranking},
        "required": ["ranking"],
        "additionalProperties": False,
    }


class RetryableError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CachedReplies:
    """Usage counting and the response cache, shared by every backend."""

    model: str
    usage: Usage
    cache: ResponseCache | None

    @property
    def identity(self) -> str:
        raise NotImplementedError

    def _cached(self, key: str) -> Completion | None:
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is None:
            return None
        self.usage.add(cache_hits=1)
        return Completion(hit[0], hit[1], hit[2], cached=True)

    def _store(self, key: str, completion: Completion, cost: float = 0.0) -> None:
        """Counts the call; caches it unless it failed (a failed or empty reply never is)."""
        self.usage.add(
            calls=1,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            failures=int(completion.error is not None),
            cost=cost,
        )
        if self.cache is not None and completion.error is None:
            self.cache.put(
                key,
                self.model,
                completion.text,
                completion.prompt_tokens,
                completion.completion_tokens,
            )


class OpenAICompatibleBackend(CachedReplies):
    """Chat completions over HTTP (vLLM, Ollama, llama.cpp server, hosted APIs).

    The API key is read from the environment variable ``api_key_env`` (none is sent when unset).
    HTTP 429 and 5xx, timeouts and connection errors are retried with exponential back-off
    (honouring ``Retry-After``); at most ``concurrency`` requests are in flight.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 1.0,
        concurrency: int = 4,
        cache: ResponseCache | None = None,
        price_per_1k: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = os.environ.get(api_key_env)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        self.cache = cache
        self.price_per_1k = price_per_1k
        self.usage = Usage()

    def complete(
        self, prompts: Sequence[str], params: GenerationParams | None = None
    ) -> list[Completion]:
        p = params or GenerationParams()
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda prompt: self._one(prompt, p), prompts))

    @property
    def identity(self) -> str:
        """What the cache keys on besides parameters and prompt: the server and its model, so
        another (or a fixed) server never replays this one's replies."""
        return f"{self.base_url}#{self.model}"

    def rank_constrained(
        self, prompts: Sequence[str], sizes: Sequence[int], answer_prefix: str = ""
    ) -> list[Completion]:
        """Asks for ``{"ranking": [numbers]}`` under a JSON schema (``response_format``, which
        vLLM, llama.cpp's server and OpenAI enforce); the reply is parsed like any other."""
        params = GenerationParams(max_tokens=8 * max(sizes, default=1) + 20)
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(
                pool.map(lambda p, n: self._one(p, params, ranking_schema(n)), prompts, sizes)
            )

    def _one(
        self, prompt: str, params: GenerationParams, schema: dict[str, Any] | None = None
    ) -> Completion:
        settings = asdict(params) if schema is None else {**asdict(params), "schema": schema}
        key = cache_key(self.identity, settings, prompt)
        if (hit := self._cached(key)) is not None:
            return hit
        error = ""
        for attempt in range(self.retries + 1):
            try:
                completion = self._request(prompt, params, schema)
            except RetryableError as exc:
                error = str(exc)
                if attempt == self.retries:
                    break
                self.usage.add(retries=1)
                delay = exc.retry_after or self.backoff * 2**attempt * (1 + random.random() / 4)
                time.sleep(min(delay, 60.0))
                continue
            except ValueError as exc:  # a reply we cannot read: not worth repeating
                error = str(exc)
                break
            if not completion.text.strip():  # a failure, not an answer: counted, never cached
                self._store(key, replace(completion, error="empty reply"))
                return Completion("", completion.prompt_tokens, error="empty reply")
            cost = (
                completion.prompt_tokens * self.price_per_1k[0]
                + completion.completion_tokens * self.price_per_1k[1]
            ) / 1000
            self._store(key, completion, cost)
            return completion
        failed = Completion("", error=error or "request failed")
        self._store(key, failed)
        return failed

    def _request(
        self, prompt: str, params: GenerationParams, schema: dict[str, Any] | None = None
    ) -> Completion:
        import urllib.error
        import urllib.request

        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "ranking", "strict": True, "schema": schema},
            }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode("utf-8"),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                wait = float(retry_after) if retry_after and retry_after.isdigit() else None
                raise RetryableError(f"HTTP {exc.code}", wait) from exc
            raise ValueError(f"HTTP {exc.code}: {exc.read()[:200]!r}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise RetryableError(f"connection failed: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"reply is not JSON: {exc}") from exc
        try:
            text = payload["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"reply has no choices[0].message.content: {payload!r:.200}") from exc
        usage = payload.get("usage") or {}
        return Completion(
            str(text), int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        )
