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


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_faiss_recall_against_exact(kind: str) -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((40, 32))
    vectors = normalise(centres[rng.integers(0, 40, 2000)] + 0.3 * rng.standard_normal((2000, 32)))
    queries = normalise(centres[rng.integers(0, 40, 100)] + 0.3 * rng.standard_normal((100, 32)))
    _, exact = build_index(vectors, "exact").search(queries, 10)
    _, approx = build_index(vectors, kind).search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.9, recall


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
