"""Cases for the re-ranker and the fusion of its letter scores with the retriever's.

Training cases come from the last few positions of each user's training sequence, retrieved by a
retriever fitted without them, so the adapter sees many cases and never one whose answer the
retriever has memorised. The fused score of a candidate is ``w * LM + (1 - w) * retriever``, both
standardised within the query's candidates; ``w`` (and whether the retriever's part is its score
or its rank) is chosen on held-out cases, and ``w = 0`` is the retriever alone, so a re-ranker that
does not help is switched off rather than kept at a loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lmrec.core.query import QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Interactions, Sequences
from lmrec.index.topk import top_k
from lmrec.llm.ranking.candidates import unseen_scores
from lmrec.metrics.ranking import ndcg_from_ranks
from lmrec.protocols.base import EvalCases

WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 21))
Kind = Literal["rank", "score"]


def tail_cases(train: Interactions, n: int) -> tuple[EvalCases, Interactions]:
    """The last ``n`` items of each user's sequence as cases (a case keeps at least one item of
    history before it, so a user gives at most ``len - 1``), and the log without those items."""
    order = train.chronological_order()
    users = train.users[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    lengths = np.diff(np.r_[starts, len(users)])
    position = np.arange(len(users)) - np.repeat(starts, lengths)
    from_end = np.repeat(lengths, lengths) - position  # 1 = the user's last item
    picked = (from_end <= n) & (position >= 1)
    keep = np.ones(len(train), dtype=bool)
    keep[order[picked]] = False
    items = train.items[order]
    rows = np.flatnonzero(picked)
    histories = [items[starts[np.searchsorted(starts, r, "right") - 1] : r] for r in rows]
    cases = EvalCases(
        users[rows].astype(np.int32),
        items[rows],
        Sequences.from_lists([h.tolist() for h in histories]),
    )
    return cases, train.select(keep)


def retrieved(
    retriever: Recommender, batch: QueryBatch, depth: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Every item by the retriever (history last), its top ``depth`` and their scores."""
    base = unseen_scores(retriever, batch)
    order = top_k(base, base.shape[1])
    cand = order[:, :depth].astype(np.int32)
    scores = np.take_along_axis(base, cand.astype(np.int64), axis=1)
    return order, cand, np.nan_to_num(scores, neginf=np.nan).astype(np.float32)


@dataclass(frozen=True)
class HeldOut:
    """Held-out cases as a re-ranker sees them: the retriever's top ``depth`` and their scores
    for every case, the rows whose target is among them, its column there and their histories."""

    cand: npt.NDArray[np.int32]
    scores: npt.NDArray[np.float32]
    rows: npt.NDArray[np.int64]
    columns: npt.NDArray[np.int64]
    histories: list[list[int]]
    n: int

    @classmethod
    def of(cls, retriever: Recommender, cases: EvalCases, depth: int) -> HeldOut:
        """``cases`` retrieved by ``retriever`` (fitted without their targets)."""
        _, cand, scores = retrieved(retriever, QueryBatch(cases.users, cases.histories), depth)
        hit = cand == np.asarray(cases.targets)[:, None]
        rows = np.flatnonzero(hit.any(axis=1))
        histories = [cases.histories[int(r)].tolist() for r in rows]
        return cls(cand, scores, rows, hit[rows].argmax(axis=1), histories, len(cases))

    def full(self, lm_rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The LM's scores of the hit rows spread to every case (0 where the target was
        missed: those cases score 0 whatever the LM says)."""
        lm = np.zeros(self.cand.shape, dtype=np.float32)
        lm[self.rows] = lm_rows
        return lm


def _standardised(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each row to mean 0 and sd 1 over its finite entries (a constant row becomes 0)."""
    x = np.where(np.isfinite(x), x, np.nan)
    mean = np.nanmean(x, axis=1, keepdims=True)
    sd = np.nanstd(x, axis=1, keepdims=True)
    z: npt.NDArray[np.float64] = (x - mean) / np.where(sd > 0, sd, 1.0)
    return np.nan_to_num(z, nan=-1e3)


def retriever_part(kind: Kind, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """The retriever's side of the fusion: its scores, or -log(1 + rank) of the order its scores
    give (ties: the earlier column first)."""
    if kind == "score":
        return _standardised(scores.astype(np.float64))
    filled = np.where(np.isfinite(scores), scores, -np.inf)
    order = np.argsort(-filled, axis=1, kind="stable")
    rank = np.empty(scores.shape, dtype=np.float64)
    np.put_along_axis(rank, order, np.arange(scores.shape[1], dtype=np.float64)[None, :], axis=1)
    part = -np.log1p(rank)
    part[~np.isfinite(scores)] = np.nan
    return _standardised(part)


@dataclass(frozen=True)
class Fusion:
    """The chosen fusion and what it scored on the held-out cases (NDCG@10 over all of them)."""

    kind: Kind = "rank"
    weight: float = 1.0
    cases: int = 0
    fused_ndcg: float = 0.0
    retriever_ndcg: float = 0.0
    lm_ndcg: float = 0.0
    gain_se: float = 0.0  # paired-bootstrap SE of the best weight's NDCG minus the retriever's
    best_weight: float = 0.0  # the best weight on the held-out cases, before the margin
    best_gain: float = 0.0  # its NDCG@10 minus the retriever's there

    def fuse(
        self, lm: npt.NDArray[np.float32], retriever_scores: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float64]:
        """The fused score of each candidate (``lm``: the letter logits, -inf for padding)."""
        z = _standardised(lm.astype(np.float64))
        return _mix(self.weight, z, retriever_part(self.kind, retriever_scores), lm)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mix(
    weight: float,
    lm_z: npt.NDArray[np.float64],
    part: npt.NDArray[np.float64],
    lm: npt.NDArray[np.float32],
) -> npt.NDArray[np.float64]:
    """``weight`` of the standardised LM plus the rest of the retriever's part; padding -inf."""
    return np.where(np.isfinite(lm), weight * lm_z + (1.0 - weight) * part, -np.inf)


def column_ranks(
    scores: npt.NDArray[np.float64], columns: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """0-based rank of each row's target (column ``columns``) among the row's candidates; ties
    are broken against the target."""
    target = scores[np.arange(len(columns)), columns]
    ranks: npt.NDArray[np.int64] = (scores >= target[:, None]).sum(axis=1) - 1
    return ranks


def _ndcg(
    scores: npt.NDArray[np.float64], letters: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Per case: NDCG@10 of the target among the row's candidates."""
    return ndcg_from_ranks(column_ranks(scores, letters).astype(np.float64), 10)


def choose_fusion(
    lm: npt.NDArray[np.float32],
    retriever_scores: npt.NDArray[np.float32],
    letters: npt.NDArray[np.int64],
    n_cases: int,
    seed: int = 0,
    margin: float = 2.0,
) -> Fusion:
    """The (kind, weight) with the best mean NDCG@10 over ``n_cases`` held-out cases, of which
    the rows given are those whose target the retriever put among the candidates (column
    ``letters``); the others score 0 whatever the weight. Ties go to the smaller weight, and a
    gain over the retriever under ``margin`` paired-bootstrap SEs is treated as noise: weight 0.
    """
    if n_cases < 1 or len(letters) == 0:
        return Fusion(weight=0.0, cases=n_cases)
    lm_z = _standardised(lm.astype(np.float64))  # both sides standardised once, then mixed
    parts: dict[Kind, npt.NDArray[np.float64]] = {
        k: retriever_part(k, retriever_scores) for k in ("rank", "score")
    }
    ref = _ndcg(_mix(0.0, lm_z, parts["rank"], lm), letters)
    best: tuple[float, Fusion, npt.NDArray[np.float64]] | None = None
    for kind, part in parts.items():
        for weight in WEIGHTS:
            per = _ndcg(_mix(weight, lm_z, part, lm), letters)
            if best is None or float(per.sum()) > best[0] + 1e-12:
                best = (float(per.sum()), Fusion(kind, weight), per)
    assert best is not None
    chosen = best[1]
    per_case = np.zeros(n_cases)
    per_case[: len(letters)] = best[2] - ref
    rng = np.random.default_rng(seed)
    se = float(np.std([per_case[rng.integers(0, n_cases, n_cases)].mean() for _ in range(1000)]))
    fused, top = best[0], chosen.weight
    if fused - ref.sum() <= margin * se * n_cases:
        chosen, fused = Fusion(chosen.kind, 0.0), float(ref.sum())
    alone = _ndcg(_mix(1.0, lm_z, parts["rank"], lm), letters)
    return Fusion(
        chosen.kind,
        chosen.weight,
        n_cases,
        round(fused / n_cases, 5),
        round(float(ref.sum()) / n_cases, 5),
        round(float(alone.sum()) / n_cases, 5),
        round(se, 5),
        top,
        round(float(best[0] - ref.sum()) / n_cases, 5),
    )
