"""Approximate search with FAISS (package ``faiss-cpu``): HNSW, IVF or IVF-PQ, inner product."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class FaissIndex:
    """HNSW (``m`` links, ``ef_search``), IVF (``nlist`` cells, ``nprobe`` probed) or IVF-PQ
    (IVF cells holding ``pq_bytes``-byte product-quantised codes; ``refine`` re-ranks that many
    times ``k`` candidates with the exact vectors, 0 = codes only)."""

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
        pq_bytes: int = 0,
        refine: int = 0,
        train_size: int = 100_000,
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
        elif kind in ("ivf", "ivfpq"):
            cells = nlist or max(1, int((4 if kind == "ivfpq" else 1) * np.sqrt(len(data))))
            quantizer = faiss.IndexFlatIP(dim)
            if kind == "ivf":
                ivf: Any = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
            else:
                codes = pq_bytes or _pq_bytes(dim)
                if dim % codes:
                    raise ValueError(f"pq_bytes {codes} must divide the dimension {dim}")
                ivf = faiss.IndexIVFPQ(quantizer, dim, cells, codes, 8, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = (
                data
                if len(data) <= train_size
                else data[rng.choice(len(data), train_size, replace=False)]
            )
            ivf.train(sample)
            ivf.nprobe = nprobe
            self._index = ivf
            if kind == "ivfpq" and refine:
                self._index = faiss.IndexRefineFlat(ivf)
                self._index.k_factor = refine
            self._index.add(data)
            self._parts = (quantizer, ivf)  # FAISS does not own the sub-indexes
        else:
            raise ValueError(f"unknown FAISS index kind {kind!r}")
        self.size = len(data)

    def memory_bytes(self) -> int:
        """The index's serialised size: what it holds in memory, vectors or codes included."""
        import faiss

        return int(faiss.serialize_index(self._index).nbytes)

    def __len__(self) -> int:
        return self.size

    def search(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        scores, ids = self._index.search(q, k)
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        return scores, ids.astype(np.int64)


def _pq_bytes(dim: int) -> int:
    """Bytes per code: the divisor of ``dim`` nearest ``dim / 8`` (48 for 384-d MiniLM)."""
    return min((d for d in range(1, dim + 1) if dim % d == 0), key=lambda d: abs(d - dim / 8))
