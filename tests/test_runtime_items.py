"""Runtime items on every surface besides HTTP: the one field check (property-based), the bulk
import, the store exported as a dataset, and the retraining round of ``serve --retrain-every``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli, write
from lmrec.data.errors import DataError
from lmrec.data.registry import load_dataset
from lmrec.data.runtime_items import (
    ItemFieldError,
    RuntimeItem,
    check_item_fields,
    check_item_id,
    extend_catalog,
)
from lmrec.service.catalogue import put_items, stored_item
from lmrec.service.store import Store
from text_helpers import tiny_catalog

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=2)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.dictionaries(st.sampled_from(["title", "genre", "colour", ""]), values, max_size=3),
    item_id=st.text(max_size=140),
)
def test_any_item_is_checked_or_refused_naming_a_field(
    fields: dict[str, Any], item_id: str
) -> None:
    catalog = tiny_catalog()
    try:
        check_item_id(item_id)
        typed = check_item_fields(catalog, fields, new=True)
    except ItemFieldError as exc:
        assert exc.field in ("item_id", "fields", *fields.keys(), "title")
        return
    widened = extend_catalog(catalog, [RuntimeItem(item_id, typed)])
    assert widened.ids.ids[-1] == item_id or item_id in catalog.ids
    assert widened.title(item_id).strip()  # a new item always has a title
    json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in typed.items()})


@pytest.fixture
def shop(shop_data: Path) -> Path:
    return shop_data


def test_items_import_checks_every_record_before_writing_any(shop: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bulk.sqlite'}"
    bad = write(
        tmp_path / "bad.jsonl",
        '{"item_id": "70", "title": "Dune"}\n{"item_id": "71", "title": "X", "colour": "red"}\n',
    )
    refused = run_cli(shop, "items import", "-d", "shop", "--from", str(bad), "--store", url)
    assert refused.exit_code != 0
    assert "line 2" in refused.output and "colour" in refused.output
    store = Store.open(url)
    assert stored_item(store, "70") is None  # nothing of the file was written
    good = write(
        tmp_path / "good.csv", "item_id,title,genre\n70,Dune,Sci-Fi\n10,Star Wars (1977),Sci-Fi\n"
    )
    done = run_cli(shop, "items import", "-d", "shop", "--from", str(good), "--store", url)
    assert done.exit_code == 0, done.output
    assert "1 items added, 1 updated" in done.output
    item = stored_item(store, "10")
    assert item is not None and item.title == "Star Wars (1977)" and item.source == "dataset"
    store.close()


def test_the_store_exports_as_a_dataset_with_its_events_and_items(
    shop: Path, tmp_path: Path
) -> None:
    from lmrec.service.store import FeedbackEvent

    url = f"sqlite:///{tmp_path / 'export.sqlite'}"
    store = Store.open(url)
    store.import_dataset(load_dataset("shop", shop))
    put_items(store, [RuntimeItem("70", {"title": "Dune", "genre": ("Sci-Fi",)})], ["Dune"])
    store.append_feedback(FeedbackEvent("k", "new-user", "70", "rating", 4.0, 10.0))
    store.close()
    done = run_cli(shop, "data export", "shop", "--store", url, "--as", "shop-live")
    assert done.exit_code == 0, done.output
    exported = load_dataset("shop-live", shop)
    assert len(exported.interactions) == 16 and "new-user" in exported.interactions.user_vocab
    assert exported.catalog is not None and exported.catalog.title("70") == "Dune"
    again = run_cli(shop, "data export", "shop", "--store", url, "--as", "shop-live")
    assert again.exit_code != 0 and "--force" in again.output
    other = run_cli(shop, "train", "-d", "shop", "-m", "pop", "-o", str(tmp_path / "m"))
    assert other.exit_code == 0
    wrong = Store.open(f"sqlite:///{tmp_path / 'wrong.sqlite'}")
    wrong.import_dataset(load_dataset("shop-live", shop))
    wrong.close()
    with pytest.raises(DataError, match="holds dataset 'shop-live', not 'shop'"):
        from lmrec.service.training_data import with_store

        with_store(load_dataset("shop", shop), f"sqlite:///{tmp_path / 'wrong.sqlite'}")


def test_a_retraining_round_trains_on_the_store_and_asks_for_a_swap(
    shop: Path, tmp_path: Path
) -> None:
    from lmrec.service.catalogue import swaps_since
    from lmrec.service.retrain import Retrainer, RetrainPlan

    url = f"sqlite:///{tmp_path / 'retrain.sqlite'}"
    store = Store.open(url)
    store.import_dataset(load_dataset("shop", shop))
    plan = RetrainPlan("shop", "itemknn", url, tmp_path / "rounds", 1, (), str(shop), keep=1)
    retrainer = Retrainer(plan)
    first = retrainer.round(store)
    second = retrainer.round(store)
    assert first is not None and second is not None, retrainer.stats.last_error
    assert (second / "config.json").is_file() and not first.exists()  # keep=1
    assert [s.checkpoint for s in swaps_since(store, 0)] == [str(first), str(second)]
    assert retrainer.stats.rounds == 2 and retrainer.stats.last_seconds
    broken = Retrainer(RetrainPlan("shop", "no-such-model", url, tmp_path / "r2", 1, (), str(shop)))
    assert broken.round(store) is None and "no-such-model" in (broken.stats.last_error or "")
    store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--retrain-every", "0"], "--retrain-every"),
        (["--watch", "/nonexistent/folder"], "no such folder"),
        (["--retrain-every", "5", "--retrain-dir", "{tmp}/a-file/rounds"], "not a writable folder"),
    ],
)
def test_serve_refuses_bad_living_options(
    shop: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    store = f"sqlite:///{tmp_path / 'opts.sqlite'}"
    (tmp_path / "a-file").write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = run_cli(shop, "serve", "-d", "shop", "-m", "pop", "--store", store, *args)
    assert result.exit_code != 0 and message in result.output, result.output


def test_a_text_model_grown_by_new_items_scores_them_and_leaves_the_original_alone(
    tmp_path: Path,
) -> None:
    import numpy as np

    from lmrec.core.fitted import ModelContext
    from lmrec.core.query import Query
    from lmrec.models.zeroshot import ZeroShotConfig, ZeroShotTextRecommender
    from service_helpers import tiny_dataset
    from text_helpers import TrigramEncoder

    ds = tiny_dataset(tmp_path)
    assert ds.catalog is not None
    context = ModelContext("tiny", ds.catalog, cache_dir=tmp_path, encoder=TrigramEncoder())
    model = ZeroShotTextRecommender(ZeroShotConfig(center=False), context).fit(ds.interactions)
    assert model.recommend(Query(history=("10",), k=1)).items  # builds the similarity rows
    before = np.array(model._sims)
    new = RuntimeItem("70", {"title": "Star Wars Returns", "genre": ("Sci-Fi",)})
    grown = model.with_items(extend_catalog(ds.catalog, [new]), ["70"])
    assert len(model.item_vocab) == 6 and np.array_equal(model._sims, before)
    assert grown.item_vocab.ids[-1] == "70" and grown._sims is not None
    emb = grown.item_embeddings
    np.testing.assert_allclose(grown._sims, emb @ emb.T, atol=1e-6)
    assert grown.recommend(Query(history=("10",), k=1)).items == ("70",)
    again = grown.with_items(extend_catalog(ds.catalog, [new]), ["70"])  # an update: no new row
    assert len(again.item_vocab) == 7 and np.shares_memory(again._sims, grown._sims)
