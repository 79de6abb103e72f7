"""Ranking by likelihood: no text is generated, so every answer is valid and deterministic.

- **By title**: the prompt tells the history as a story that the next item's title continues
  (built-in template ``next_item``); each candidate is scored by its title tokens'
  log-probabilities (:class:`TitleScorer`), partly calibrated against the same title after no
  history, which discounts what the model thinks of the title on its own.
- **By index** (LlamaRec's verbalizer, Yue et al. 2023): the candidates are listed with numbers
  as in the generation prompts and the answer is begun with ``[``; each candidate is scored by the
  log-probability of its number and the closing bracket.

The backend runs the prompt once and the candidates in batches on its key/value cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lmrec.llm.runtime.backends import ScoresContinuations


def _order(scores: Sequence[float]) -> tuple[int, ...]:
    # best first; ties keep the order shown (the retriever's order under full ranking)
    return tuple(int(i) for i in np.argsort(-np.asarray(scores), kind="stable"))


class TitleScorer:
    """Scores titles as continuations of a story prompt.

    A title's score is the sum of its tokens' log-probabilities divided by
    ``tokens ** length_norm`` (1: the mean, 0: the sum), minus ``calibrate`` times the same
    score after the prompt with no history (the title's prior; remembered per title, since that
    prompt is the same for every user). Defaults chosen on ML-1M validation users, never on a
    test file (see the LLM results page).
    """

    def __init__(
        self,
        backend: ScoresContinuations,
        null_prompt: str,
        length_norm: float = 0.5,
        calibrate: float = 0.5,
        raw: bool = True,
    ) -> None:
        self.backend = backend
        self.null_prompt = null_prompt.rstrip()
        self.length_norm = length_norm
        self.calibrate = calibrate
        self.raw = raw
        self._prior: dict[str, float] = {}

    def _aggregate(self, logprobs: npt.NDArray[np.float32]) -> float:
        return float(logprobs.sum()) / float(max(len(logprobs), 1) ** self.length_norm)

    def _raw_scores(self, prompt: str, titles: Sequence[str]) -> list[float]:
        continuations = [f" {t}" for t in titles]  # the titles continue the prompt's last line
        found = self.backend.continuation_scores(prompt.rstrip(), continuations, raw=self.raw)
        return [self._aggregate(s) for s in found]

    def scores(self, prompt: str, titles: Sequence[str]) -> list[float]:
        out = self._raw_scores(prompt, titles)
        if not self.calibrate:
            return out
        missing = [t for t in dict.fromkeys(titles) if t not in self._prior]
        if missing:
            self._prior.update(
                zip(missing, self._raw_scores(self.null_prompt, missing), strict=True)
            )
        return [s - self.calibrate * self._prior[t] for s, t in zip(out, titles, strict=True)]

    def order(self, prompt: str, titles: Sequence[str]) -> tuple[int, ...]:
        """Positions into ``titles``, the likeliest next title first."""
        return _order(self.scores(prompt, titles))


def index_order(backend: ScoresContinuations, prompt: str, n: int) -> tuple[int, ...]:
    """Positions ``0..n-1``, the likeliest candidate number first."""
    numbers = [f"{i}]" for i in range(1, n + 1)]
    scores = backend.continuation_scores(prompt, numbers, answer_prefix="[")
    return _order([float(s.sum()) for s in scores])
