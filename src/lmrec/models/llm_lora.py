"""``llm-lora``: a LoRA-tuned local causal LM re-ranks a retriever's top items (LlamaRec's recipe).

The retriever's top ``depth`` unseen items are shown as lettered candidates after the user's
recent history; each candidate's LM score is the logit of its letter at the answer position
(one forward pass per query), fused with the retriever's score or rank (``lmrec.llm.lora.fusion``).
The adapter is trained on the last ``train_positions`` items of each training sequence, retrieved
by a retriever fitted without them; the epoch and the fusion weight are chosen on the validation
cases (or, without them, on each user's last training item), so test targets are never seen and
a re-ranker that does not help gets weight 0. Items below the top ``depth`` keep the retriever's
order. ``task=binary`` (TALLRec's yes/no preference) is trained by ``lmrec train`` and
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
from lmrec.llm.lora.fusion import Fusion, HeldOut, choose_fusion, retrieved, tail_cases
from lmrec.llm.lora.tuning import TunedLM
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
        self.fusion = Fusion("rank", 1.0)  # the LM alone until a weight is chosen

    # -- prompts ------------------------------------------------------------------------------

    def language_model(self) -> TunedLM:
        """The base LM (with its adapter once fitted or loaded), built on first use."""
        if self.tuned is None:
            self.tuned = TunedLM(self.config, self.context.cache_dir)
        return self.tuned

    def prompts(
        self, histories: list[list[int]], candidates: npt.NDArray[np.int32]
    ) -> list[list[int]]:
        """Each query's prompt token ids: its recent history and lettered candidates."""
        lm, rows = self.language_model(), []
        for history, cand in zip(histories, candidates, strict=True):
            recent = [self.titles[i] for i in history[-self.config.max_history :]]
            shown = [self.titles[i] for i in cand if i >= 0]
            rows.append(lm.prompt_ids(rerank_prompt(recent, shown)))
        return rows

    def letter_tokens(self) -> list[int]:
        """The first token of each candidate letter, A to the ``depth``-th."""
        return self.language_model().choice_tokens(LETTERS[: self.config.depth])

    def letter_scores(
        self, histories: list[list[int]], candidates: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.float32]:
        """``(n, depth)`` letter logits; padded candidates (-1) get -inf."""
        logits = self.language_model().scores(
            self.prompts(histories, candidates),
            self.letter_tokens(),
            progress=self.context.progress,
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
            held, held_retriever, rest = valid, self.retriever, train
        else:  # no validation cases: each training user's last item, retrieved without it
            held, rest = tail_cases(train, 1)
            held_retriever = self._retriever().fit(rest)
        cases, before = tail_cases(rest, c.train_positions)
        training = HeldOut.of(self._retriever().fit(before), cases, c.depth)
        if len(training.rows) < 1:
            raise DataError(
                f"llm-lora: none of {len(cases)} training cases (the last {c.train_positions} "
                f"items of each sequence) has its target in the retriever's top {c.depth} "
                "(raise depth or train_positions, or change the retriever)"
            )
        pick = np.arange(len(training.rows))  # places among the cases with a hit
        if c.max_cases and len(pick) > c.max_cases:
            pick = np.sort(
                np.random.default_rng(c.seed).choice(len(pick), c.max_cases, replace=False)
            )
        lm = self.language_model()
        training_rows = self.prompts(
            [training.histories[int(i)] for i in pick], training.cand[training.rows[pick]]
        )
        held_set = HeldOut.of(held_retriever, held, c.depth)
        chosen: list[Fusion] = []  # one per validation: epoch 0 (untuned), 1, 2, ...

        def validate() -> float:  # the fused NDCG@10 of the held-out cases
            chosen.append(self._choose(held_set))
            return chosen[-1].fused_ndcg

        self.report = lm.train(
            training_rows,
            training.columns[pick].tolist(),
            self.letter_tokens(),
            validate,
            "ndcg@10",
            progress=self.context.progress,
        )
        self.fusion = chosen[self.report.best_epoch]
        share = lm.trainable_share()
        self.report.extra.update(
            training_cases=len(pick),
            training_positions=c.train_positions,
            training_hit_rate=round(len(training.rows) / training.n, 4),
            held_out_cases=len(held),
            held_out_hits=len(held_set.rows),
            fusion=self.fusion.to_json(),
            trainable_parameters=share[0],
            trainable_share=round(share[0] / share[1], 5),
        )
        return self

    def _choose(self, held: HeldOut) -> Fusion:
        if not self.config.fuse:
            return Fusion("rank", 1.0, held.n)
        cand, scores = held.cand[held.rows], held.scores[held.rows]
        lm = (
            self.letter_scores(held.histories, cand)
            if len(held.rows)
            else np.empty(cand.shape, np.float32)
        )
        return choose_fusion(
            lm, scores, held.columns, held.n, self.config.seed, self.config.fusion_margin
        )

    def choose_fusion(self, cases: EvalCases) -> Fusion:
        """Choose the fusion weight on ``cases`` for the current LM (after ``fit_retriever``:
        the untuned one), retrieved by the fitted retriever."""
        if self.retriever is None:
            raise NotFittedError("llm-lora: no retriever (fit or load first)")
        self.fusion = self._choose(HeldOut.of(self.retriever, cases, self.config.depth))
        return self.fusion

    # -- score --------------------------------------------------------------------------------

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        from lmrec.models.two_stage import merge_reranked

        state = self.fitted_state()
        if self.retriever is None:
            raise NotFittedError("llm-lora: no retriever (fit or load first)")
        histories = [batch.histories[r].tolist() for r in range(len(batch))]
        if batch.candidates is not None:  # a candidate protocol chose the items
            if batch.candidates.shape[1] > self.config.depth:
                raise ConfigError(
                    f"llm-lora letters {self.config.depth} candidates; this protocol gives "
                    f"{batch.candidates.shape[1]} (set depth, at most 26)"
                )
            out = np.full((len(batch), len(state.item_vocab)), -1e6, dtype=np.float32)
            full = np.asarray(self.retriever.score(batch), dtype=np.float32)
            given = np.where(batch.candidates >= 0, batch.candidates, 0)
            base = np.take_along_axis(full, given.astype(np.int64), axis=1)
            base[batch.candidates < 0] = np.nan
            picked = self._fused(histories, batch.candidates, base)
            for row, cand in enumerate(batch.candidates):
                keep = cand >= 0
                out[row, cand[keep]] = picked[row, keep]
            return out
        order, cand, base = retrieved(self.retriever, batch, self.config.depth)
        return merge_reranked(order, cand, self._fused(histories, cand, base))

    def _fused(
        self,
        histories: list[list[int]],
        cand: npt.NDArray[np.int32],
        base: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        """The fused scores of the candidates (weight 0: the LM is not run)."""
        if self.fusion.weight == 0.0:
            lm = np.where(cand >= 0, 0.0, -np.inf).astype(np.float32)
        else:
            lm = self.letter_scores(histories, cand)
        fused = self.fusion.fuse(lm, base)
        return np.where(np.isfinite(fused), fused, -1e5).astype(np.float32)

    # -- checkpoint ---------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """The config and titles, the adapter in ``adapter/`` and the retriever in
        ``retriever/`` (by its registry name)."""
        if self.retriever is None or self.tuned is None:
            raise CheckpointError("llm-lora: fit it before saving")
        save_state(directory, self.fitted_state(), self.name, self.config.model_dump(), {})
        meta = {"titles": self.titles, "fusion": self.fusion.to_json()}
        (directory / "lora.json").write_text(json.dumps(meta, ensure_ascii=False))
        self.tuned.save_adapter(directory / "adapter")
        save_member(directory, "retriever", self.retriever)

    @classmethod
    def load(cls, directory: Path, context: ModelContext, member: ModelLoader) -> LoraReranker:
        state, config, _ = load_state(directory, cls.name)
        config.pop("valid_share", None)  # checkpoints from before the fusion held out a share
        model = cls(LlmLoraConfig.model_validate(config), context)
        model._state = state
        meta = json.loads((directory / "lora.json").read_text(encoding="utf-8"))
        model.titles = meta["titles"]
        model.fusion = Fusion(**meta.get("fusion", {}))  # older checkpoints: the LM alone
        model.retriever = member(directory / "retriever", model.context)
        model.language_model().load_adapter(directory / "adapter")
        return model
