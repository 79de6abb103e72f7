"""The LLM ranker: prompt a generative model with the history and candidates, parse, fuse.

It is a :class:`~lmrec.core.recommender.Recommender` whose ``score`` ranks the batch's candidates (the
candidate protocols give them) or, for full ranking, the top ``n_candidates`` of a retriever (any
lmrec model), placing everything else below in the retriever's order. With ``passes > 1`` each pass
shows the candidates in a different random order and the passes are fused by Borda count, which
controls for position bias (Hou et al., ECIR 2024, "bootstrapping").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from lmrec.core.fitted import FittedModel, FittedState
from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Interactions
from lmrec.index.topk import top_k
from lmrec.llm.backends import Completion, GenerationParams, LLMBackend
from lmrec.llm.parsing import parse_ranking
from lmrec.llm.prompts import Domain, PromptTemplate
from lmrec.protocols.base import EvalCases

NIR_STEPS = ("nir_preferences", "nir_representative", "nir_recommend")


class LLMRankConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(
        "sequential",
        description="Built-in template name or a file path; 'nir' runs NIR's three prompts "
        "(preferences → representative items → ranking) per user.",
    )
    max_history: int = Field(50, ge=1, description="Titles of the last N history items.")
    passes: int = Field(1, ge=1, description="Shuffled passes fused by Borda count.")
    n_candidates: int = Field(20, ge=1, description="Full ranking: re-rank the retriever's top N.")
    seed: int = 0
    temperature: float = Field(0.0, ge=0.0)
    max_tokens: int = Field(300, ge=1)


@dataclass
class RankStats:
    """What the ranker saw in the replies, summed over prompts."""

    prompts: int = 0
    failed: int = 0
    named: int = 0
    hallucinated: int = 0
    duplicates: int = 0
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "examples"}


class LLMRanker(FittedModel):
    name: ClassVar[str] = "llm"

    def __init__(
        self,
        backend: LLMBackend,
        title: Callable[[str], str],
        config: LLMRankConfig | None = None,
        retriever: Recommender | None = None,
        domain: Domain | None = None,
    ) -> None:
        self.backend = backend
        self.title = title
        self.config = config or LLMRankConfig()
        self.retriever = retriever
        self.domain = domain or Domain()
        names = NIR_STEPS if self.config.template == "nir" else (self.config.template,)
        self.templates = [PromptTemplate.load(name) for name in names]
        self.stats = RankStats()
        self._unfitted_retriever_train: Interactions | None = None  # set until it is fitted

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> LLMRanker:
        """Keeps the vocabularies; the retriever is fitted on ``train`` when a batch without
        candidates first needs it (candidate protocols never do)."""
        self._state = FittedState.from_train(train)
        self._unfitted_retriever_train = train
        return self

    def run_label(self, name: str) -> str:
        """The registered name with the LLM's own, e.g. ``llm (gpt-4o)``."""
        return f"{name} ({self.backend.model})"

    def fitted_retriever(self) -> Recommender:
        """The retriever, fitted on the training data (full ranking's candidates)."""
        if self.retriever is None:
            raise ValueError("full ranking with the LLM ranker needs a retriever for candidates")
        self.fitted_state()
        if self._unfitted_retriever_train is not None:
            self.retriever.fit(self._unfitted_retriever_train)
            self._unfitted_retriever_train = None
        return self.retriever

    def order(self, history: Sequence[int], candidates: Sequence[int]) -> list[int]:
        """Candidates (item indices) best first, fused over the configured passes."""
        return self.orders([history], np.asarray([candidates], dtype=np.int32))[0]

    def orders(
        self, histories: Sequence[Sequence[int]], candidates: npt.NDArray[np.int32]
    ) -> list[list[int]]:
        vocab = self.fitted_state().item_vocab
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        n, c = candidates.shape
        points = np.zeros((n, c), dtype=np.float64)
        params = GenerationParams(cfg.temperature, cfg.max_tokens, seed=cfg.seed)
        for _ in range(cfg.passes):
            shown = [rng.permutation(c) if cfg.passes > 1 else np.arange(c) for _ in range(n)]
            prompts, titles, hists = [], [], []
            for row in range(n):
                cand_titles = [self.title(vocab.ids[candidates[row, j]]) for j in shown[row]]
                hist = [self.title(vocab.ids[i]) for i in list(histories[row])[-cfg.max_history :]]
                prompts.append(self.templates[0].render(hist, cand_titles, self.domain))
                titles.append(cand_titles)
                hists.append(hist)
            replies = self._ask(prompts, hists, titles, params)
            for row, reply in enumerate(replies):
                parsed = parse_ranking(reply.text, titles[row])
                self._count(reply.text, reply.error, parsed)
                for rank, position in enumerate(parsed.order):
                    points[row, shown[row][position]] += c - rank
        # Borda fusion; ties keep the order the candidates came in (the retriever's order)
        best = np.argsort(-points, axis=1, kind="stable")
        return [candidates[row, best[row]].tolist() for row in range(n)]

    def _ask(
        self,
        prompts: list[str],
        hists: list[list[str]],
        titles: list[list[str]],
        params: GenerationParams,
    ) -> list[Completion]:
        """One prompt per user, or NIR's chain: each step's reply goes into the next prompt."""
        replies = self.backend.complete(prompts, params)
        if len(self.templates) == 1:
            return replies
        preferences = [r.text.strip() for r in replies]
        step2 = [
            self.templates[1].render(h, c, self.domain, preferences=p)
            for h, c, p in zip(hists, titles, preferences, strict=True)
        ]
        representative = [r.text.strip() for r in self.backend.complete(step2, params)]
        step3 = [
            self.templates[2].render(h, c, self.domain, preferences=p, representative=r)
            for h, c, p, r in zip(hists, titles, preferences, representative, strict=True)
        ]
        return self.backend.complete(step3, params)

    def _count(self, text: str, error: str | None, parsed: Any) -> None:
        s = self.stats
        s.prompts += 1
        s.failed += error is not None
        s.named += parsed.named
        s.hallucinated += len(parsed.hallucinated)
        s.duplicates += parsed.duplicates
        if len(s.examples) < 3:
            s.examples.append(text[:500])

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        n_items = len(self.fitted_state().item_vocab)
        n = len(batch)
        out = np.full((n, n_items), -1e6, dtype=np.float32)
        candidates = batch.candidates
        if candidates is None:
            base = np.array(self.fitted_retriever().score(batch), dtype=np.float32)
            # history items are not worth a slot in the prompt
            base[batch.histories.row_ids(), batch.histories.items] = -np.inf
            order = top_k(base, n_items)
            ranks = np.empty_like(order)
            np.put_along_axis(ranks, order, np.arange(n_items)[None, :], axis=1)
            out = (-ranks - self.config.n_candidates).astype(np.float32)
            candidates = order[:, : self.config.n_candidates].astype(np.int32)
        histories = [batch.histories[row].tolist() for row in range(n)]
        for row, ordered in enumerate(self.orders(histories, candidates)):
            c = len(ordered)
            out[row, ordered] = np.arange(c, 0, -1, dtype=np.float32)
        return out
