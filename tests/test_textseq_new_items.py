"""TextSeqRec and HybridRec take items added while serving: scored by their text at once, the
fitted model left unchanged (requests in flight keep it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.core.query import Query, QueryBatch
from lmrec.data.containers import Sequences
from lmrec.data.runtime_items import RuntimeItem, extend_catalog
from lmrec.models.registry import create_model, load_model
from lmrec.protocols.leave_one_out import LeaveOneOut
from textseq_helpers import COLOURS, TINY, context, domain

pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["textseq", "hybrid"])
def test_a_new_item_is_scored_by_its_text_and_the_fitted_model_is_untouched(
    name: str, tmp_path: Path
) -> None:
    ds = domain("a")
    assert ds.catalog is not None
    split = LeaveOneOut().split(ds.interactions)
    train = {"epochs": 40, "batch_size": 16, "lr": 0.01, "patience": 0}
    model = create_model(name, {**TINY, "train": train}, context(ds, tmp_path))
    model.fit(split.train, split.valid)  # type: ignore[attr-defined]
    reds = [i for i in ds.catalog.ids.ids if "red" in ds.catalog.title(i)][:3]
    before = model.recommend(Query(history=tuple(reds), k=5)).items
    new = RuntimeItem("a-new", {"text": "red red red kiwi"})
    grown = model.with_items(extend_catalog(ds.catalog, [new]), ["a-new"])  # type: ignore[attr-defined]
    assert (
        len(model.item_vocab) == 24
        and model.recommend(Query(history=tuple(reds), k=5)).items == before
    )
    assert grown.item_vocab.ids[-1] == "a-new" and len(grown.item_vocab) == 25
    history = Sequences.from_lists([grown.item_vocab.lookup(reds).tolist()])
    scores = grown.score(QueryBatch(np.full(1, -1, dtype=np.int32), history))[0]
    others = np.arange(len(COLOURS) * 6) >= 6  # the other colours' items (red = the first six)
    assert scores[-1] > np.quantile(scores[:-1][others], 0.9)  # a red item, by its text alone
    ranked = grown.recommend(Query(history=tuple(reds), k=5)).items
    assert "a-new" in ranked
    # a model loaded from its folder (as `lmrec serve --model-dir` loads it) takes it alike
    model.save(tmp_path / "saved")  # type: ignore[attr-defined]
    loaded = load_model(tmp_path / "saved", context(ds, tmp_path))
    again = loaded.with_items(extend_catalog(ds.catalog, [new]), ["a-new"])  # type: ignore[attr-defined]
    np.testing.assert_allclose(
        again.score(QueryBatch(np.full(1, -1, dtype=np.int32), history))[0], scores, atol=1e-5
    )
    if name == "hybrid":
        assert grown.new_item_offset == model.new_item_offset  # type: ignore[attr-defined]
