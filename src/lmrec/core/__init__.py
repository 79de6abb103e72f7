"""The contract every part of lmrec shares: typed queries and rankings, the ``Recommender``
Protocol with its optional capabilities, and the fitted-state machinery most models build on."""

from lmrec.core.fitted import FittedModel, FittedState, ModelContext, NotFittedError
from lmrec.core.query import Query, QueryBatch, Ranking
from lmrec.core.recommender import Persistable, Recommender, TopKRecommender

__all__ = [
    "FittedModel",
    "FittedState",
    "ModelContext",
    "NotFittedError",
    "Persistable",
    "Query",
    "QueryBatch",
    "Ranking",
    "Recommender",
    "TopKRecommender",
]
