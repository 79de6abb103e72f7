"""The index contract and its factory."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

IndexKind = Literal["exact", "hnsw", "ivf", "ivfpq"]


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product search: rows of ``queries`` against the indexed vectors."""

    def search(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(scores, ids), each (n_queries, k), best first; ids are row numbers of the vectors;
        ``-1`` / ``-inf`` pad rows when fewer than ``k`` vectors exist."""
        ...


def build_index(
    vectors: npt.NDArray[np.float32], kind: IndexKind = "exact", **options: int
) -> VectorIndex:
    """An index over ``vectors`` (unit-length rows for cosine). ``kind``: exact | hnsw | ivf |
    ivfpq."""
    if kind == "exact":
        from lmrec.index.exact import ExactIndex

        return ExactIndex(vectors, **options)
    if kind in ("hnsw", "ivf", "ivfpq"):
        from lmrec.index.faiss_index import FaissIndex

        return FaissIndex(vectors, kind, **options)
    raise ValueError(f"unknown index kind {kind!r}; choose exact, hnsw, ivf or ivfpq")
