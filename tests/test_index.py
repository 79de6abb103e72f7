from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.core.query import Query
from lmrec.index import build_index
from lmrec.text.encoders import normalise
from test_text import fitted_zeroshot


def random_unit(n: int, d: int, seed: int) -> np.ndarray:
    return normalise(np.random.default_rng(seed).standard_normal((n, d)))


def test_exact_index_is_exact_and_pads() -> None:
    vectors = random_unit(50, 8, 0)
    queries = random_unit(5, 8, 1)
    scores, ids = build_index(vectors, "exact").search(queries, 3)
    expected = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(ids, expected)
    assert np.all(np.diff(scores, axis=1) <= 0)
    _, padded = build_index(vectors[:2], "exact").search(queries, 4)
    assert (padded[:, 2:] == -1).all()


@pytest.mark.parametrize(
    ("kind", "options", "floor"),
    [("hnsw", {}, 0.9), ("ivf", {}, 0.9), ("ivfpq", {"refine": 4}, 0.9), ("ivfpq", {}, 0.3)],
)
def test_faiss_recall_against_exact(kind: str, options: dict[str, int], floor: float) -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((40, 32))
    vectors = normalise(centres[rng.integers(0, 40, 2000)] + 0.3 * rng.standard_normal((2000, 32)))
    queries = normalise(centres[rng.integers(0, 40, 100)] + 0.3 * rng.standard_normal((100, 32)))
    _, exact = build_index(vectors, "exact").search(queries, 10)
    index = build_index(vectors, kind, **options)
    _, approx = index.search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall >= floor, recall
    if kind == "ivfpq" and not options:  # 4-byte codes (+ 8-byte ids) for 128-byte vectors
        assert index.memory_bytes() < vectors.nbytes / 2  # type: ignore[attr-defined]
        assert recall < 0.99


def test_unknown_index_kind() -> None:
    with pytest.raises(ValueError, match="unknown index kind"):
        build_index(random_unit(3, 4, 0), "lsh")  # type: ignore[arg-type]


def test_zeroshot_uses_the_ann_index_for_text(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    exact = fitted_zeroshot(tmp_path, index="exact")
    ann = fitted_zeroshot(tmp_path, index="hnsw")
    query = Query(text=("aliens attack",), k=3, exclude=frozenset({"50"}))
    assert ann.recommend(query).items == exact.recommend(query).items
    assert "50" not in ann.recommend(query).items


def test_zeroshot_history_queries_through_the_ann_index(tmp_path: Path) -> None:
    """index=auto switches to HNSW above ann_above items; candidates are scored exactly, so the
    top lists match the exact path and the measured recall says so."""
    pytest.importorskip("faiss")
    from lmrec.core.query import QueryBatch
    from lmrec.data.containers import Sequences

    exact = fitted_zeroshot(tmp_path, index="exact")
    small = fitted_zeroshot(tmp_path, index="auto")
    assert small.ann_kind() == "exact"
    ann = fitted_zeroshot(tmp_path, index="auto", ann_above=3, ann_candidates=20)
    assert ann.ann_kind() == "hnsw"
    n = len(ann.item_vocab)
    histories = Sequences.from_lists([[0, 1], [2], [3, 4, 5]])
    batch = QueryBatch(np.full(3, -1, dtype=np.int32), histories)
    banned = [np.array([0, 1]), np.array([2]), np.empty(0, dtype=np.int64)]
    want = exact.top_items(batch, 3, banned)
    got = ann.top_items(batch, 3, banned)
    for (w_items, w_scores), (g_items, g_scores) in zip(want, got, strict=True):
        np.testing.assert_array_equal(g_items, w_items)
        np.testing.assert_allclose(g_scores, w_scores, rtol=1e-5, atol=1e-6)
    assert not np.isin(got[0][0], [0, 1]).any()
    assert ann.search_recall(batch, k=min(3, n)) == 1.0
    assert exact.search_recall(batch) is None
