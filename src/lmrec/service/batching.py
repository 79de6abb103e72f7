"""Dynamic batching of scoring requests: concurrent queries share one ``score`` call.

Scoring a user against a 17k-item catalogue streams the whole item-embedding matrix through the
CPU; scoring 32 users at once streams it once. One worker thread takes every query waiting when it
becomes free (at most ``max_batch``), scores them together and hands each caller its top-k. Under
no load a query is scored alone at once; under load, batches form by themselves.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender, TopKRecommender
from lmrec.data.containers import Sequences
from lmrec.index.topk import rank_rows


@dataclass(eq=False)
class ScoreJob:
    """One query in index space: the user (``-1`` = unknown to the model), history, exclusions.

    ``history`` None: the stored history of ``user_id``, read by the scorer thread together with
    the rest of its batch's (then ``exclude_history`` adds it to ``exclude``)."""

    user: int
    history: npt.NDArray[np.int32] | None
    exclude: npt.NDArray[np.int64]
    k: int
    future: Future[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = field(
        default_factory=Future
    )
    user_id: str | None = None
    exclude_history: bool = False


HistoryReader = Callable[[list[str]], list["npt.NDArray[np.int32] | Exception"]]
"""Stored histories of several users in one read (item indices, oldest first), or the error to
answer a user's request with (unknown user, empty history)."""


@dataclass
class BatchStats:
    batches: int = 0
    queries: int = 0

    @property
    def mean_batch(self) -> float:
        return self.queries / self.batches if self.batches else 0.0


class ScoreBatcher:
    """A worker thread that scores queued :class:`ScoreJob` s in batches."""

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

    def rank(
        self,
        user: int,
        history: npt.NDArray[np.int32],
        exclude: npt.NDArray[np.int64],
        k: int,
        timeout: float | None = 30.0,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Top-``k`` item indices and scores, best first, never an excluded item."""
        return self.submit(user, history, exclude, k).future.result(timeout=timeout)

    def submit(
        self,
        user: int,
        history: npt.NDArray[np.int32] | None,
        exclude: npt.NDArray[np.int64],
        k: int,
        user_id: str | None = None,
        exclude_history: bool = False,
    ) -> ScoreJob:
        """Queue a query without waiting; its ``future`` gives what :meth:`rank` returns.
        ``history=None`` has the scorer read ``user_id``'s stored history."""
        if history is None and (user_id is None or self.histories is None):
            raise ValueError("a job without a history needs a user_id and a history reader")
        job = ScoreJob(user, history, exclude, k, user_id=user_id, exclude_history=exclude_history)
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
        the jobs still to score."""
        waiting = [j for j in jobs if j.history is None]
        if waiting and self.histories is not None:
            try:
                read = self.histories([str(j.user_id) for j in waiting])
            except Exception as exc:  # e.g. the store is down: those callers see why
                read = [exc] * len(waiting)
            for job, found in zip(waiting, read, strict=True):
                if isinstance(found, Exception):
                    if not job.future.done():
                        job.future.set_exception(found)
                    continue
                job.history = found
                if job.exclude_history:
                    job.exclude = np.union1d(job.exclude, found.astype(np.int64))
        return [j for j in jobs if j.history is not None and not j.future.done()]

    def _score(self, jobs: list[ScoreJob]) -> None:
        jobs = [j for j in jobs if not j.future.cancelled()]  # past their deadline: dropped
        jobs = self._read_histories(jobs)
        if not jobs:
            return
        try:
            batch = QueryBatch(
                np.array([j.user for j in jobs], dtype=np.int32),
                Sequences.from_lists([_read(j).tolist() for j in jobs]),
            )
            k = max(j.k for j in jobs)
            excluded = [j.exclude for j in jobs]
            if isinstance(self.model, TopKRecommender):
                found = self.model.top_items(batch, k, excluded)
            else:
                found = rank_rows(self.model.score(batch), k, excluded)
            for job, (best, scores) in zip(jobs, found, strict=True):
                if not job.future.done():  # cancelled while scoring
                    job.future.set_result((best[: job.k], scores[: job.k]))
        except Exception as exc:  # the callers see the model's error, the worker lives on
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
        self.stats.batches += 1
        self.stats.queries += len(jobs)


def _read(job: ScoreJob) -> npt.NDArray[np.int32]:
    if job.history is None:  # _read_histories keeps only the jobs it could fill in
        raise RuntimeError("a job reached scoring without its history")
    return job.history
