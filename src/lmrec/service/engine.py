"""What the service does, without HTTP: validate, read the store, score, explain, record feedback.

The store is the source of truth for histories: every ``recommend`` for a user reads the user's
whole history from it, so an acknowledged feedback event shapes the very next recommendation (in
every worker process) without retraining, and nothing the user already has is recommended. The
ranking itself is the library's (:func:`lmrec.core.fitted.rank_batch`, through the batcher): the
service and ``Recommender.recommend`` give the same answer for the same history.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

from lmrec.core.fitted import fitted_state_of
from lmrec.core.query import Query, Ranking
from lmrec.core.recommender import ReadsText, Recommender
from lmrec.data.checks import id_problem, text_problem
from lmrec.data.containers import Dataset, Vocabulary
from lmrec.service.batching import HistoryReader, ScoreBatcher
from lmrec.service.errors import Conflict, Invalid, NotFound, empty_history, unknown_user
from lmrec.service.live import LiveModel, ModelSlot, Origin, warm_up
from lmrec.service.living import LivingService
from lmrec.service.messages import (
    Pending,
    Recommended,
    RecommendQuery,
    RecommendResult,
    ServiceLimits,
    UserView,
    WhyView,
)
from lmrec.service.runtime import Catalogue
from lmrec.service.store import FeedbackEvent, IdempotencyConflict, Store, StoredFeedback
from lmrec.service.store_health import StoreHealth

FEEDBACK_KINDS = ("click", "rating", "purchase")


MAX_CLOCK_SKEW = 86_400.0  # a client clock may run this far ahead of the server's


class RecommendService(LivingService):
    """One dataset, one store and the model live now (swappable, see :mod:`.living`); ``writer``
    (a language model backend, optional) writes the "why?" texts."""

    def __init__(
        self,
        dataset: Dataset,
        model: Recommender,
        store: Store,
        limits: ServiceLimits | None = None,
        model_name: str = "",
        max_batch: int = 64,
        origin: Origin | None = None,
    ) -> None:
        self.dataset = dataset
        self.store = store
        self.limits = limits or ServiceLimits()
        self.max_batch = max_batch
        self.catalogue = Catalogue.of(dataset)
        self.catalogue.refresh(store)  # runtime items put before this start
        self.follow_from(time.time())
        name = model_name or type(model).__name__
        self.slot = ModelSlot(self._live(model, name, origin or Origin.fitted()))
        self._explainer: Any = None
        self.writer: Any = None  # an LLMBackend; set by build_service when asked for
        self.schema_revision = store.revision()
        self.search_recall: float | None = None  # approximate serving: recall@10 at start
        self.reload_from: str | None = None  # what /admin/reload loads when given no folder
        self.follower: Any = None  # the Follower thread, when serving (lmrec.service.follow)
        self.store_health = StoreHealth()  # the last store failure, shown by /health

    @property
    def model(self) -> Recommender:
        return self.slot.current.model

    @property
    def items(self) -> Vocabulary:
        """The items the live model scores."""
        return self.slot.current.model.item_vocab

    @property
    def batcher(self) -> ScoreBatcher:
        return self.slot.current.batcher

    @property
    def model_name(self) -> str:
        return self.slot.current.name

    def warm_up(self) -> None:
        """One query through the scorer, so lazy set-up (e.g. neighbour lists) is not paid by
        the first request (swapped-in models are warmed before the swap); a text model also
        loads its encoder now, not on the first free-text request or new item."""
        live = self.slot.current
        warm_up(live)
        if isinstance(live.model, ReadsText) and len(live.model.item_vocab):
            live.model.recommend(Query(text=(self.title(live.model.item_vocab.ids[0]),), k=1))

    def close(self) -> None:
        self.slot.close()
        self.store.close()

    def title(self, item_id: str) -> str:
        return self.catalogue.title(item_id)

    # -- recommend ----------------------------------------------------------------------------

    def recommend(self, query: RecommendQuery) -> RecommendResult:
        """Validate, read the history, rank (waiting for the batch) and describe the top k."""
        pending = self.start(query)
        if pending.result is not None:
            return pending.result
        assert pending.job is not None
        return self.complete(pending, pending.job.future.result(timeout=60))

    def start(self, query: RecommendQuery) -> Pending:
        """Everything up to queuing the ranking job (raises :class:`ServiceError` on bad input).

        The request reads the live model once and finishes on it, whatever is swapped in
        meanwhile. Free-text queries are answered here directly (``Pending.result``).
        """
        lim, live = self.limits, self.slot.current
        k = min(10, lim.max_k) if query.k is None else query.k
        if not 1 <= k <= lim.max_k:
            raise Invalid(f"k must be between 1 and {lim.max_k}, got {k}", "k")
        if len(query.exclude) > lim.max_exclude:
            raise Invalid(
                f"at most {lim.max_exclude} excluded items, got {len(query.exclude)}", "exclude"
            )
        for pos, item in enumerate(query.exclude):
            problem = id_problem(item)
            if problem:
                raise Invalid(f"item id {item!r} {problem}", f"exclude[{pos}]")
        self._check_domain(live.model, query.domain)
        asked = Query(
            user=query.user_id,
            k=k,
            exclude=frozenset(query.exclude) | self.catalogue.retired,
            exclude_history=query.exclude_history,
            domain=query.domain,
        )
        if query.history is None and query.user_id is not None and not query.text:
            # the scorer thread reads this user's whole history with the rest of its batch
            job = live.batcher.submit(asked, stored_user=query.user_id)
            return Pending(query.user_id, [], query.explain, job=job, live=live)
        items = self._resolve_history(live, query.user_id, query.history)
        if query.text:
            found = self._recommend_text(live, query.user_id, items, query, asked)
            return Pending(query.user_id, items, False, result=found)
        if not items:
            raise empty_history()
        job = live.batcher.submit(dataclasses.replace(asked, history=tuple(items)))
        return Pending(query.user_id, items, query.explain, job=job, live=live)

    def _check_domain(self, model: Recommender, domain: str | None) -> None:
        if domain is None:
            return
        from lmrec.data.errors import DataError
        from lmrec.data.joint import JOINER, domain_range

        state = fitted_state_of(model)
        if JOINER not in self.dataset.name:
            raise Invalid(
                f"'domain' applies to a model trained on several datasets at once (e.g. "
                f"amazon-games+amazon-scientific); {self.dataset.name!r} is one",
                "domain",
            )
        try:
            domain_range(state.domain_ranges, domain)
        except DataError as exc:
            raise Invalid(str(exc), "domain") from None

    def _reader(self, scored: Vocabulary) -> HistoryReader:
        """The batcher's history reader for a model scoring ``scored``: one store query for a
        whole ranking batch; items the model does not score (added after it was trained) are
        left out, as ``recommend`` does."""

        def read(user_ids: list[str]) -> list[tuple[str, ...] | Exception]:
            found = self.store.histories(user_ids)
            out: list[tuple[str, ...] | Exception] = []
            for user_id in user_ids:
                items = found[user_id]
                if items is None:
                    out.append(unknown_user(user_id))
                elif not items:
                    out.append(empty_history())
                else:
                    out.append(tuple(self._scored(items, scored)))
            return out

        return read

    def complete(self, pending: Pending, ranking: Ranking) -> RecommendResult:
        """The result of a finished ranking job."""
        job = pending.job
        history = list(job.query.history or ()) if job is not None else pending.history
        return self._result(
            pending.live or self.slot.current,
            pending.user_id,
            history if pending.explain else [],
            len(history),
            ranking,
            pending.explain,
            job.query.domain if job is not None else None,
        )

    def _resolve_history(
        self, live: LiveModel, user_id: str | None, history: list[str] | None
    ) -> list[str]:
        lim, scored = self.limits, live.model.item_vocab
        if history is not None:
            if len(history) > lim.max_history:
                raise Invalid(
                    f"at most {lim.max_history} history items, got {len(history)}", "history"
                )
            for pos, item in enumerate(history):
                if item not in scored and item not in self.catalogue.known:
                    raise Invalid(f"unknown item {item!r}", f"history[{pos}]")
            return self._scored(history, scored)
        if user_id is None:
            return []
        stored = self.store.history(user_id)
        if stored is None:
            raise unknown_user(user_id)
        return self._scored(stored, scored)

    def _scored(self, items: list[str], scored: Vocabulary) -> list[str]:
        """``items`` without those the model does not score (runtime items an ID-only model has
        not been trained on). A model scores only catalogue items (checked when it is loaded),
        so when it scores as many as the catalogue holds there is nothing to drop."""
        if len(scored) >= len(self.catalogue.known):
            return items
        return [i for i in items if i in scored]

    def _recommend_text(
        self,
        live: LiveModel,
        user_id: str | None,
        history: list[str],
        query: RecommendQuery,
        asked: Query,
    ) -> RecommendResult:
        lim, text = self.limits, query.text or []
        if not isinstance(live.model, ReadsText):
            raise Invalid(
                f"model {live.name!r} cannot read free text; give item ids in 'history' "
                "(or serve a text model such as 'zeroshot')",
                "text",
            )
        if len(text) > lim.max_text:
            raise Invalid(f"at most {lim.max_text} text entries, got {len(text)}", "text")
        for pos, line in enumerate(text):
            if not line.strip() or len(line) > lim.max_text_chars:
                raise Invalid(
                    f"each text must be 1 to {lim.max_text_chars} characters, not blank",
                    f"text[{pos}]",
                )
            problem = text_problem(line)
            if problem:
                raise Invalid(f"the text {problem}", f"text[{pos}]")
        banned = asked.exclude | (set(history) if query.exclude_history else set())
        ranking = live.model.recommend(
            Query(text=tuple(text), k=asked.k, exclude=frozenset(banned), domain=query.domain)
        )
        return self._result(live, user_id, history, len(history), ranking, False)

    def _result(
        self,
        live: LiveModel,
        user_id: str | None,
        history: list[str],
        history_length: int,
        ranking: Ranking,
        explain: bool,
        domain: str | None = None,
    ) -> RecommendResult:
        ids = list(ranking.items)
        notes = [self.explain(history, i, domain) for i in ids] if explain else [None] * len(ids)
        return RecommendResult(
            user_id,
            tuple(
                Recommended(i, self.title(i), s, *((n.text, _evidence(n)) if n else (None, None)))
                for i, s, n in zip(ids, ranking.scores.tolist(), notes, strict=True)
            ),
            history_length,
            live.name,
            live.origin.version,
        )

    # -- explanations and users ---------------------------------------------------------------

    @property
    def explainer(self) -> Any:
        if self._explainer is None:
            from lmrec.llm.explain.explainer import Explainer

            self._explainer = Explainer.for_model(self.dataset, self.model)
        return self._explainer

    def explain(self, history: list[str], item: str, domain: str | None = None) -> Any:
        """The evidence explanation: the history items that drive the live model's score for
        ``item`` (:meth:`Explainer.from_evidence`, ranked within ``domain`` on a joint model);
        for a model without scores, the attribute or text-similarity explanation."""
        model = self.model
        if (
            not history
            or item not in model.item_vocab
            or not callable(getattr(model, "score", None))
        ):
            return self.explainer.explain(history, item)
        return self.explainer.from_evidence(model, history, item, domain=domain)

    def why(self, user_id: str, item_id: str) -> WhyView:
        """Why one recommendation: the evidence sentence, or the language model's rewrite of it
        when the rewrite keeps to the evidence (``removed``: 1 when it was refused)."""
        history = self.store.history(user_id, self.limits.history_window)
        if history is None:
            raise NotFound(f"unknown user {user_id!r}", "user_id")
        if item_id not in self.catalogue.known:
            raise NotFound(f"unknown item {item_id!r}", "item_id")
        scored = self._scored(history, self.items)
        if self.writer is None or item_id not in self.items or not scored:
            found = self.explain(scored, item_id)
            return WhyView(item_id, found.text, "evidence", 0.0, 0, _evidence(found))
        found, shown = self.explainer.rewritten(self.model, scored, item_id, self.writer)
        source = str(self.writer.model) if shown.accepted else "evidence"
        removed = int(not shown.accepted)
        return WhyView(item_id, shown.text, source, shown.seconds, removed, _evidence(found))

    def user(self, user_id: str) -> UserView:
        history = self.store.history(user_id, self.limits.history_window)
        if history is None:
            raise NotFound(f"unknown user {user_id!r}", "user_id")
        profile = self.explainer.profile(history)
        return UserView(
            user_id,
            tuple((i, self.title(i)) for i in history),
            self.store.history_length(user_id),
            tuple(profile.interests),
            tuple(c for _, c in profile.counts),
            profile.text,
        )

    def search(self, query: str, limit: int) -> list[tuple[str, str]]:
        if not 1 <= limit <= self.limits.max_search:
            raise Invalid(f"limit must be between 1 and {self.limits.max_search}", "limit")
        if len(query) > 200:
            raise Invalid("the search text is longer than 200 characters", "q")
        return self.store.search_items(query, limit)

    # -- feedback -----------------------------------------------------------------------------

    def feedback(
        self,
        idempotency_key: str,
        user_id: str,
        item_id: str,
        kind: str,
        value: float | None = None,
        timestamp: float | None = None,
    ) -> StoredFeedback:
        if kind not in FEEDBACK_KINDS:
            raise Invalid(f"kind must be one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}", "kind")
        if item_id not in self.catalogue.known:
            raise Invalid(f"unknown item {item_id!r}", "item_id")
        if item_id in self.catalogue.retired:
            raise Invalid(f"item {item_id!r} is retired", "item_id")
        low, high = self.limits.rating_range
        if kind == "rating":
            if value is None or not math.isfinite(value) or not low <= value <= high:
                raise Invalid(f"a rating needs a value between {low:g} and {high:g}", "value")
        elif value is not None:
            raise Invalid(f"a {kind} event carries no value", "value")
        now = time.time()
        when = now if timestamp is None else timestamp
        if not math.isfinite(when) or not 0.0 <= when <= now + MAX_CLOCK_SKEW:
            raise Invalid(
                "timestamp must be seconds since 1970, at most a day ahead of the server's clock",
                "timestamp",
            )
        event = FeedbackEvent(idempotency_key, user_id, item_id, kind, value, when)
        try:
            stored = self.store.append_feedback(event)
        except IdempotencyConflict as exc:
            raise Conflict(str(exc), "idempotency_key") from None
        self.store_health.ok()
        return stored


def _evidence(found: Any) -> dict[str, Any] | None:
    """An explanation's evidence as JSON (``None`` when the model's scores did not choose it)."""
    return None if found.evidence is None else dict(found.evidence.to_json())
