"""lmrec: language-model-powered recommendation.

The top-level package stays import-light: heavy libraries (torch, transformers, faiss) are imported
inside the functions that need them, so ``import lmrec`` and ``lmrec --help`` are fast.
"""

from lmrec.core.query import Query, Ranking
from lmrec.core.recommender import Recommender
from lmrec.data.containers import (
    Dataset,
    Interactions,
    ItemCatalog,
    KnowledgeGraph,
    Sequences,
    Vocabulary,
)

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "Interactions",
    "ItemCatalog",
    "KnowledgeGraph",
    "Query",
    "Ranking",
    "Recommender",
    "Sequences",
    "Vocabulary",
    "__version__",
]
