"""A GGUF model run in-process by llama.cpp (``pip install llama-cpp-python``; it builds from
source, about 10 minutes).

Measured on one CPU thread with SmolLM2-135M (Q4_1): llama.cpp generates about 4× faster than
torch (100 vs 25 tokens/s), while torch reads a prompt about 3× faster (250 vs 90 tokens/s).
So lmrec's likelihood ranking stays on torch (:class:`~lmrec.llm.runtime.local_backend.LocalBackend`),
and free or constrained generation may use this backend (``runtime = "llama-cpp"``). The chat
template comes from the GGUF's metadata; a model without one (a base model) gets plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from lmrec.errors import BackendError
from lmrec.llm.runtime.backends import Completion, GenerationParams, Usage
from lmrec.llm.runtime.cache import ResponseCache, cache_key
from lmrec.llm.runtime.causal_lm import default_threads
from lmrec.llm.runtime.local_backend import LABEL, SEPARATOR, ConstrainedReplies
from lmrec.llm.runtime.locate import LocalModel


class LlamaCppBackend(ConstrainedReplies):
    """Generation and constrained ranking through ``llama_cpp.Llama``."""

    def __init__(
        self,
        model: LocalModel,
        threads: int | None = None,
        context: int = 2048,
        cache: ResponseCache | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError(
                "runtime 'llama-cpp' needs llama-cpp-python: pip install llama-cpp-python "
                "(builds llama.cpp from source; needs cmake and a C++ compiler)"
            ) from exc
        path = model.path
        if model.gguf_file is None or path is None:
            raise BackendError(f"runtime 'llama-cpp' loads .gguf files; {model.source} is not one")
        self.spec = model
        self.model = model.name
        try:
            self.llama: Any = Llama(
                model_path=str(path),
                n_threads=threads or default_threads(),
                n_ctx=context,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"llama.cpp cannot load {path}: {exc}") from None
        template = self.llama.metadata.get("tokenizer.chat_template")
        self.chat = bool(template) and model.base is not True
        self.cache = cache
        self.usage = Usage()

    @property
    def identity(self) -> str:
        return f"llama-cpp:{self.spec.path}#chat={self.chat}"

    @property
    def context_length(self) -> int:
        return int(self.llama.n_ctx())

    def _prompt_text(self, prompt: str) -> str:
        if not self.chat:
            return prompt
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llama.metadata["tokenizer.chat_template"]
        eos = self.llama.detokenize([self.llama.token_eos()]).decode("utf-8", "replace")
        formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token="")
        result = formatter(messages=[{"role": "user", "content": prompt}])
        return str(result.prompt)

    def _ids(self, text: str, continuation: bool = False) -> list[int]:
        """A prompt's tokens (with BOS, special tokens read), or a continuation's (plain)."""
        data = text.encode("utf-8")
        tokens = self.llama.tokenize(data, add_bos=not continuation, special=not continuation)
        return [int(t) for t in tokens]

    def count_tokens(self, prompt: str) -> int:
        return len(self._ids(self._prompt_text(prompt)))

    def complete(
        self, prompts: Sequence[str], params: GenerationParams | None = None
    ) -> list[Completion]:
        p = params or GenerationParams()
        out = []
        for prompt in prompts:
            key = cache_key(self.identity, asdict(p), prompt)
            if (hit := self._cached(key)) is not None:
                out.append(hit)
                continue
            text = self._prompt_text(prompt)
            n = len(self._ids(text))
            if n + p.max_tokens > self.context_length:
                completion = Completion(
                    "", n, error=f"prompt over the context of {self.context_length}"
                )
            else:
                reply = self.llama.create_completion(
                    text, max_tokens=p.max_tokens, temperature=p.temperature, seed=p.seed or 0
                )
                usage = reply.get("usage") or {}
                generated = str(reply["choices"][0]["text"])
                completion = Completion(
                    generated,
                    int(usage.get("prompt_tokens", n)),
                    int(usage.get("completion_tokens", 0)),
                    error=None if generated.strip() else "empty reply",
                )
            self._store(key, completion)
            out.append(completion)
        return out

    def _logprobs(self) -> Any:
        logits = np.asarray(self.llama.scores[self.llama.n_tokens - 1], dtype=np.float32)
        return logits - np.logaddexp.reduce(logits)

    def _step(self, token: int) -> Any:
        self.llama.eval([token])
        return self._logprobs()

    def rank_constrained(
        self, prompts: Sequence[str], sizes: Sequence[int], answer_prefix: str = ""
    ) -> list[Completion]:
        from lmrec.llm.runtime.constrained import constrained_order

        def decode(prompt: str, n: int) -> tuple[list[int], int, int]:
            prefix = self._ids(self._prompt_text(prompt) + answer_prefix)
            self.llama.reset()
            self.llama.eval(prefix)
            labels = [self._ids(LABEL.format(i), continuation=True) for i in range(1, n + 1)]
            separator = self._ids(SEPARATOR, continuation=True)
            order, steps = constrained_order(self._logprobs(), self._step, labels, separator)
            return order, len(prefix), steps

        return self._constrained(prompts, sizes, answer_prefix, decode)
