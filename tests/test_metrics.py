from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmrec.data.containers import Interactions
from lmrec.metrics.evaluate import evaluate, target_ranks
from lmrec.metrics.ranking import (
    hit_from_ranks,
    hit_rate,
    item_coverage,
    mean_popularity,
    mrr,
    mrr_from_ranks,
    ndcg,
    ndcg_from_ranks,
    recall,
)
from lmrec.models.classic.popularity import Popularity
from lmrec.protocols.leave_one_out import LeaveOneOut


def test_list_metrics_known_values() -> None:
    ranking = ["a", "b", "c", "d"]
    assert hit_rate(ranking, {"c"}, 2) == 0.0 and hit_rate(ranking, {"c"}, 3) == 1.0
    assert ndcg(ranking, {"c"}, 10) == pytest.approx(1 / math.log2(4))
    assert mrr(ranking, {"c"}, 10) == pytest.approx(1 / 3)
    assert recall(ranking, {"a", "d", "z"}, 4) == pytest.approx(2 / 3)
    assert ndcg(ranking, {"a", "b"}, 2) == pytest.approx(1.0)
    assert item_coverage([["a", "b"], ["b", "c"]], n_items=6, k=2) == pytest.approx(0.5)
    assert mean_popularity([[0, 1], [1]], [10, 20, 30], k=2) == pytest.approx((15 + 20) / 2)
    with pytest.raises(ValueError):
        ndcg(ranking, {"a"}, 0)


@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=30, unique=True),
    st.integers(0, 30),
    st.integers(1, 40),
)
def test_rank_form_matches_list_form(ranking: list[int], target: int, k: int) -> None:
    rank = ranking.index(target) if target in ranking else math.inf
    ranks = np.array([rank], dtype=np.float64)
    assert hit_from_ranks(ranks, k)[0] == hit_rate(ranking, {target}, k)
    assert ndcg_from_ranks(ranks, k)[0] == pytest.approx(ndcg(ranking, {target}, k))
    assert mrr_from_ranks(ranks, k)[0] == pytest.approx(mrr(ranking, {target}, k))


def test_ties_rank_lower_index_first() -> None:
    scores = np.array([[1.0, 2.0, 2.0, 2.0, -np.inf]], dtype=np.float32)
    assert target_ranks(scores, np.array([2], dtype=np.int32)).tolist() == [1.0]
    assert target_ranks(scores, np.array([1], dtype=np.int32)).tolist() == [0.0]
    assert target_ranks(scores, np.array([4], dtype=np.int32)).tolist() == [math.inf]


def test_evaluator_agrees_with_pure_metrics(tiny: Interactions) -> None:
    split = LeaveOneOut().split(tiny)
    model = Popularity().fit(split.train)
    result = evaluate(model, split.test, ks=(1, 3), popularity=split.train.item_counts())
    for i in range(len(split.test)):
        top = [int(x) for x in result.top[i] if x >= 0]
        truth = {int(split.test.targets[i])}
        assert not set(top) & set(split.test.histories[i].tolist())  # seen items masked
        assert hit_from_ranks(result.ranks[i : i + 1], 3)[0] == hit_rate(top, truth, 3)
    expected = np.mean(
        [
            ndcg([int(x) for x in r if x >= 0], {int(t)}, 3)
            for r, t in zip(result.top, split.test.targets, strict=True)
        ]
    )
    assert result.value("ndcg@3") == pytest.approx(expected)
    assert result.exclude_history is True
    keep = evaluate(model, split.test, ks=(3,), exclude_history=False)
    assert keep.exclude_history is False
