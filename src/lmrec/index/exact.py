"""Exact inner-product search by batched matrix products."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lmrec.index.topk import top_k


class ExactIndex:
    """Brute force: ``queries @ vectors.T`` in batches, ties broken by ascending row number."""

    def __init__(self, vectors: npt.NDArray[np.float32], batch_size: int = 0) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        # default: score blocks of at most 2^26 floats (256 MiB), 1,024 queries on small catalogues
        self.batch_size = batch_size or max(1, min(1024, 2**26 // max(len(self.vectors), 1)))

    def __len__(self) -> int:
        return len(self.vectors)

    def search(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        width = min(k, len(self.vectors))
        for start in range(0, len(queries), self.batch_size):
            block = queries[start : start + self.batch_size] @ self.vectors.T
            best = top_k(block, width)
            ids[start : start + len(block), :width] = best
            scores[start : start + len(block), :width] = np.take_along_axis(block, best, axis=1)
        return scores, ids
