"""The LLM ranker: prompt a language model with the history and candidates, read its answer, fuse.

Three ways to read an answer (``method``): ``generate`` (free text, parsed), ``constrained`` (a
reply that can only name each candidate number once) and ``likelihood`` (no generation: each
candidate scored by the model's log-probability of its title, or of its number, after the prompt;
see :mod:`lmrec.llm.ranking.likelihood`).

It is a :class:`~lmrec.core.recommender.Recommender` whose ``score`` ranks the batch's candidates (the
candidate protocols give them) or, for full ranking, the top ``n_candidates`` of a retriever (any
lmrec model), placing everything else below in the retriever's order. With ``passes > 1`` each pass
shows the candidates in a different random order and the passes are fused by Borda count, which
controls for position bias (Hou et al., ECIR 2024, "bootstrapping").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field, field_validator

from lmrec.core.coverage import scorable_items
from lmrec.core.fitted import FittedModel, FittedState
from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Interactions
from lmrec.errors import ConfigError
from lmrec.llm.ranking.candidates import unseen_order
from lmrec.llm.ranking.likelihood import TitleScorer, index_order
from lmrec.llm.ranking.parsing import ParsedRanking, parse_ranking
from lmrec.llm.ranking.prompts import Domain, PromptTemplate
from lmrec.llm.ranking.titles import format_fields
from lmrec.llm.runtime.backends import (
    Completion,
    ConstrainedRanking,
    CountsTokens,
    GenerationParams,
    LLMBackend,
    ScoresContinuations,
)
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings

NIR_STEPS = ("nir_preferences", "nir_representative", "nir_recommend")
CHUNK = 32  # users per call to the backend (an HTTP backend sends them concurrently)


class LLMRankConfig(Settings):
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
    method: Literal["generate", "constrained", "likelihood"] = Field(
        "generate",
        description="generate: free reply, parsed; constrained: a reply naming each candidate "
        "number once (local models and servers with JSON schemas); likelihood: no reply, each "
        "candidate scored by the model's log-probability (local models).",
    )
    score_by: Literal["title", "index"] = Field(
        "title",
        description="likelihood: score each candidate's title after likelihood_template, or its "
        "number after template's prompt.",
    )
    likelihood_template: str = Field(
        "next_item", description="likelihood by title: the prompt the titles continue."
    )
    length_norm: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="likelihood by title: a title's score is the sum of its tokens' "
        "log-probabilities over (tokens ** length_norm); 1 = mean, 0 = sum.",
    )
    calibrate: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="likelihood by title: subtract this share of the title's score after no "
        "history (1 = pointwise mutual information, 0 = none).",
    )
    title_format: str | None = Field(
        None,
        description="How a prompt writes an item: placeholders over the catalogue's fields, e.g. "
        "'{movie_title} ({release_year})' (None: the catalogue's title).",
    )
    natural_titles: bool = Field(
        False,
        description="Move a title's trailing article to the front ('Usual Suspects, The' → "
        "'The Usual Suspects'), as MovieLens writes them.",
    )
    chat_template: bool = Field(
        False,
        description="likelihood by title: wrap the story in a chat model's template (off: plain "
        "text to continue).",
    )

    @field_validator("title_format")
    @classmethod
    def _placeholders(cls, value: str | None) -> str | None:
        # the fields are checked against the catalogue when the ranker is built
        if value is not None:
            format_fields(value)  # a malformed or nameless placeholder: ConfigError (ValueError)
        return value


@dataclass
class RankStats:
    """What the ranker saw in the replies, summed over prompts."""

    prompts: int = 0
    failed: int = 0
    full: int = 0  # replies that ranked every candidate
    partial: int = 0
    none: int = 0  # replies that named no candidate
    echoed: int = 0  # full replies that repeat the shown order
    named: int = 0
    hallucinated: int = 0
    duplicates: int = 0
    truncated: int = 0  # history items dropped to fit the context
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "examples"}

    def line(self) -> str:
        """One line for a report."""
        return (
            f"replies {self.prompts}: full {self.full}, partial {self.partial}, none {self.none} "
            f"(echo of the shown order {self.echoed}, failed calls {self.failed}) · "
            f"{self.hallucinated} invented and {self.duplicates} repeated items dropped · "
            f"{self.truncated} history items dropped for the context"
        )


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
        if self.config.method != "generate":
            self._check_backend()
        self.title_template = PromptTemplate.load(self.config.likelihood_template)
        self.stats = RankStats()
        self._unfitted_retriever_train: Interactions | None = None  # set until it is fitted

    def _check_backend(self) -> None:
        method = self.config.method
        need = ScoresContinuations if method == "likelihood" else ConstrainedRanking
        if not isinstance(self.backend, need):
            raise ConfigError(
                f"method {method!r} needs a backend that {'scores continuations' if method == 'likelihood' else 'decodes under a constraint'}: "
                "a local model (--llm NAME|PATH)"
                + ("" if method == "likelihood" else " or an OpenAI-compatible endpoint")
            )
        if len(self.templates) > 1:
            raise ConfigError(f"method {method!r} takes one prompt; NIR's chain only generates")

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> LLMRanker:
        """Keeps the vocabularies; the retriever is fitted on ``train`` when a batch without
        candidates first needs it (candidate protocols never do)."""
        self._state = FittedState.from_train(train)
        self._unfitted_retriever_train = train
        return self

    def scorable_items(self) -> npt.NDArray[np.bool_]:
        """The LM reads every item's title; over the whole catalogue it sees only what its
        retriever can find."""
        n = len(self.fitted_state().item_vocab)
        mask = None if self.retriever is None else scorable_items(self.fitted_retriever())
        return np.ones(n, dtype=bool) if mask is None else mask

    def run_label(self, name: str) -> str:
        """The registered name with the LLM's own, e.g. ``llm (gpt-4o)``."""
        return f"{name} ({self.backend.model})"

    def fitted_retriever(self) -> Recommender:
        """The retriever, fitted on the training data (full ranking's candidates)."""
        if self.retriever is None:
            raise ConfigError("full ranking with the LLM ranker needs a retriever for candidates")
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
        title_only = cfg.method == "likelihood" and cfg.score_by == "title"
        passes = 1 if title_only else cfg.passes  # the title prompt shows no candidates
        from tqdm.auto import tqdm

        bar = tqdm(total=n * passes, desc=f"llm {cfg.method}", unit="prompt", disable=n < 2)
        for _ in range(passes):
            shown = [rng.permutation(c) if passes > 1 else np.arange(c) for _ in range(n)]
            hists, titles = [], []
            for row in range(n):
                titles.append([self.title(vocab.ids[candidates[row, j]]) for j in shown[row]])
                hists.append(
                    [self.title(vocab.ids[i]) for i in list(histories[row])[-cfg.max_history :]]
                )
            for start in range(0, n, CHUNK):  # in chunks, so the progress bar moves
                rows = slice(start, start + CHUNK)
                for row, ranked in enumerate(self._rank(hists[rows], titles[rows]), start):
                    for rank, position in enumerate(ranked):
                        points[row, shown[row][position]] += c - rank
                bar.update(len(hists[rows]))
        bar.close()
        # Borda fusion; ties keep the order the candidates came in (the retriever's order)
        best = np.argsort(-points, axis=1, kind="stable")
        return [candidates[row, best[row]].tolist() for row in range(n)]

    def _fit_context(self, template: PromptTemplate, hist: list[str], titles: list[str]) -> str:
        """The prompt, with the oldest history dropped until it fits the model's context."""
        prompt = template.render(hist, titles, self.domain)
        if not isinstance(self.backend, CountsTokens):
            return prompt
        reserve = self.config.max_tokens if self.config.method == "generate" else 8 * len(titles)
        budget = self.backend.context_length - reserve
        while len(hist) > 1 and self.backend.count_tokens(prompt) > budget:
            hist = hist[1:]
            self.stats.truncated += 1
            prompt = template.render(hist, titles, self.domain)
        return prompt

    def _rank(self, hists: list[list[str]], titles: list[list[str]]) -> list[tuple[int, ...]]:
        """Per row, positions into its ``titles``, best first, by the configured method."""
        cfg = self.config
        backend = self.backend
        if cfg.method == "likelihood":
            assert isinstance(backend, ScoresContinuations)
            if cfg.score_by == "index":
                return [
                    index_order(backend, self._fit_context(self.templates[0], h, t), len(t))
                    for h, t in zip(hists, titles, strict=True)
                ]
            scorer = TitleScorer(
                backend,
                self.title_template.render([], [], self.domain),
                cfg.length_norm,
                cfg.calibrate,
                raw=not cfg.chat_template,
            )
            return [
                scorer.order(self._fit_context(self.title_template, h, []), t)
                for h, t in zip(hists, titles, strict=True)
            ]
        prompts = [
            self._fit_context(self.templates[0], h, t) for h, t in zip(hists, titles, strict=True)
        ]
        if cfg.method == "constrained":
            assert isinstance(backend, ConstrainedRanking)
            replies = backend.rank_constrained(prompts, [len(t) for t in titles])
        else:
            params = GenerationParams(cfg.temperature, cfg.max_tokens, seed=cfg.seed)
            replies = self._ask(prompts, hists, titles, params)
        out = []
        for reply, shown in zip(replies, titles, strict=True):
            parsed = parse_ranking(reply.text, shown)
            self._count(reply.text, reply.error, parsed, len(shown))
            out.append(parsed.order)
        return out

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

    def _count(self, text: str, error: str | None, parsed: ParsedRanking, n: int) -> None:
        s = self.stats
        s.prompts += 1
        s.failed += error is not None
        s.full += parsed.named == n
        s.partial += 0 < parsed.named < n
        s.none += parsed.named == 0
        s.echoed += parsed.named == n and parsed.order == tuple(range(n))
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
            order = unseen_order(self.fitted_retriever(), batch)
            ranks = np.empty_like(order)
            np.put_along_axis(ranks, order, np.arange(n_items)[None, :], axis=1)
            out = (-ranks - self.config.n_candidates).astype(np.float32)
            candidates = order[:, : self.config.n_candidates].astype(np.int32)
        histories = [batch.histories[row].tolist() for row in range(n)]
        widths = (candidates >= 0).sum(axis=1)  # rows of a general candidate set pad with -1
        for width in np.unique(widths):
            rows = np.flatnonzero(widths == width)
            if not width:
                continue
            same = np.stack([candidates[r][candidates[r] >= 0] for r in rows])
            ordered = self.orders([histories[r] for r in rows], same)
            for row, items in zip(rows, ordered, strict=True):
                out[row, items] = np.arange(len(items), 0, -1, dtype=np.float32)
        return out
