"""Nearest-neighbour search over item embeddings: exact (default) or FAISS HNSW / IVF."""

from lmrec.index.base import VectorIndex, build_index

__all__ = ["VectorIndex", "build_index"]
