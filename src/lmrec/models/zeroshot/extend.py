"""New items for a fitted zero-shot model: embed their text, append (or replace) their rows.

Copy-on-write: the fitted model is never changed, so requests in flight finish on it while the
widened copy serves the next ones. Vectors are centred with the fitted catalogue's mean (old
rows stay valid); the cached item × item similarity matrix is widened by the new rows only.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.core.fitted import FittedState
from lmrec.data.containers import ItemCatalog
from lmrec.data.runtime_items import widened, with_rows
from lmrec.models.zeroshot.maxsim import HEADROOM


def with_items(model: Any, catalog: ItemCatalog, item_ids: Sequence[str]) -> Any:
    """A copy of ``model`` (a fitted ``ZeroShotTextRecommender``; not imported here, which
    imports this module) that also scores ``item_ids`` from their text in ``catalog``."""
    from lmrec.data.templates import item_template

    state = model.fitted_state()
    wanted = list(dict.fromkeys(item_ids))
    if not wanted:
        return model
    template = item_template(model.context.dataset, catalog, model.config.template)
    texts = template.render(catalog, wanted)
    vectors = model._centre(model._embed(texts))
    vocab, rows = widened(state.item_vocab, wanted)
    emb = model.item_embeddings
    grown = with_rows(emb, len(vocab), rows, vectors)
    out = copy.copy(model)
    out.item_embeddings = grown
    out.prior = np.concatenate([model.prior, np.zeros(len(vocab) - len(emb), np.float32)])
    out.item_texts = list(model.item_texts) + [""] * (len(vocab) - len(emb))
    for row, text in zip(rows.tolist(), texts, strict=True):
        out.item_texts[row] = text
    out._state = FittedState(state.user_vocab, vocab, state.histories)
    out._index, out._neighbours = None, None
    out._sims = None if model._sims is None else _widened(model, grown, rows)
    return out


def _widened(
    model: Any, emb: npt.NDArray[np.float32], rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """The item × item cosine matrix over ``emb``: a view of a buffer with room for
    :data:`HEADROOM` more items, so an added item costs one new row and column, not a copy of
    the whole matrix (16,859 items: 1.1 GB). The fitted model's view is left as it was, except
    for the rows of items whose text changed."""
    sims: npt.NDArray[np.float32] = model._sims
    n, old = len(emb), len(sims)
    buffer = sims.base  # similarity_rows(spare=...) leaves room; a plain array has no base
    if not isinstance(buffer, np.ndarray) or buffer.ndim != 2 or len(buffer) < n:
        buffer = np.empty((n + HEADROOM, n + HEADROOM), dtype=np.float32)
        buffer[:old, :old] = sims
    changed = np.unique(np.concatenate([rows, np.arange(old, n)]))
    block = emb[changed] @ emb.T
    buffer[changed, :n] = block
    buffer[:n, changed] = block.T
    return buffer[:n, :n]
