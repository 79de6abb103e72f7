"""BPR and ALS (the implicit library): they learn block structure, fold histories in as documented."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import pytest

from lmrec.core.query import Query, QueryBatch
from lmrec.data.containers import Interactions, Sequences, Vocabulary
from lmrec.models.classic.factorization import ALS, BPR, BPRConfig
from lmrec.models.registry import create_model


def two_blocks(n_users: int = 40, n_items: int = 20, seed: int = 0) -> Interactions:
    """Users 0..19 use items 0..9, users 20..39 items 10..19; 6 random items each."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    half = n_items // 2
    for u in range(n_users):
        block = 0 if u < n_users // 2 else half
        chosen = rng.choice(half, size=6, replace=False) + block
        users += [u] * 6
        items += chosen.tolist()
    return Interactions(
        np.array(users),
        np.array(items),
        np.arange(len(users), dtype=np.float64),
        Vocabulary.from_ids("user", [f"u{u}" for u in range(n_users)]),
        Vocabulary.from_ids("item", [f"i{i}" for i in range(n_items)]),
    )


def in_block_share(scores: np.ndarray, histories: Sequences, k: int = 3) -> float:
    """Share of the top-k unseen items that come from the query's own block."""
    hits = 0
    for row in range(len(scores)):
        seen = histories[row]
        s = scores[row].copy()
        s[seen] = -np.inf
        block = seen[0] // 10
        hits += int((np.argsort(-s, kind="stable")[:k] // 10 == block).sum())
    return hits / (k * len(scores))


@pytest.mark.parametrize(
    ("name", "config"),
    [("als", {"factors": 4, "regularization": 0.1}), ("bpr", {"factors": 4, "iterations": 300})],
)
def test_learns_the_blocks(name: str, config: dict[str, Any]) -> None:
    data = two_blocks()
    model = create_model(name, config).fit(data)
    seqs = data.sequences()
    scores = model.score(QueryBatch(np.arange(data.n_users, dtype=np.int32), seqs))
    assert in_block_share(scores, seqs) > 0.9
    # a new user with only block-two items gets block-two items (ALS solves, BPR averages)
    ranking = model.recommend(Query(history=("i12", "i15"), k=3))
    assert all(int(item[1:]) >= 10 for item in ranking.items)


def test_als_folds_the_query_history_in_and_bpr_keeps_the_trained_user() -> None:
    data = two_blocks()
    als = ALS().fit(data)
    bpr = BPR(BPRConfig(factors=4, iterations=300)).fit(data)
    # user u0 (block one) asks with a block-two history: ALS follows the history ...
    history = Sequences.from_lists([[12, 15, 17]])
    batch = QueryBatch(np.array([0], dtype=np.int32), history)
    als_top = np.argsort(-als.score(batch)[0], kind="stable")[:3]
    assert (als_top >= 10).all()
    # ... BPR uses u0's trained factor, which knows nothing of that history
    bpr_scores = bpr.score(batch)[0]
    empty = QueryBatch(batch.users, Sequences.from_lists([[]]))
    np.testing.assert_allclose(bpr_scores, bpr.score(empty)[0])
    assert (np.argsort(-bpr_scores, kind="stable")[:3] < 10).all()


def test_same_seed_same_factors() -> None:
    data = two_blocks()
    a = BPR().fit(data).item_factors
    b = BPR().fit(data).item_factors
    np.testing.assert_array_equal(a, b)


def test_missing_library_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_implicit(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("implicit"):
            raise ImportError("No module named 'implicit'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_implicit)
    with pytest.raises(ImportError, match=r"pip install 'lmrec\[mf\]'"):
        ALS().fit(two_blocks())
