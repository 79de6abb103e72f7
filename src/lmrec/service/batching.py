"""Dynamic batching of scoring requests: concurrent queries share one ``score`` call.

Scoring a user against a 17k-item catalogue streams the whole item-embedding matrix through the
CPU; scoring 32 users at once streams it once. One worker thread takes every query waiting when it
becomes free (at most ``max_batch``), scores them together and hands each caller its top-k. Under
no load a query is scored alone at once; under load, batches form by themselves.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender, TopKRecommender
from lmrec.data.containers import Sequences
from lmrec.index.topk import rank_rows


@dataclass(frozen=True)
class ScoreJob:
    """One query in index space: the user (``-1`` = unknown to the model), history, exclusions."""

    user: int
    history: npt.NDArray[np.int32]
    exclude: npt.NDArray[np.int64]
    k: int
    future: Future[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = field(
        default_factory=Future
    )


@dataclass
class BatchStats:
    batches: int = 0
    queries: int = 0

    @property
    def mean_batch(self) -> float:
        return self.queries / self.batches if self.batches else 0.0


class ScoreBatcher:
    """A worker thread that scores queued :class:`ScoreJob` s in batches."""

    def __init__(self, model: Recommender, max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.model = model
        self.max_batch = max_batch
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
        history: npt.NDArray[np.int32],
        exclude: npt.NDArray[np.int64],
        k: int,
    ) -> ScoreJob:
        """Queue a query without waiting; its ``future`` gives what :meth:`rank` returns."""
        job = ScoreJob(user, history, exclude, k)
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

    def _score(self, jobs: list[ScoreJob]) -> None:
        jobs = [j for j in jobs if not j.future.cancelled()]  # past their deadline: dropped
        if not jobs:
            return
        try:
            batch = QueryBatch(
                np.array([j.user for j in jobs], dtype=np.int32),
                Sequences.from_lists([j.history.tolist() for j in jobs]),
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
