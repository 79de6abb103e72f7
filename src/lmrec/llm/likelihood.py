"""Ranking by likelihood: no text is generated, so every answer is valid and deterministic.

- **By title**: the prompt tells the history as a story that the next item's title continues
  (built-in template ``next_item``); each candidate is scored by the mean log-probability of its
  title's tokens. Optionally calibrated: the same title's score after a prompt with no history is
  subtracted (pointwise mutual information), which removes what the model thinks of the title on
  its own.
- **By index** (LlamaRec's verbalizer, Yue et al. 2023): the candidates are listed with numbers
  as in the generation prompts and the answer is begun with ``[``; each candidate is scored by the
  log-probability of its number and the closing bracket.

The backend runs the prompt once and the candidates in batches on its key/value cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmrec.llm.backends import ScoresContinuations


def _order(scores: Sequence[float]) -> tuple[int, ...]:
    # best first; ties keep the order shown (the retriever's order under full ranking)
    return tuple(int(i) for i in np.argsort(-np.asarray(scores), kind="stable"))


def title_scores(
    backend: ScoresContinuations,
    prompt: str,
    titles: Sequence[str],
    null_prompt: str | None = None,
    raw: bool = True,
) -> list[float]:
    prompt = prompt.rstrip()  # the titles continue the last line
    null_prompt = null_prompt.rstrip() if null_prompt is not None else None
    continuations = [f" {t}" for t in titles]
    scores = [float(s.mean()) for s in backend.continuation_scores(prompt, continuations, raw=raw)]
    if null_prompt is not None:
        prior = backend.continuation_scores(null_prompt, continuations, raw=raw)
        scores = [s - float(p.mean()) for s, p in zip(scores, prior, strict=True)]
    return scores


def title_order(
    backend: ScoresContinuations,
    prompt: str,
    titles: Sequence[str],
    null_prompt: str | None = None,
    raw: bool = True,
) -> tuple[int, ...]:
    """Positions into ``titles``, the likeliest next title first. ``raw``: the prompt as plain
    text, without a chat model's template (the story is a text to continue, not a question)."""
    return _order(title_scores(backend, prompt, titles, null_prompt, raw))


def index_order(backend: ScoresContinuations, prompt: str, n: int) -> tuple[int, ...]:
    """Positions ``0..n-1``, the likeliest candidate number first."""
    numbers = [f"{i}]" for i in range(1, n + 1)]
    scores = backend.continuation_scores(prompt, numbers, answer_prefix="[")
    return _order([float(s.sum()) for s in scores])
