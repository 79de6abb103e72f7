"""Kinds of input on the service: request bodies (JSON types as declared, text and ids that are
valid text), idempotency keys, store identity (the dataset's content hash), stores shared by
processes starting at once, and the library and the service giving the same lists."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import run_cli, write
from lmrec.data.containers import Dataset
from lmrec.service.store import Store, StoreError
from service_helpers import tiny_dataset


@pytest.fixture
def client(tmp_path: Path) -> Any:
    from lmrec.models.classic.itemknn import ItemKNN
    from lmrec.service.api import create_app
    from lmrec.service.engine import RecommendService

    ds = tiny_dataset(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.import_dataset(ds)
    model = ItemKNN().fit(ds.interactions)
    service = RecommendService(ds, model, store, model_name="itemknn")
    with TestClient(create_app(service), raise_server_exceptions=False) as http:
        yield http
    service.close()


def raw(body: str) -> dict[str, Any]:
    return {"content": body, "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"user_id": "u1", "k": true}', "k"),
        ('{"user_id": "u1", "k": "3"}', "k"),
        ('{"user_id": "u1", "explain": "yes"}', "explain"),
        ('{"user_id": "u1", "exclude": ["\\ud800"]}', "exclude[0]"),
        ('{"user_id": "u1", "exclude": ["a\\u0000"]}', "exclude[0]"),
        ('{"user_id": "u1", "domain": "games"}', "domain"),
    ],
)
def test_recommend_bodies_of_the_wrong_kind_are_422_naming_the_field(
    client: Any, body: str, field: str
) -> None:
    answer = client.post("/recommend", **raw(body))
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    if field == "domain":
        assert "combine" not in answer.text and "'tiny' is one" in answer.text


@pytest.mark.parametrize("text", ["\\ud800 star", "a\\u0000b"])
def test_free_text_that_is_not_valid_text_is_422_not_500(tmp_path: Path, text: str) -> None:
    import json

    from lmrec.core.fitted import ModelContext
    from lmrec.models.zeroshot import ZeroShotConfig, ZeroShotTextRecommender
    from lmrec.service.engine import RecommendService
    from lmrec.service.errors import Invalid
    from lmrec.service.messages import RecommendQuery
    from text_helpers import TrigramEncoder

    ds = tiny_dataset(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 't.sqlite'}")
    store.import_dataset(ds)
    context = ModelContext("tiny", ds.catalog, cache_dir=tmp_path, encoder=TrigramEncoder())
    model = ZeroShotTextRecommender(ZeroShotConfig(), context).fit(ds.interactions)
    service = RecommendService(ds, model, store, model_name="zeroshot")
    decoded = json.loads(f'"{text}"')
    try:
        with pytest.raises(Invalid, match="the text holds") as refused:
            service.recommend(RecommendQuery(text=[decoded]))
        assert refused.value.field == "text[0]"
    finally:
        service.close()


@pytest.mark.parametrize(
    "extra", [{"value": True, "kind": "rating"}, {"timestamp": True}, {"timestamp": "5"}]
)
def test_feedback_numbers_are_numbers(client: Any, extra: dict[str, Any]) -> None:
    event = {"user_id": "u1", "item_id": "60", "kind": "click", "idempotency_key": "n1", **extra}
    answer = client.post("/feedback", json=event)
    assert answer.status_code == 422, answer.text


def test_two_different_idempotency_keys_in_one_request_are_refused(client: Any) -> None:
    event = {"user_id": "u1", "item_id": "60", "kind": "click", "idempotency_key": "K2"}
    both = client.post("/feedback", json=event, headers={"Idempotency-Key": "H1"})
    assert both.status_code == 422 and both.json()["field"] == "idempotency_key"
    del event["idempotency_key"]
    retry = client.post("/feedback", json=event, headers={"Idempotency-Key": "H1"})
    again = client.post("/feedback", json=event, headers={"Idempotency-Key": "H1"})
    assert retry.json()["duplicate"] is False and again.json()["duplicate"] is True
    same = client.post("/feedback", json={**event, "idempotency_key": "H2"}, headers={})
    assert same.status_code == 200  # one key given twice the same way is fine too
    agree = {**event, "idempotency_key": "H1"}
    assert client.post("/feedback", json=agree, headers={"Idempotency-Key": "H1"}).json()[
        "duplicate"
    ]


def changed_copy(ds: Dataset) -> Dataset:
    import dataclasses

    import numpy as np

    inter = ds.interactions
    later = dataclasses.replace(inter, timestamps=np.asarray(inter.timestamps) + 1.0)
    return dataclasses.replace(ds, interactions=later)


def test_a_store_serves_only_the_copy_of_the_dataset_it_was_made_from(tmp_path: Path) -> None:
    from lmrec.service.build import default_store_url

    ds = tiny_dataset(tmp_path)
    other = changed_copy(ds)  # same name, same ids, other rows: what `import --force` leaves
    assert default_store_url(ds) != default_store_url(other)  # each copy its own default store
    (tmp_path / "again").mkdir()
    assert default_store_url(ds) == default_store_url(tiny_dataset(tmp_path / "again"))
    store = Store.open(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        store.import_dataset(ds)
        with pytest.raises(StoreError, match="another copy of 'tiny'.*Use another --store"):
            store.import_dataset(other)
        assert store.import_dataset(ds) is None
    finally:
        store.close()


def test_training_on_a_store_of_another_copy_is_refused(tmp_path: Path) -> None:
    from lmrec.data.errors import DataError
    from lmrec.service.training_data import with_store

    ds = tiny_dataset(tmp_path)
    url = f"sqlite:///{tmp_path / 'y.sqlite'}"
    store = Store.open(url)
    store.import_dataset(ds)
    store.close()
    with pytest.raises((StoreError, DataError), match="another copy"):
        with_store(changed_copy(ds), url)


def _import(url: str, folder: str, results: Any) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        store = Store.open(url)
        results.put(("ok", store.import_dataset(tiny_dataset(Path(folder))) is not None))
        store.close()
    except Exception as exc:  # the assertion below shows it
        results.put(("error", repr(exc)))


def test_processes_starting_at_once_on_a_new_store_both_start(tmp_path: Path) -> None:
    for attempt in range(2):
        url = f"sqlite:///{tmp_path / f'race{attempt}.sqlite'}"
        results: Any = multiprocessing.get_context("spawn").Queue()
        folders = [tmp_path / f"f{attempt}-{i}" for i in range(2)]
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_import, args=(url, str(f), results)) for f in folders]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        outcomes = sorted(results.get(timeout=10) for _ in procs)
        assert outcomes == [("ok", False), ("ok", True)], outcomes  # one imported, one found it


def test_keys_on_a_read_only_store_is_an_error_naming_it(tmp_path: Path, shop_data: Path) -> None:
    path = tmp_path / "ro.sqlite"
    Store.open(f"sqlite:///{path}").close()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"  # read-only even for root
    result = run_cli(shop_data, f"keys create -d shop --store {url}")
    assert result.exit_code == 2 and "readonly" in result.output, result.output


def test_keys_on_an_unreachable_store_is_an_error_naming_it(shop_data: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    result = run_cli(shop_data, f"keys list -d shop --store {url}")
    assert (
        result.exit_code == 2 and "127.0.0.1" in result.output and "Traceback" not in result.output
    )


def test_keys_in_a_folder_that_takes_no_files(shop_data: Path) -> None:
    result = run_cli(shop_data, "keys list -d shop --store sqlite:////proc/nope/k.sqlite")
    assert result.exit_code == 2 and "store" in result.output, result.output


def test_library_and_service_agree_for_200_users(data_dir: Path, tmp_path: Path) -> None:
    """The 200 users with the longest ML-100K histories (up to 737): the same top 20 from
    ``Recommender.recommend`` and ``/recommend``, and none of it already rated."""
    import numpy as np

    from lmrec.core.query import Query
    from lmrec.data.registry import load_dataset
    from lmrec.models.build import build_model
    from lmrec.service.engine import RecommendService
    from lmrec.service.messages import RecommendQuery

    ds = load_dataset("ml-100k", data_dir)
    model = build_model(ds, "itemknn")
    inter = ds.interactions
    sequences = inter.sequences()
    lengths = np.asarray([len(s) for s in sequences])
    heaviest = np.argsort(-lengths, kind="stable")[:200]
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.import_dataset(ds)
    service = RecommendService(ds, model, store, model_name="itemknn")
    try:
        for row in heaviest:
            user = inter.user_vocab.ids[int(row)]
            rated = set(inter.item_vocab.decode(sequences[int(row)]))
            library = model.recommend(Query(user=user, k=20)).items
            served = service.recommend(RecommendQuery(user_id=user, k=20))
            assert tuple(r.item_id for r in served.items) == library, user
            assert not rated & set(library) and served.history_length == len(rated)
    finally:
        service.close()
    assert lengths[heaviest[0]] == 737


def test_a_data_file_written_with_a_bom_and_crlf_reads_the_same(tmp_path: Path) -> None:
    from lmrec.data.tabular import ColumnMapping, read_table

    plain = read_table(
        write(tmp_path / "a.csv", "u,i\n1,10\n2,20\n"), ColumnMapping("u", "i", None)
    )
    crlf = tmp_path / "b.csv"
    crlf.write_bytes("\ufeffu,i\r\n1,10\r\n2,20\r\n".encode())
    other = read_table(crlf, ColumnMapping("u", "i", None))
    assert (
        plain.user_vocab.ids == other.user_vocab.ids
        and plain.item_vocab.ids == other.item_vocab.ids
    )


def test_item_fields_are_taken_as_sent_and_checked_once(tmp_path: Path) -> None:
    """`true` is not a price and `"3"` is not a number: PUT /items goes through the one item
    check (``check_item_fields``), which names the field, instead of being coerced first."""
    from lmrec.service.api import create_app
    from lmrec.service.build import build_service

    root = tmp_path / "data"
    (root / "fl").mkdir(parents=True)
    write(
        root / "fl" / "fl.item", "item_id:token\ttitle:token\tprice:float\n10\tA\t3.5\n20\tB\t2\n"
    )
    write(root / "fl" / "fl.inter", "user_id:token\titem_id:token\ttimestamp:float\nu\t10\t1\n")
    service = build_service(
        "fl", "pop", store_url=f"sqlite:///{tmp_path / 'f.sqlite'}", data_dir=root
    )
    with TestClient(create_app(service), raise_server_exceptions=False) as http:
        for body, field in (
            ({"title": "N", "price": True}, "price"),
            ({"title": "N", "price": [True]}, "price"),
            ({"title": "N", "price": "3"}, "price"),
            ({"title": True}, "title"),
        ):
            answer = http.put("/items/n1", json=body)
            assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
        assert http.put("/items/n1", json={"title": "N", "price": 4}).status_code == 201
    service.close()
