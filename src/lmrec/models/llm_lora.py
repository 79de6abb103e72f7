"""``llm-lora``: a LoRA-tuned local causal LM re-ranks a retriever's top items (LlamaRec's recipe).

The retriever's top ``depth`` unseen items are shown as lettered candidates after the user's
recent history; each candidate's score is the LM's logit of its letter at the answer position
(one forward pass per query). The adapter is trained on the validation cases whose target the
retriever put in its top ``depth`` (a share of them held out to pick the epoch), so test targets
are never seen. Cases whose target the retriever missed keep the retriever's ranking below the
re-ranked items. ``task=binary`` (TALLRec's yes/no preference) is trained by ``lmrec train`` and
scored by ``lmrec llm-score``; it does not rank items.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from lmrec.core.checkpoint import ModelLoader, load_state, save_member, save_state
from lmrec.core.coverage import scorable_items
from lmrec.core.fitted import FittedModel, FittedState, ModelContext, ModelFactory
from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Interactions
from lmrec.data.errors import DataError
from lmrec.errors import CheckpointError, ConfigError, NotFittedError
from lmrec.llm.lora.config import LlmLoraConfig
from lmrec.llm.lora.tuning import TunedLM
from lmrec.llm.ranking.candidates import unseen_order
from lmrec.protocols.base import EvalCases
from lmrec.training.trainer import TrainReport

LETTERS = string.ascii_uppercase


def rerank_prompt(history: list[str], candidates: list[str]) -> str:
    lines = ["A user's recent items, oldest first:"]
    lines += [f"- {t}" for t in history] or ["- (none)"]
    lines.append("Candidates:")
    lines += [f"{LETTERS[i]}. {t}" for i, t in enumerate(candidates)]
    lines.append("Which candidate will the user choose next? Answer with its letter.")
    return "\n".join(lines) + "\n"


def ndcg_at_10(ranks: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """NDCG@10 of one target at each 0-based rank."""
    return np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0)


def last_items(train: Interactions) -> tuple[EvalCases, Interactions]:
    """Each user's last training item as a case (users with at least two items), and the log
    without those items."""
    order = train.chronological_order()
    users = train.users[order]
    last = np.r_[users[1:] != users[:-1], True]
    first = np.r_[True, users[1:] != users[:-1]]
    picked = last & ~first
    keep = np.ones(len(train), dtype=bool)
    keep[order[picked]] = False
    rest = train.select(keep)
    seqs = rest.sequences()
    case_users = users[picked].astype(np.int32)
    return (
        EvalCases(case_users, train.items[order][picked], seqs.take(case_users)),
        rest,
    )


class LoraReranker(FittedModel):
    """The retriever's top ``depth`` items, ordered by a LoRA-tuned LM's letter logits."""

    name: ClassVar[str] = "llm-lora"

    def __init__(
        self,
        config: LlmLoraConfig,
        context: ModelContext | None = None,
        create: ModelFactory | None = None,
    ) -> None:
        if config.task != "rerank":
            raise ConfigError(
                "llm-lora task=binary answers yes/no questions and ranks no items: train it "
                "with `lmrec train -m llm-lora --set task=binary` and score examples with "
                "`lmrec llm-score`"
            )
        self.config = config
        self.context = context or ModelContext()
        self.create = create  # builds the retriever (the registry's create_model)
        self.retriever: Recommender | None = None
        self.tuned: TunedLM | None = None
        self.titles: list[str] = []
        self.report: TrainReport | None = None

    # -- prompts ------------------------------------------------------------------------------

    def _lm(self) -> TunedLM:
        if self.tuned is None:
            self.tuned = TunedLM(self.config, self.context.cache_dir)
        return self.tuned

    def _rows(
        self, histories: list[list[int]], candidates: npt.NDArray[np.int32]
    ) -> list[list[int]]:
        lm, rows = self._lm(), []
        for history, cand in zip(histories, candidates, strict=True):
            recent = [self.titles[i] for i in history[-self.config.max_history :]]
            shown = [self.titles[i] for i in cand if i >= 0]
            rows.append(lm.prompt_ids(rerank_prompt(recent, shown)))
        return rows

    def _letters(self) -> list[int]:
        return self._lm().choice_tokens(LETTERS[: self.config.depth])

    def _picked(
        self, histories: list[list[int]], candidates: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.float32]:
        """``(n, depth)`` letter logits; padded candidates (-1) get -inf."""
        logits = self._lm().scores(
            self._rows(histories, candidates), self._letters(), progress=self.context.progress
        )
        picked = logits[:, : candidates.shape[1]].copy()
        picked[candidates < 0] = -np.inf
        return picked

    def scorable_items(self) -> npt.NDArray[np.bool_]:
        """What the retriever can find (the LM re-ranks only its top items)."""
        n = len(self.fitted_state().item_vocab)
        mask = None if self.retriever is None else scorable_items(self.retriever)
        return np.ones(n, dtype=bool) if mask is None else mask

    # -- fit ----------------------------------------------------------------------------------

    def fit_retriever(self, train: Interactions, valid: EvalCases | None = None) -> LoraReranker:
        """Fit only the retriever: the model then re-ranks with the untuned LM."""
        from lmrec.llm.lora.examples import titles_with_year

        state = FittedState.from_train(train)
        self.titles = titles_with_year(self.context.catalog, state.item_vocab.ids)
        self.retriever = self._retriever().fit(train, valid)
        self._state = state
        return self

    def _retriever(self) -> Recommender:
        if self.create is None:
            raise ConfigError("llm-lora: built without a model factory, it cannot fit a retriever")
        return self.create(self.config.retriever, self.config.retriever_config, self.context)

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> LoraReranker:
        c = self.config
        self.fit_retriever(train, valid)
        assert self.retriever is not None
        if valid is not None and len(valid):
            cases, retriever = valid, self.retriever
        else:  # no validation cases: each training user's last item, retrieved without it
            cases, rest = last_items(train)
            retriever = self._retriever().fit(rest)
        batch = QueryBatch(cases.users, cases.histories)
        cand = unseen_order(retriever, batch)[:, : c.depth].astype(np.int32)
        hit = cand == np.asarray(cases.targets)[:, None]
        rows = np.flatnonzero(hit.any(axis=1))
        if len(rows) < 2:
            raise DataError(
                f"llm-lora: {len(rows)} of {len(cases)} training targets are in the retriever's "
                f"top {c.depth}; it needs at least 2 (raise depth or change the retriever)"
            )
        letters = hit[rows].argmax(axis=1)
        shuffled = np.random.default_rng(c.seed).permutation(len(rows))
        n_hold = min(len(rows) - 1, max(1, round(len(rows) * c.valid_share)))
        hold, fit_rows = shuffled[:n_hold], shuffled[n_hold:]
        histories = [cases.histories[int(r)].tolist() for r in rows]
        lm = self._lm()
        prompts = self._rows(histories, cand[rows])
        tokens = self._letters()

        def validate() -> float:  # NDCG@10 of the target among the held-out cases' candidates
            logits = lm.scores([prompts[i] for i in hold], tokens)
            target = logits[np.arange(len(hold)), letters[hold]]
            return float(np.mean(ndcg_at_10((logits > target[:, None]).sum(axis=1))))

        self.report = lm.train(
            [prompts[i] for i in fit_rows],
            letters[fit_rows].tolist(),
            tokens,
            validate,
            "ndcg@10",
            progress=self.context.progress,
        )
        share = lm.trainable_share()
        self.report.extra.update(
            training_cases=len(fit_rows),
            held_out_cases=len(hold),
            retriever_hit_rate=round(len(rows) / len(cases), 4),
            retriever_held_out_ndcg=round(float(np.mean(ndcg_at_10(letters[hold]))), 5),
            trainable_parameters=share[0],
            trainable_share=round(share[0] / share[1], 5),
        )
        return self

    # -- score --------------------------------------------------------------------------------

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        from lmrec.models.two_stage import merge_reranked

        state = self.fitted_state()
        histories = [batch.histories[r].tolist() for r in range(len(batch))]
        if batch.candidates is not None:  # a candidate protocol chose the items
            if batch.candidates.shape[1] > self.config.depth:
                raise ConfigError(
                    f"llm-lora letters {self.config.depth} candidates; this protocol gives "
                    f"{batch.candidates.shape[1]} (set depth, at most 26)"
                )
            out = np.full((len(batch), len(state.item_vocab)), -1e6, dtype=np.float32)
            picked = self._picked(histories, batch.candidates)
            for row, cand in enumerate(batch.candidates):
                keep = cand >= 0
                out[row, cand[keep]] = picked[row, keep]
            return out
        if self.retriever is None:
            raise NotFittedError("llm-lora: no retriever (fit or load first)")
        order = unseen_order(self.retriever, batch)
        cand = order[:, : self.config.depth].astype(np.int32)
        return merge_reranked(order, cand, self._picked(histories, cand))

    # -- checkpoint ---------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """The config and titles, the adapter in ``adapter/`` and the retriever in
        ``retriever/`` (by its registry name)."""
        if self.retriever is None or self.tuned is None:
            raise CheckpointError("llm-lora: fit it before saving")
        save_state(directory, self.fitted_state(), self.name, self.config.model_dump(), {})
        (directory / "lora.json").write_text(
            json.dumps({"titles": self.titles}, ensure_ascii=False)
        )
        self.tuned.save_adapter(directory / "adapter")
        save_member(directory, "retriever", self.retriever)

    @classmethod
    def load(cls, directory: Path, context: ModelContext, member: ModelLoader) -> LoraReranker:
        state, config, _ = load_state(directory, cls.name)
        model = cls(LlmLoraConfig.model_validate(config), context)
        model._state = state
        model.titles = json.loads((directory / "lora.json").read_text(encoding="utf-8"))["titles"]
        model.retriever = member(directory / "retriever", model.context)
        model._lm().load_adapter(directory / "adapter")
        return model
