"""Top-k selection with the library's tie rule: equal scores rank by ascending index."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

TopItems = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


def rank_rows(
    scores: npt.NDArray[np.float32], k: int, exclude: Sequence[npt.NDArray[np.int64]]
) -> list[TopItems]:
    """Per row: the top ``k`` (indices, scores) after removing ``exclude[row]``; never ``-inf``."""
    out: list[TopItems] = []
    for row, banned in enumerate(exclude):
        line = scores[row].astype(np.float32, copy=True)
        line[banned] = -np.inf
        best = top_k(line[None, :], k)[0]
        best = best[np.isfinite(line[best])]
        out.append((best, line[best]))
    return out


def top_k(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Indices of the ``k`` best columns per row; ties → ascending index; ``-inf`` columns last."""
    k = min(k, scores.shape[-1])
    if k <= 0:
        return np.empty((*scores.shape[:-1], 0), dtype=np.int64)
    if scores.ndim == 2 and k < scores.shape[1] // 4:
        # Candidates: everything at least as good as the k-th best value (ties included), then
        # only they are sorted, by (score descending, index ascending).
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
        out = np.empty((len(scores), k), dtype=np.int64)
        for row, line in enumerate(scores):
            cand = np.flatnonzero(line >= kth[row])
            out[row] = cand[np.lexsort((cand, -line[cand]))[:k]]
        return out
    if k < scores.shape[-1] // 4:
        kth = -np.partition(-scores, k - 1, axis=-1)[..., k - 1 : k]
        masked = np.where(scores >= kth, scores, -np.inf)
        return np.argsort(-masked, axis=-1, kind="stable")[..., :k].astype(np.int64)
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k].astype(np.int64)
