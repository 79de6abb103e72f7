"""Dynamic batching of recommendation requests: concurrent queries share one ranking call.

Scoring a user against a 17k-item catalogue streams the whole item-embedding matrix through the
CPU; scoring 32 users at once streams it once. One worker thread takes every query waiting when it
becomes free (at most ``max_batch``) and hands them to the library's one ranking path,
:func:`lmrec.core.fitted.rank_batch`, which resolves histories, excludes and masks domains exactly
as ``Recommender.recommend`` does. Under no load a query is ranked alone at once; under load,
batches form by themselves.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from lmrec.core.fitted import rank_batch
from lmrec.core.query import Query, Ranking
from lmrec.core.recommender import Recommender


@dataclass(eq=False)
class ScoreJob:
    """One library :class:`Query`; ``stored_user`` set: the query's history is that user's whole
    stored history, read by the scorer thread together with the rest of its batch's."""

    query: Query
    stored_user: str | None = None
    future: Future[Ranking] = field(default_factory=Future)


HistoryReader = Callable[[list[str]], list["tuple[str, ...] | Exception"]]
"""Whole stored histories of several users in one read (item ids, oldest first), or the error to
answer a user's request with (unknown user, empty history)."""


@dataclass
class BatchStats:
    batches: int = 0
    queries: int = 0

    @property
    def mean_batch(self) -> float:
        return self.queries / self.batches if self.batches else 0.0


class ScoreBatcher:
    """A worker thread that ranks queued :class:`ScoreJob` s in batches."""

    def __init__(
        self, model: Recommender, max_batch: int = 64, histories: HistoryReader | None = None
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.model = model
        self.max_batch = max_batch
        self.histories = histories
        self.stats = BatchStats()
        self._queue: queue.SimpleQueue[ScoreJob | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lmrec-scorer", daemon=True)
        self._thread.start()

    def rank(self, query: Query, timeout: float | None = 30.0) -> Ranking:
        """The query's ranking, as ``model.recommend(query)`` gives it."""
        return self.submit(query).future.result(timeout=timeout)

    def submit(self, query: Query, stored_user: str | None = None) -> ScoreJob:
        """Queue a query without waiting; its ``future`` gives what :meth:`rank` returns.
        ``stored_user``: the scorer reads that user's stored history as the query's history."""
        if stored_user is not None and self.histories is None:
            raise ValueError("a job with a stored user needs a history reader")
        job = ScoreJob(query, stored_user)
        self._queue.put(job)
        return job

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            while len(jobs) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                jobs.append(nxt)
            self._score(jobs)

    def _read_histories(self, jobs: list[ScoreJob]) -> list[ScoreJob]:
        """Fill in the stored histories of the jobs that need one (one read for all); returns
        the jobs still to rank."""
        waiting = [j for j in jobs if j.stored_user is not None]
        if waiting and self.histories is not None:
            try:
                read = self.histories([str(j.stored_user) for j in waiting])
            except Exception as exc:  # e.g. the store is down: those callers see why
                read = [exc] * len(waiting)
            for job, found in zip(waiting, read, strict=True):
                if isinstance(found, Exception):
                    if not job.future.done():
                        job.future.set_exception(found)
                    continue
                job.query = dataclasses.replace(job.query, history=found)
                job.stored_user = None
        return [j for j in jobs if j.stored_user is None and not j.future.done()]

    def _score(self, jobs: list[ScoreJob]) -> None:
        jobs = [j for j in jobs if not j.future.cancelled()]  # past their deadline: dropped
        jobs = self._read_histories(jobs)
        if not jobs:
            return
        try:
            rankings = rank_batch(self.model, [j.query for j in jobs])
            for job, ranking in zip(jobs, rankings, strict=True):
                if not job.future.done():  # cancelled while scoring
                    job.future.set_result(ranking)
        except Exception as exc:  # the callers see the model's error, the worker lives on
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
        self.stats.batches += 1
        self.stats.queries += len(jobs)
