"""The serving top-k paths of the zero-shot model return exactly the items of its full scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.core.fitted import ModelContext
from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions, Sequences
from lmrec.index.topk import rank_rows
from lmrec.models.zeroshot import ZeroShotConfig, ZeroShotTextRecommender
from lmrec.models.zeroshot.maxsim import MeanMaxQuery, NeighbourLists, exact_top_k
from text_helpers import TrigramEncoder, tiny_catalog


def brute_force(query: MeanMaxQuery, emb: np.ndarray, share: float) -> np.ndarray:
    sims = ((emb[query.history] * query.weights[:, None]) @ emb.T).max(axis=0)
    scores = query.mean_scores + share * sims
    scores[query.exclude] = -np.inf
    return np.argsort(-scores, kind="stable")[: query.k]


@pytest.mark.parametrize("m", [1, 5, 40])
def test_pruned_search_equals_brute_force(m: int) -> None:
    rng = np.random.default_rng(m)
    emb = rng.normal(size=(600, 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    lists = NeighbourLists.build(emb, m, block=64)
    assert lists.items.shape == (600, m) and np.all(lists.floor <= 1.0 + 1e-6)
    scored_counts = []
    for trial in range(60):
        length = int(rng.integers(1, 11))
        history = rng.choice(600, size=length, replace=False).astype(np.int32)
        weights = (0.9 ** np.arange(length)[::-1]).astype(np.float32)
        user = (weights[:, None] * emb[history]).sum(axis=0)
        user /= np.linalg.norm(user)
        prior = rng.normal(scale=0.05, size=600).astype(np.float32) if trial % 2 else 0.0
        means = (0.7 * (emb @ user) + prior).astype(np.float32)
        exclude = np.unique(np.concatenate([history, rng.choice(600, 20)])).astype(np.int64)
        query = MeanMaxQuery(means, history, weights, exclude, k=10)
        best, scores, n_scored = exact_top_k(query, emb, lists, share=0.3)
        assert best.tolist() == brute_force(query, emb, 0.3).tolist()
        assert not set(best.tolist()) & set(exclude.tolist())
        assert np.all(np.diff(scores) <= 0)
        scored_counts.append(n_scored)
    if m == 40:  # the point of the lists: most items are never scored exactly
        assert np.mean(scored_counts) < 600 / 2


@pytest.mark.parametrize("budget_mb", [0, 64])  # neighbour lists / similarity rows
@pytest.mark.parametrize("pooling", ["mean-max", "recency-mean", "max-sim", "history-text"])
def test_model_top_items_match_its_scores(
    tmp_path: Path, tiny: Interactions, pooling: str, budget_mb: int
) -> None:
    context = ModelContext("tiny", tiny_catalog(), cache_dir=tmp_path, encoder=TrigramEncoder())
    config = ZeroShotConfig(
        pooling=pooling, neighbours=2, max_window=2, similarity_budget_mb=budget_mb
    )
    model = ZeroShotTextRecommender(config, context)
    model.fit(tiny)
    histories = [[0, 1], [4], [2, 3, 5], [1, 0, 4, 2], []]
    batch = QueryBatch(np.full(5, -1, np.int32), Sequences.from_lists(histories))
    exclude = [np.array(h, dtype=np.int64) for h in histories]
    fast = model.top_items(batch, 3, exclude)
    full = rank_rows(model.score(batch), 3, exclude)
    for (a, sa), (b, sb) in zip(fast, full, strict=True):
        assert a.tolist() == b.tolist()
        np.testing.assert_allclose(sa, sb, rtol=1e-5, atol=1e-6)
