"""Pure ranking metrics: functions of (ranked list, truth) and nothing else.

Two equivalent forms: list-based (``ranking`` = item ids best first, ``truth`` = relevant ids) for
any saved output, and rank-based (0-based rank of a single target per case; ``inf`` = not ranked)
for the batched evaluator. Tests check that both agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def hit_rate(ranking: Sequence[T], truth: Collection[T], k: int) -> float:
    """1.0 when any relevant item is in the top ``k``, else 0.0."""
    _check_k(k)
    return float(any(item in truth for item in ranking[:k]))


def recall(ranking: Sequence[T], truth: Collection[T], k: int) -> float:
    """Share of relevant items found in the top ``k`` (= hit rate for one target)."""
    _check_k(k)
    if not truth:
        return 0.0
    return len(set(ranking[:k]) & set(truth)) / len(truth)


def ndcg(ranking: Sequence[T], truth: Collection[T], k: int) -> float:
    """Binary-relevance NDCG@k with log2 discounts (ideal DCG over min(k, |truth|) items)."""
    _check_k(k)
    dcg = sum(1.0 / np.log2(i + 2) for i, item in enumerate(ranking[:k]) if item in truth)
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(k, len(truth))))
    return float(dcg / ideal) if ideal else 0.0


def mrr(ranking: Sequence[T], truth: Collection[T], k: int) -> float:
    """Reciprocal rank of the first relevant item within the top ``k`` (0 when none)."""
    _check_k(k)
    for i, item in enumerate(ranking[:k]):
        if item in truth:
            return 1.0 / (i + 1)
    return 0.0


def item_coverage(rankings: Iterable[Sequence[T]], n_items: int, k: int) -> float:
    """Share of the catalogue's ``n_items`` that appear in at least one top-``k`` list."""
    _check_k(k)
    shown: set[T] = set()
    for r in rankings:
        shown.update(r[:k])
    return len(shown) / n_items if n_items else 0.0


def mean_popularity(rankings: Iterable[Sequence[int]], popularity: npt.ArrayLike, k: int) -> float:
    """Mean popularity (e.g. training count) of recommended items over all top-``k`` slots."""
    _check_k(k)
    pop = np.asarray(popularity, dtype=np.float64)
    values = [pop[list(r[:k])].mean() for r in rankings if len(r)]
    return float(np.mean(values)) if values else 0.0


def hit_from_ranks(ranks: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.float64]:
    _check_k(k)
    return (ranks < k).astype(np.float64)


def ndcg_from_ranks(ranks: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.float64]:
    _check_k(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 / np.log2(ranks + 2.0)
    return np.where(ranks < k, out, 0.0)


def mrr_from_ranks(ranks: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.float64]:
    _check_k(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 / (ranks + 1.0)
    return np.where(ranks < k, out, 0.0)
