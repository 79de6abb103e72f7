"""The batched evaluator: score users × items, mask, rank, and compute metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lmrec.core.coverage import place_unscorable, scorable_items
from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.errors import DataError
from lmrec.index.topk import top_k
from lmrec.metrics.ranking import (
    hit_from_ranks,
    item_coverage,
    mean_popularity,
    mrr_from_ranks,
    ndcg_from_ranks,
)
from lmrec.protocols.base import EvalCases


@dataclass(frozen=True)
class MetricValue:
    """One number of a report, e.g. ``MetricValue("ndcg", 10, 0.0449)``."""

    name: str
    k: int
    value: float

    @property
    def key(self) -> str:
        return f"{self.name}@{self.k}"


@dataclass(frozen=True)
class Evaluation:
    """Per-case ranks of the target (0-based; ``inf`` = excluded), top-k lists and metrics."""

    ranks: npt.NDArray[np.float64]
    top: npt.NDArray[np.int64]
    metrics: tuple[MetricValue, ...]
    exclude_history: bool

    @property
    def n_cases(self) -> int:
        return len(self.ranks)

    def value(self, key: str) -> float:
        for m in self.metrics:
            if m.key == key:
                return m.value
        raise KeyError(f"no metric {key!r}; have {', '.join(m.key for m in self.metrics)}")

    def as_dict(self) -> dict[str, float]:
        return {m.key: m.value for m in self.metrics}


def score_cases(
    model: Recommender, cases: EvalCases, start: int, stop: int, exclude_history: bool
) -> npt.NDArray[np.float32]:
    """Scores of cases ``start:stop`` with non-candidates and (optionally) history set to ``-inf``.

    The target itself is never masked: it is the truth being ranked.
    """
    rows = np.arange(start, stop)
    hist = cases.histories.take(rows)
    cand = None if cases.candidates is None else cases.candidates[rows]
    scores = np.array(model.score(QueryBatch(cases.users[rows], hist, cand)), dtype=np.float32)
    if scores.shape != (len(rows), len(model.item_vocab)):
        raise ValueError(
            f"{type(model).__name__}.score returned shape {scores.shape}, expected "
            f"{(len(rows), len(model.item_vocab))}"
        )
    if not np.isfinite(scores).all():
        raise ValueError(f"{type(model).__name__}.score returned non-finite scores")
    place_unscorable(scores, scorable_items(model))  # they rank last (lmrec.core.coverage)
    targets = cases.targets[rows]
    if cand is not None:
        kept = np.full_like(scores, -np.inf)
        r, c = np.nonzero(cand >= 0)  # -1 pads short rows
        cols = cand[r, c]
        kept[r, cols] = scores[r, cols]
        scores = kept
    if exclude_history and len(hist.items):
        r = hist.row_ids()
        keep_target = hist.items != targets[r]
        scores[r[keep_target], hist.items[keep_target]] = -np.inf
    return scores


def target_ranks(
    scores: npt.NDArray[np.float32], targets: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    """0-based rank of each row's target; ties rank the lower item index first; ``inf`` if masked."""
    rows = np.arange(len(targets))
    s_t = scores[rows, targets][:, None]
    better = (scores > s_t).sum(axis=1)
    cols = np.arange(scores.shape[1])[None, :]
    tied_before = ((scores == s_t) & (cols < targets[:, None])).sum(axis=1)
    ranks = (better + tied_before).astype(np.float64)
    return np.where(np.isneginf(s_t[:, 0]), np.inf, ranks)


def evaluate(
    model: Recommender,
    cases: EvalCases,
    ks: Sequence[int] = (10,),
    exclude_history: bool | None = None,
    popularity: npt.ArrayLike | None = None,
    batch_size: int = 512,
    progress: bool = False,
) -> Evaluation:
    """Rank every case's target and compute HR, NDCG, MRR at each ``k``, plus item coverage and
    mean popularity (when ``popularity`` is given) of the top-max(k) lists.

    ``exclude_history`` defaults to True for full ranking and False for candidate sets.
    """
    from tqdm.auto import tqdm

    if not len(cases):
        raise DataError("no evaluation cases")
    exclude_history = masks_history(cases, exclude_history)
    max_k = max(ks)
    ranks = np.empty(len(cases), dtype=np.float64)
    top = np.empty((len(cases), max_k), dtype=np.int64)
    starts = batch_starts(len(cases), batch_size)
    for start in tqdm(starts, desc="evaluate", unit="batch", disable=not progress):
        stop = min(start + batch_size, len(cases))
        ranks[start:stop], top[start:stop] = rank_block(
            model, cases, start, stop, exclude_history, max_k
        )
    return summarise(ranks, top, ks, len(model.item_vocab), exclude_history, popularity)


def masks_history(cases: EvalCases, exclude_history: bool | None) -> bool:
    """Whether seen items are masked: as given, else for full ranking and not for candidates."""
    return cases.candidates is None if exclude_history is None else exclude_history


def batch_starts(n_cases: int, batch_size: int) -> range:
    """The first case of each scoring batch; a distributed run scores the same batches, so its
    floating-point sums and ties are the single process's."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return range(0, n_cases, batch_size)


def rank_block(
    model: Recommender,
    cases: EvalCases,
    start: int,
    stop: int,
    exclude_history: bool,
    max_k: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Target ranks and top-``max_k`` lists (``-1`` where fewer items compete) of cases
    ``start:stop``."""
    scores = score_cases(model, cases, start, stop, exclude_history)
    ranks = target_ranks(scores, cases.targets[start:stop])
    best = top_k(scores, max_k)
    best = np.where(np.isfinite(np.take_along_axis(scores, best, axis=1)), best, -1)
    top = np.full((stop - start, max_k), -1, dtype=np.int64)
    top[:, : best.shape[1]] = best
    return ranks, top


def summarise(
    ranks: npt.NDArray[np.float64],
    top: npt.NDArray[np.int64],
    ks: Sequence[int],
    n_items: int,
    exclude_history: bool,
    popularity: npt.ArrayLike | None = None,
) -> Evaluation:
    """HR, NDCG and MRR at each ``k`` from the target ranks, with coverage and popularity of the
    top lists."""
    max_k = max(ks)
    metrics: list[MetricValue] = []
    for k in sorted(set(ks)):
        metrics += [
            MetricValue("hr", k, float(hit_from_ranks(ranks, k).mean())),
            MetricValue("ndcg", k, float(ndcg_from_ranks(ranks, k).mean())),
            MetricValue("mrr", k, float(mrr_from_ranks(ranks, k).mean())),
        ]
    lists = [row[row >= 0].tolist() for row in top]
    metrics.append(MetricValue("coverage", max_k, item_coverage(lists, n_items, max_k)))
    if popularity is not None:
        metrics.append(MetricValue("popularity", max_k, mean_popularity(lists, popularity, max_k)))
    return Evaluation(ranks, top, tuple(metrics), exclude_history)
