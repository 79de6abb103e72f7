"""Zero-shot sequential recommendation by semantic matching of item text.

No training on the target data: items are embedded from their catalogue text by a pretrained
sentence encoder, a user is represented in the same space from their ordered history, and items
are ranked by cosine similarity. ``popularity_weight > 0`` blends in log training counts; results
with it must be labelled "zero-shot + popularity" (counts come from target interactions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field

from lmrec.core.fitted import FittedModel, FittedState, ModelContext, best_of, exclusions
from lmrec.core.query import Query, QueryBatch, Ranking
from lmrec.data.containers import Interactions, ItemCatalog, Sequences
from lmrec.errors import ConfigError
from lmrec.index.base import IndexKind, VectorIndex, build_index
from lmrec.index.topk import TopItems, rank_rows
from lmrec.protocols.base import EvalCases
from lmrec.settings import Settings
from lmrec.text.cache import EmbeddingCache
from lmrec.text.encoders import Encoder

if TYPE_CHECKING:
    from lmrec.core.checkpoint import ModelLoader
    from lmrec.models.zeroshot.maxsim import NeighbourLists


class ZeroShotConfig(Settings):
    """Hyper-parameters of :class:`ZeroShotTextRecommender`."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field(
        "minilm",
        description="minilm | use-multilingual | a sentence-transformers name or directory",
    )
    template: str | None = Field(
        None, description="Item text template; None = the dataset's default."
    )
    pooling: Literal["recency-mean", "max-sim", "mean-max", "history-text"] = Field(
        "mean-max",
        description="How a history becomes scores: weighted mean embedding, best "
        "per-item similarity, their blend, or one embedding of the whole history as text.",
    )
    center: bool = Field(
        True,
        description="Subtract the mean embedding of the scored items' texts "
        "(catalogue text only, no interactions) and re-normalise.",
    )
    decay: float = Field(
        0.9, gt=0.0, le=1.0, description="Weight of the item n steps back: decay**n."
    )
    window: int = Field(50, ge=1, description="Use the last `window` history items.")
    max_weight: float = Field(
        0.3, ge=0.0, le=1.0, description="mean-max: share of the max-sim part."
    )
    max_window: int = Field(
        10,
        ge=1,
        description="max-sim looks at the last `max_window` items only (its cost grows "
        "with history length × catalogue size).",
    )
    neighbours: int = Field(
        100,
        ge=1,
        description="mean-max top-k search (serving): nearest neighbours kept per item; "
        "more = fewer items scored exactly per query, same results.",
    )
    similarity_budget_mb: int = Field(
        2048,
        ge=0,
        description="Serving: precompute the item × item cosine matrix when it fits in this "
        "many MiB (Amazon Games: 1,084 MiB); queries then read only their history's rows.",
    )
    popularity_weight: float = Field(0.0, ge=0.0, description="Weight of log(1 + training count).")
    threads: int = Field(1, ge=1, description="CPU threads for the encoder.")
    index: Literal["auto", "exact", "hnsw", "ivf", "ivfpq"] = Field(
        "auto",
        description="Serving search for text and history queries: exact, FAISS HNSW / IVF / "
        "IVF-PQ, or auto (HNSW above `ann_above` items, else exact). Approximate search "
        "proposes candidates that are then scored exactly; evaluation always scores every item.",
    )
    ann_above: int = Field(
        200_000, ge=0, description="index=auto: catalogues above this many items use HNSW."
    )
    ann_candidates: int = Field(
        200, ge=1, description="Approximate search: candidates scored exactly per query."
    )


class ZeroShotTextRecommender(FittedModel):
    """Rank items by cosine similarity between item-text embeddings and a history representation."""

    name: ClassVar[str] = "zeroshot"
    config_type: ClassVar[type[ZeroShotConfig]] = ZeroShotConfig
    reads_text: ClassVar[bool] = True  # Query.text (free-text histories) is understood
    scores_from_text: ClassVar[bool] = True  # every catalogue item, interactions or not

    def __init__(
        self, config: ZeroShotConfig | None = None, context: ModelContext | None = None
    ) -> None:
        self.config = config or ZeroShotConfig()
        self.context = context or ModelContext()
        self.item_embeddings: npt.NDArray[np.float32] = np.empty((0, 0), dtype=np.float32)
        self.prior: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self.mean: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self.item_texts: list[str] = []
        self._encoder: Encoder | None = None
        self._index: VectorIndex | None = None
        self._cache: EmbeddingCache | None = None
        self._neighbours: NeighbourLists | None = None
        self._sims: npt.NDArray[np.float32] | None = None

    def run_label(self, name: str) -> str:
        """``name + " + popularity"`` when target interactions are blended in: not zero-shot."""
        return f"{name} + popularity" if self.config.popularity_weight else name

    @property
    def encoder(self) -> Encoder:
        from lmrec.text.encoders import create_encoder

        if self._encoder is None and self.context.encoder is not None:
            self._encoder = self.context.encoder
        if self._encoder is None:
            self._encoder = create_encoder(self.config.encoder, threads=self.config.threads)
        return self._encoder

    def _embed(self, texts: list[str], progress: bool = False) -> npt.NDArray[np.float32]:
        """Item and history texts go through the on-disk cache (loaded once per model)."""
        if self._cache is None:
            from lmrec.text.cache import EmbeddingCache

            self._cache = EmbeddingCache(self.context.cache_dir)
        vectors, _ = self._cache.encode(self.encoder, texts, progress)
        return vectors

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> ZeroShotTextRecommender:
        from lmrec.data.templates import item_template

        catalog = self.context.catalog
        if catalog is None:
            raise ConfigError(
                "the zero-shot text model needs an item catalogue with text (ModelContext.catalog)"
            )
        template = item_template(self.context.dataset, catalog, self.config.template)
        self._state = FittedState.from_train(train)
        self._index = None
        self._neighbours = None
        self._sims = None
        self.item_texts = template.render(catalog, train.item_vocab.ids)
        embeddings = self._embed(self.item_texts, progress=self.context.progress)
        self.mean = (
            embeddings.mean(axis=0)
            if self.config.center
            else np.zeros(embeddings.shape[1], np.float32)
        )
        self.item_embeddings = self._centre(embeddings)
        counts = train.item_counts().astype(np.float32)
        self.prior = (self.config.popularity_weight * np.log1p(counts)).astype(np.float32)
        return self

    def save(self, directory: Path) -> None:
        """The item vectors as fitted (a loaded model needs neither the catalogue nor the
        encoder, except for free-text queries, which encode with ``config.encoder``)."""
        from lmrec.core.checkpoint import save_state

        tensors = {"item_embeddings": self.item_embeddings, "prior": self.prior, "mean": self.mean}
        config, texts = self.config.model_dump(), {"item_texts": self.item_texts}
        save_state(directory, self.fitted_state(), self.name, config, tensors, texts)

    @classmethod
    def load(
        cls, directory: Path, context: ModelContext | None = None, member: ModelLoader | None = None
    ) -> Self:
        return cls.restore(directory, context)

    @classmethod
    def restore(
        cls, directory: Path, context: ModelContext | None, changes: dict[str, Any] | None = None
    ) -> Self:
        """The saved model, its saved configuration updated with ``changes``."""
        from lmrec.core.checkpoint import load_state, read_meta

        meta = read_meta(directory)
        state, config, tensors = load_state(directory, cls.name, meta)
        model = cls(cls.config_type.model_validate({**config, **(changes or {})}), context)
        model._state = state
        model.item_embeddings = tensors["item_embeddings"]
        model.prior, model.mean = tensors["prior"], tensors["mean"]
        model.item_texts = list(meta["item_texts"])
        return model

    def with_items(self, catalog: ItemCatalog, item_ids: Sequence[str]) -> ZeroShotTextRecommender:
        """A copy that also scores ``item_ids`` from their text (:mod:`.extend`)."""
        from lmrec.models.zeroshot.extend import with_items

        extended: ZeroShotTextRecommender = with_items(self, catalog, item_ids)
        return extended

    def _centre(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        from lmrec.text.encoders import normalise

        return normalise(vectors - self.mean)

    def history_weights(
        self, batch: QueryBatch
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """(row, item, weight) of the last ``window`` items of every history, most recent = 1."""
        hist = batch.histories.truncate(self.config.window)
        return hist.row_ids(), hist.items, self._recency(hist)

    def _recency(self, hist: Sequences) -> npt.NDArray[np.float32]:
        """For every history element, ``decay ** steps back`` (the most recent item = 1)."""
        return np.power(self.config.decay, hist.steps_back()).astype(np.float32)

    def user_vectors(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        """Unit-length recency-weighted mean of each history's item embeddings (0 if empty)."""
        from scipy.sparse import csr_matrix

        rows, items, weights = self.history_weights(batch)
        emb = self.item_embeddings
        # a (queries × items) weight matrix times the embeddings: np.add.at is ~10× slower
        pooled = csr_matrix((weights, (rows, items)), shape=(len(batch), len(emb)))
        users = np.asarray(pooled @ emb, dtype=np.float32)
        users /= np.maximum(np.linalg.norm(users, axis=1, keepdims=True), 1e-12)
        return users

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        self.fitted_state()
        emb = self.item_embeddings
        if self.config.pooling == "history-text":
            return self._score_history_text(batch)
        scores = np.zeros((len(batch), len(emb)), dtype=np.float32)
        if self.config.pooling in ("recency-mean", "mean-max"):
            scores += (1.0 - self._max_share()) * (self.user_vectors(batch) @ emb.T)
        if self.config.pooling in ("max-sim", "mean-max"):
            scores += self._max_share() * self._max_sim(batch)
        return scores + self.prior

    def _max_share(self) -> float:
        return {"recency-mean": 0.0, "max-sim": 1.0}.get(
            self.config.pooling, self.config.max_weight
        )

    def top_items(
        self, batch: QueryBatch, k: int, exclude: Sequence[npt.NDArray[np.int64]]
    ) -> list[TopItems]:
        """Exact top k per query at serving speed (:mod:`lmrec.models.zeroshot.maxsim`): from the history
        items' cosine rows when the n × n matrix fits ``similarity_budget_mb``, else (mean-max)
        with neighbour-list pruning of the max part, else by ranking the full scores."""
        import lmrec.models.zeroshot.maxsim as maxsim

        self.fitted_state()
        if self._ann_serves(batch):
            from lmrec.models.zeroshot.ann import ann_top_items

            return ann_top_items(self, batch, k, exclude)
        emb = self.item_embeddings
        hist = batch.histories.truncate(self.config.window)
        if hist.lengths.min(initial=1) == 0 or self.config.pooling == "history-text":
            return rank_rows(self.score(batch), k, exclude)
        share = self._max_share()
        if len(emb) ** 2 * 4 <= self.config.similarity_budget_mb * 2**20:
            if self._sims is None:
                self._sims = maxsim.similarity_rows(emb, spare=maxsim.HEADROOM)
            weights, ends = self._recency(hist), hist.indptr
            rows = [
                maxsim.scores_from_rows(
                    self._sims,
                    hist[r],
                    weights[ends[r] : ends[r + 1]],
                    self.config.max_window,
                    share,
                )
                for r in range(len(batch))
            ]
            return rank_rows(np.stack(rows) + self.prior, k, exclude)
        if self.config.pooling != "mean-max":
            return rank_rows(self.score(batch), k, exclude)
        if self._neighbours is None:
            self._neighbours = maxsim.NeighbourLists.build(emb, self.config.neighbours)
        means = (1.0 - share) * (self.user_vectors(batch) @ emb.T) + self.prior
        narrow = batch.histories.truncate(min(self.config.window, self.config.max_window))
        weights, ends = self._recency(narrow), narrow.indptr
        out: list[TopItems] = []
        for row in range(len(batch)):
            recent = weights[ends[row] : ends[row + 1]]
            query = maxsim.MeanMaxQuery(means[row], narrow[row], recent, exclude[row], k)
            best, scores_row, _ = maxsim.exact_top_k(query, emb, self._neighbours, share)
            out.append((best, scores_row))
        return out

    def _max_sim(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        """Per item, the best recency-weighted similarity to one of the last ``max_window`` items."""
        emb = self.item_embeddings
        width = min(self.config.window, self.config.max_window)
        hist = batch.histories.truncate(width)
        rows = hist.row_ids()
        pos = np.arange(len(hist.items)) - hist.indptr[rows]
        padded = np.zeros((len(batch), width), dtype=np.int64)
        weight = np.zeros((len(batch), width), dtype=np.float32)
        present = np.zeros((len(batch), width), dtype=bool)
        padded[rows, pos] = hist.items
        weight[rows, pos] = self._recency(hist)
        present[rows, pos] = True
        sims = np.einsum("bwd,nd->bwn", emb[padded], emb, optimize=True) * weight[:, :, None]
        sims[~present] = -np.inf
        best = sims.max(axis=1)
        return np.where(np.isfinite(best), best, 0.0).astype(np.float32)

    def _score_history_text(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        hist = batch.histories.truncate(self.config.window)
        texts = ["; ".join(self.item_texts[i] for i in hist[r]) for r in range(len(batch))]
        users = self._centre(self._embed(texts))
        users[hist.lengths == 0] = 0.0
        return (users @ self.item_embeddings.T + self.prior).astype(np.float32)

    def ann_kind(self) -> IndexKind:
        """The search index serving uses: ``exact`` or an approximate kind (``index=auto``:
        HNSW above ``ann_above`` items)."""
        kind = self.config.index
        if kind == "auto":
            return "hnsw" if len(self.item_embeddings) > self.config.ann_above else "exact"
        return kind

    def _ann_serves(self, batch: QueryBatch) -> bool:
        """History queries go through the approximate index (not history-text pooling, whose
        query vector is one embedding of the whole history)."""
        return (
            self.ann_kind() != "exact"
            and self.config.pooling != "history-text"
            and batch.histories.lengths.min(initial=1) > 0
        )

    def search_recall(self, sample: QueryBatch, k: int = 10) -> float | None:
        """Recall@k of the approximate serving path against exact scores (None: exact)."""
        from lmrec.models.zeroshot.ann import search_recall

        return search_recall(self, sample, k) if self._ann_serves(sample) else None

    def vector_index(self) -> VectorIndex:
        """The search index over item embeddings (built on first use)."""
        if self._index is None:
            self._index = build_index(self.item_embeddings, self.ann_kind())
        return self._index

    def recommend(self, query: Query) -> Ranking:
        if not query.text:
            return super().recommend(query)
        state = self.fitted_state()
        # one-off query text: encoded directly, not written to the cache (a shard per query)
        sentences = self._centre(self.encoder.encode(list(query.text)))
        weights = np.power(self.config.decay, np.arange(len(sentences))[::-1]).astype(np.float32)
        user = weights @ sentences
        user /= max(float(np.linalg.norm(user)), 1e-12)
        excluded = exclusions(state, query, np.empty(0, dtype=np.int64))
        approximate = self.ann_kind() != "exact" and query.domain is None
        if approximate and self.config.popularity_weight == 0.0:
            found, ids = self.vector_index().search(user[None, :], query.k + len(excluded))
            keep = (ids[0] >= 0) & ~np.isin(ids[0], excluded)
            ids_kept, found_kept = ids[0][keep][: query.k], found[0][keep][: query.k]
            return Ranking(tuple(state.item_vocab.decode(ids_kept)), found_kept.astype(np.float32))
        return best_of(state, (self.item_embeddings @ user + self.prior).astype(np.float32), query)
