"""Dynamic batching: queries that wait while the scorer is busy are scored together, correctly."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import numpy as np
import pytest

from lmrec.core.fitted import FittedModel, FittedState
from lmrec.core.query import Query, QueryBatch
from lmrec.data.containers import Sequences, Vocabulary
from lmrec.service.batching import ScoreBatcher


class SlowSumModel(FittedModel):
    """Score of item j = (sum of history) * (j + 1) mod 7; the first call takes 0.3 s."""

    name: ClassVar[str] = "slow"

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []
        items = Vocabulary("item", tuple(str(i) for i in range(10)))
        self._state = FittedState(Vocabulary("user", ()), items, Sequences.from_lists([]))

    def fit(self, train: Any, valid: Any = None) -> SlowSumModel:
        return self

    def scorable_items(self) -> np.ndarray:
        return np.ones(10, dtype=bool)  # scripted: every item has a score (no training data)

    def score(self, batch: QueryBatch) -> np.ndarray:
        if not self.batch_sizes:
            time.sleep(0.3)
        self.batch_sizes.append(len(batch))
        if batch.histories.lengths.min() == 0:
            raise ValueError("empty history")
        totals = np.array([batch.histories[i].sum() for i in range(len(batch))], dtype=np.float32)
        return ((totals[:, None] * (np.arange(10) + 1)) % 7).astype(np.float32)


def expected(history: list[int], exclude: list[int], k: int) -> list[int]:
    scores = (sum(history) * (np.arange(10) + 1)) % 7
    order = sorted((i for i in range(10) if i not in exclude), key=lambda i: (-scores[i], i))
    return order[:k]


def test_waiting_queries_share_one_score_call_and_get_their_own_rows() -> None:
    model = SlowSumModel()
    batcher = ScoreBatcher(model, max_batch=64)  # type: ignore[arg-type]
    results: dict[int, list[int]] = {}

    def ask(q: int) -> None:
        query = Query(history=(str(q % 10), "1"), k=3, exclude_history=False)
        results[q] = [int(i) for i in batcher.rank(query).items]

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    time.sleep(0.1)  # the scorer is now busy with query 0
    others = [threading.Thread(target=ask, args=(q,)) for q in range(1, 21)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join()
    assert model.batch_sizes[0] == 1 and sum(model.batch_sizes) == 21
    assert max(model.batch_sizes[1:]) > 1  # the 20 waiting queries were batched
    assert batcher.stats.queries == 21 and batcher.stats.mean_batch > 1
    for q in range(21):
        assert results[q] == expected([q % 10, 1], [], 3), q
    batcher.close()


def test_model_errors_reach_every_caller_of_the_batch_and_the_worker_survives() -> None:
    model = SlowSumModel()
    model.batch_sizes.append(0)  # no slow first call
    batcher = ScoreBatcher(model)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty history"):
        batcher.rank(Query(history=(), k=3))
    ranking = batcher.rank(Query(history=("2",), k=2, exclude=frozenset({"5"})))
    assert [int(i) for i in ranking.items] == expected([2], [2, 5], 2) and len(ranking) == 2
    batcher.close()
    with pytest.raises(ValueError, match="max_batch"):
        ScoreBatcher(model, max_batch=0)  # type: ignore[arg-type]
