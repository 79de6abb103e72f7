"""The in-process backend: a local model (GGUF, folder or hub name) run by torch.

Besides :class:`~lmrec.llm.runtime.backends.LLMBackend`'s ``complete`` it offers what only a model in
the same process can: the likelihood of continuations (:class:`ScoresContinuations`), replies
decoded under a constraint (:class:`ConstrainedRanking`) and token counts (:class:`CountsTokens`).
Every answer is cached like the HTTP backend's, keyed by the model's name and file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.llm.runtime.backends import CachedReplies, Completion, GenerationParams, Usage
from lmrec.llm.runtime.cache import ResponseCache, cache_key
from lmrec.llm.runtime.causal_lm import CausalLM
from lmrec.llm.runtime.locate import LocalModel

#: the reply format constrained decoding writes: one ``[number]`` per line
LABEL = "[{}]"
SEPARATOR = "\n"


class ConstrainedReplies(CachedReplies):
    """The cached constrained replies shared by the in-process backends."""

    def _constrained(
        self,
        prompts: Sequence[str],
        sizes: Sequence[int],
        answer_prefix: str,
        decode: Callable[[str, int], tuple[list[int], int, int]],
    ) -> list[Completion]:
        """Cached constrained replies; ``decode(prompt, n)`` gives (order, prompt tokens, steps)."""
        out = []
        for prompt, n in zip(prompts, sizes, strict=True):
            key = cache_key(self.identity, {"constrained": n, "prefix": answer_prefix}, prompt)
            if (hit := self._cached(key)) is None:
                order, prompt_tokens, steps = decode(prompt, n)
                text = SEPARATOR.join(LABEL.format(i + 1) for i in order)
                hit = Completion(text, prompt_tokens, steps)
                self._store(key, hit)
            out.append(hit)
        return out


class LocalBackend(ConstrainedReplies):
    """A :class:`CausalLM` behind the backend protocols. Load errors raise (a model that cannot
    load is a configuration error); a failed generation becomes a failed :class:`Completion`."""

    def __init__(
        self,
        model: LocalModel,
        threads: int | None = None,
        context: int = 2048,
        batch_size: int = 4,
        cache: ResponseCache | None = None,
        weights_cache: Path | None = None,
    ) -> None:
        self.lm = CausalLM(model, threads=threads, context=context, cache_dir=weights_cache)
        self.model = model.name
        self.batch_size = max(1, batch_size)
        self.cache = cache
        self.usage = Usage()

    @property
    def identity(self) -> str:
        return f"local:{self.lm.spec.source}/{self.lm.spec.gguf_file or ''}#chat={self.lm.chat}"

    @property
    def context_length(self) -> int:
        return self.lm.context_length

    def count_tokens(self, prompt: str) -> int:
        return self.lm.count_tokens(prompt)

    def complete(
        self, prompts: Sequence[str], params: GenerationParams | None = None, raw: bool = False
    ) -> list[Completion]:
        """Generated replies; ``raw`` leaves out a chat model's template (plain continuation)."""
        p = params or GenerationParams()
        settings = {**asdict(p), "raw": True} if raw else asdict(p)
        keys = [cache_key(self.identity, settings, prompt) for prompt in prompts]
        out: list[Completion | None] = [self._cached(key) for key in keys]
        todo = [i for i, c in enumerate(out) if c is None]
        for start in range(0, len(todo), self.batch_size):
            rows = todo[start : start + self.batch_size]
            done = self._generate([prompts[i] for i in rows], p, raw)
            for i, completion in zip(rows, done, strict=True):
                out[i] = completion
                self._store(keys[i], completion)
        return [c if c is not None else Completion("", error="not generated") for c in out]

    def _generate(self, prompts: list[str], p: GenerationParams, raw: bool) -> list[Completion]:
        rows = [self.lm.prompt_ids(x, raw=raw) for x in prompts]  # tokenized once
        too_long = [len(r) + p.max_tokens > self.context_length for r in rows]
        fits = [r for r, long in zip(rows, too_long, strict=True) if not long]
        try:
            seed = p.seed or 0
            done = iter(self.lm.generate(fits, p.max_tokens, p.temperature, seed) if fits else [])
        except (RuntimeError, ValueError, IndexError) as exc:
            return [Completion("", error=f"generation failed: {exc}") for _ in prompts]
        out = []
        for long in too_long:
            if long:
                out.append(
                    Completion("", error=f"prompt over the context of {self.context_length}")
                )
                continue
            g = next(done)
            error = None if g.text.strip() else "empty reply"
            out.append(Completion(g.text, g.prompt_tokens, g.completion_tokens, error=error))
        return out

    def rank_constrained(
        self, prompts: Sequence[str], sizes: Sequence[int], answer_prefix: str = ""
    ) -> list[Completion]:
        """Replies that name every candidate number once (``[3]`` per line), by construction."""

        def decode(prompt: str, n: int) -> tuple[list[int], int, int]:
            prefix = self.lm.prompt_ids(prompt, answer_prefix)
            labels = [self.lm.encode(LABEL.format(i)) for i in range(1, n + 1)]
            order, steps = self.lm.choose_order(prefix, labels, self.lm.encode(SEPARATOR))
            return order, len(prefix), steps

        return self._constrained(prompts, sizes, answer_prefix, decode)

    def continuation_scores(
        self, prompt: str, continuations: Sequence[str], answer_prefix: str = "", raw: bool = False
    ) -> list[npt.NDArray[np.float32]]:
        """Per continuation, its tokens' log-probabilities after the prompt (and answer prefix);
        ``raw`` leaves out a chat model's template."""
        settings = {"score": list(continuations), "prefix": answer_prefix, "raw": raw}
        key = cache_key(self.identity, settings, prompt)
        if (hit := self._cached(key)) is not None:
            return [np.asarray(v, dtype=np.float32) for v in json.loads(hit.text)]
        prefix = self.lm.prompt_ids(prompt, answer_prefix, raw)
        tokens = [self.lm.encode(c) for c in continuations]
        scores = self.lm.continuation_logprobs(prefix, tokens)
        text = json.dumps([[round(float(x), 5) for x in s] for s in scores])
        self._store(key, Completion(text, len(prefix) + sum(map(len, tokens)), 0))
        return scores
