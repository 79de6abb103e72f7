"""Approximate search with FAISS (package ``faiss-cpu``): HNSW or IVF, inner-product metric."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class FaissIndex:
    """HNSW (``m`` links, ``ef_search``) or IVF (``nlist`` cells, ``nprobe`` probed)."""

    def __init__(
        self,
        vectors: npt.NDArray[np.float32],
        kind: str = "hnsw",
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
        nlist: int = 0,
        nprobe: int = 32,
        threads: int = 1,
    ) -> None:
        try:
            import faiss
        except ImportError as exc:
            raise ImportError(
                "approximate search needs: pip install 'lmrec[ann]' (faiss-cpu)"
            ) from exc
        faiss.omp_set_num_threads(threads)
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = data.shape[1]
        self.kind = kind
        self._index: Any
        if kind == "hnsw":
            self._index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efConstruction = ef_construction
            self._index.hnsw.efSearch = ef_search
            self._index.add(data)
        elif kind == "ivf":
            cells = nlist or max(1, int(np.sqrt(len(data))))
            quantizer = faiss.IndexFlatIP(dim)
            self._index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
            self._index.train(data)
            self._index.add(data)
            self._index.nprobe = nprobe
            self._quantizer = quantizer
        else:
            raise ValueError(f"unknown FAISS index kind {kind!r}")
        self.size = len(data)

    def __len__(self) -> int:
        return self.size

    def search(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        scores, ids = self._index.search(q, k)
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        return scores, ids.astype(np.int64)
