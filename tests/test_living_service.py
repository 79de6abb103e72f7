"""The living service on SQLite and PostgreSQL: items put and retired at runtime, the store as
training data, and checkpoints swapped in (or refused) while the old model serves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmrec.core.fitted import ModelContext
from lmrec.models.classic.itemknn import ItemKNN
from lmrec.models.zeroshot import ZeroShotConfig, ZeroShotTextRecommender
from lmrec.service.engine import RecommendService
from lmrec.service.store import Store
from service_helpers import served, tiny_dataset, top
from text_helpers import TrigramEncoder

NEW = {"title": "Star Wars Returns", "genre": ["Sci-Fi"]}


@contextmanager
def serving(folder: Path, url: str, model_name: str) -> Iterator[tuple[httpx.Client, Any]]:
    ds = tiny_dataset(folder)
    store = Store.open(url)
    store.import_dataset(ds)
    model: Any
    if model_name == "zeroshot":
        context = ModelContext("tiny", ds.catalog, cache_dir=folder, encoder=TrigramEncoder())
        model = ZeroShotTextRecommender(ZeroShotConfig(), context).fit(ds.interactions)
    else:
        model = ItemKNN().fit(ds.interactions)
    service = RecommendService(ds, model, store, model_name=model_name)
    with served(service) as client:
        yield client, service


def test_an_item_put_over_http_is_recommended_at_once_and_survives_a_restart(
    store_url: str, tmp_path: Path
) -> None:
    with serving(tmp_path, store_url, "zeroshot") as (client, _):
        assert "70" not in top(client, history=["10"], k=5)
        started = time.perf_counter()
        put = client.put("/items/70", json=NEW)
        first = top(client, history=["10"], k=2)  # the very next request
        seconds = time.perf_counter() - started
        assert put.status_code == 201 and put.json()["recommendable"] is True, put.text
        assert first[0] == "70", first  # "Star Wars Returns" is nearest to Star Wars
        assert seconds < 5.0
        assert ("70", "Star Wars Returns") in {
            (i["item_id"], i["title"]) for i in client.get("/items?q=star").json()["items"]
        }
        fed = client.post(
            "/feedback",
            json={"user_id": "u1", "item_id": "70", "kind": "click", "idempotency_key": "k70"},
        )
        assert fed.status_code == 200, fed.text
        again = client.put("/items/70", json={"genre": ["Sci-Fi", "Sequel"]})
        assert again.status_code == 200 and again.json()["created"] is False
        health = client.get("/health").json()
        assert health["runtime_items"] == 1 and health["items"] == 7
    with serving(tmp_path, store_url, "zeroshot") as (client, _):  # a restart: same store
        assert top(client, history=["10"], k=2)[0] == "70"
        item = client.get("/items/70").json()
        assert item["source"] == "runtime" and item["fields"]["genre"] == ["Sci-Fi", "Sequel"]
        assert item["title"] == "Star Wars Returns" and item["recommendable"] is True


def test_an_id_only_model_says_it_cannot_recommend_a_new_item_yet(
    store_url: str, tmp_path: Path
) -> None:
    with serving(tmp_path, store_url, "itemknn") as (client, _):
        put = client.put("/items/70", json=NEW).json()
        assert put["recommendable"] is False and "next training round" in put["note"]
        assert "70" not in top(client, user_id="u4", k=5)
        renamed = client.put("/items/10", json={"title": "Star Wars (1977)"}).json()
        assert renamed["recommendable"] is True and "by its interactions" in renamed["note"]
        assert "70" not in top(client, history=["70", "10"], k=5)  # known, not scored: dropped
        fed = client.post(  # feedback on it is recorded all the same: training data
            "/feedback",
            json={"user_id": "u4", "item_id": "70", "kind": "click", "idempotency_key": "a"},
        )
        assert fed.status_code == 200, fed.text


@pytest.mark.parametrize("model_name", ["zeroshot", "itemknn"])
def test_a_retired_item_never_comes_back(store_url: str, tmp_path: Path, model_name: str) -> None:
    with serving(tmp_path, store_url, model_name) as (client, _):
        assert "50" in top(client, user_id="u4", k=3) + top(client, history=["60"], k=3)
        assert client.delete("/items/50").status_code == 204
        for body in (
            {"user_id": u, "k": 5} for u in ("u1", "u2", "u3", "u4")
        ):  # every user, every k
            assert "50" not in top(client, **body)
        assert "50" not in top(client, history=["60"], k=5, exclude_history=False)
        assert client.get("/items/50").json()["retired"] is True
        assert "50" not in [i["item_id"] for i in client.get("/items?q=alien").json()["items"]]
        fed = client.post(
            "/feedback",
            json={"user_id": "u1", "item_id": "50", "kind": "click", "idempotency_key": "r"},
        )
        assert fed.status_code == 422 and "retired" in fed.json()["detail"]
        assert client.delete("/items/999").status_code == 404
        # control characters and spaces never reach the store (PostgreSQL refuses NUL); a
        # newline does not even match the route
        for bad, status in (("%00", 422), ("%09", 422), ("%20x", 422), ("a%0Ab", 404)):
            assert client.get(f"/items/{bad}").status_code == status
            assert client.delete(f"/items/{bad}").status_code == status
        assert client.get("/users/a%00b").status_code == 422
        assert client.get("/items?q=%00").status_code == 422
        assert "60" in [h["item_id"] for h in client.get("/users/u3").json()["history"]]
    with serving(tmp_path, store_url, model_name) as (client, _):
        assert all("50" not in top(client, user_id=u, k=5) for u in ("u1", "u2", "u3", "u4"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"genre": ["Drama"]}, "title"),  # a new item needs its title
        ({"title": "x", "colour": "red"}, "colour"),
        ({"title": 5}, "title"),
        ({"title": "x" * 2001}, "title"),
        ({"title": "bad\u0000title"}, "title"),
        ({"title": ["a", "b"]}, "title"),
    ],
)
def test_bad_items_are_refused_naming_the_field(
    tmp_path: Path, body: dict[str, Any], field: str
) -> None:
    with serving(tmp_path, f"sqlite:///{tmp_path / 's.sqlite'}", "zeroshot") as (client, _):
        answer = client.put("/items/70", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] in (field, "body"), answer.json()
        assert client.get("/items/70").status_code == 404  # nothing was written
        assert client.put("/items/%20padded", json=NEW).status_code == 422


def test_a_text_model_that_cannot_grow_says_why_and_keeps_serving(tmp_path: Path) -> None:
    from lmrec.errors import ConfigError

    class Joint(ZeroShotTextRecommender):
        def with_items(self, catalog: Any, item_ids: Any) -> Any:
            raise ConfigError("a joint (several-domain) text model cannot take new items")

    ds = tiny_dataset(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'joint.sqlite'}")
    store.import_dataset(ds)
    context = ModelContext("tiny", ds.catalog, cache_dir=tmp_path, encoder=TrigramEncoder())
    model = Joint(ZeroShotConfig(), context).fit(ds.interactions)
    with served(RecommendService(ds, model, store, model_name="joint")) as client:
        put = client.put("/items/70", json=NEW)
        assert put.status_code == 201 and put.json()["recommendable"] is False
        assert "several-domain" in put.json()["note"]
        assert "70" not in top(client, history=["10"], k=5)
