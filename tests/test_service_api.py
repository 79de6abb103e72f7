"""The HTTP API over real HTTP (uvicorn on loopback), with a text model and an ID-only model."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmrec.core.fitted import ModelContext
from lmrec.models.classic.itemknn import ItemKNN
from lmrec.models.zeroshot import ZeroShotConfig, ZeroShotTextRecommender
from lmrec.service.api import create_app
from lmrec.service.engine import RecommendService
from lmrec.service.messages import ServiceLimits
from lmrec.service.store import Store
from service_helpers import ThreadServer, tiny_dataset
from text_helpers import TrigramEncoder


def serve(folder: Path, model_name: str) -> tuple[ThreadServer, RecommendService]:
    ds = tiny_dataset(folder)
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}")
    store.import_dataset(ds)
    model: Any
    if model_name == "zeroshot":
        context = ModelContext("tiny", ds.catalog, cache_dir=folder, encoder=TrigramEncoder())
        model = ZeroShotTextRecommender(ZeroShotConfig(), context)
    else:
        model = ItemKNN()
    model.fit(ds.interactions)
    limits = ServiceLimits(max_k=5, max_body_bytes=64 * 1024)
    service = RecommendService(ds, model, store, limits, model_name)
    return ThreadServer(create_app(service)), service


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    server, service = serve(tmp_path_factory.mktemp("zeroshot"), "zeroshot")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
    server.stop()
    service.close()


def recs(client: httpx.Client, **body: Any) -> list[str]:
    response = client.post("/recommend", json=body)
    assert response.status_code == 200, response.text
    return [r["item_id"] for r in response.json()["items"]]


def test_health_docs_and_page(api: httpx.Client) -> None:
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["items"] == 6 and health["schema_revision"] == "0006"
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/recommend", "/feedback", "/users/{user_id}", "/items", "/health"} <= set(paths)
    page = api.get("/")
    assert page.status_code == 200 and "user-select" in page.text
    assert api.get("/docs").status_code == 200


def test_recommend_by_user_excludes_history_and_explains(api: httpx.Client) -> None:
    body = api.post("/recommend", json={"user_id": "u3", "k": 2, "explain": True}).json()
    ids = [r["item_id"] for r in body["items"]]
    assert len(ids) == 2 and not {"30", "40", "20", "60"} & set(ids)
    assert body["history_length"] == 4
    assert all(r["explanation"] and r["title"] in r["explanation"] for r in body["items"])
    titles = {"10": "Star Wars", "50": "Alien"}
    assert [r["title"] for r in body["items"]] == [titles[i] for i in ids]
    for rank, r in enumerate(body["items"], start=1):  # the evidence travels with the text
        evidence = r["evidence"]
        assert evidence["item_id"] == r["item_id"] and evidence["rank"] == rank
        assert set(evidence["cited"]) <= {"30", "40", "20", "60"}
        drops = {c["item_id"]: c["score_drop"] for c in evidence["contributions"]}
        assert set(evidence["cited"]) <= set(drops) and any(d > 0 for d in drops.values())
    plain = api.post("/recommend", json={"user_id": "u3", "k": 2}).json()
    assert all("evidence" not in r and r["explanation"] is None for r in plain["items"])


def test_feedback_shapes_the_next_recommendation_at_once(api: httpx.Client) -> None:
    before = recs(api, user_id="u4", k=3)  # u4 saw 10, 20, 30
    sent = api.post(
        "/feedback",
        json={"user_id": "u4", "item_id": "50", "kind": "click", "idempotency_key": "u4-alien"},
    )
    assert sent.status_code == 200 and sent.json()["duplicate"] is False
    after = recs(api, user_id="u4", k=3)
    assert "50" not in after and after != before
    assert after[0] == "60"  # "Aliens" is the nearest title to the newest item "Alien"
    user = api.get("/users/u4").json()
    assert [h["item_id"] for h in user["history"]] == ["10", "20", "30", "50"]
    assert user["n_interactions"] == 4


def test_history_is_in_event_time_and_far_timestamps_are_refused(api: httpx.Client) -> None:
    def send(item: str, when: float, key: str) -> httpx.Response:
        body = {"user_id": "late", "item_id": item, "kind": "click", "timestamp": when}
        return api.post("/feedback", json={**body, "idempotency_key": key})

    assert send("30", 2_000_000_000.0 - 86_400 * 3650, "late-1").status_code == 200
    assert send("10", 2_000_000_000.0 - 86_400 * 3660, "late-2").status_code == 200  # earlier
    history = [h["item_id"] for h in api.get("/users/late").json()["history"]]
    assert history == ["10", "30"]  # the late arrival sits where it happened
    for when in (-1e300, -1.0, 1e300):
        refused = send("20", when, f"far-{when}")
        assert refused.status_code == 422 and refused.json()["field"] == "timestamp"


def test_refusals_whose_input_json_cannot_carry_stay_422(api: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    for raw in (
        b'{"user_id": "u1", "k": NaN}',
        b'{"user_id": "u1", "k": Infinity}',
        b'{"user_id": "u1", "\\ud800": 1}',
        b'{"user_id": ["\\ud800"]}',
    ):
        answer = api.post("/recommend", content=raw, headers=headers)
        assert answer.status_code == 422, (raw, answer.text)
        errors = answer.json()["errors"]
        assert errors and {"loc", "msg", "type"} <= set(errors[0])  # the documented shape
        assert "input" not in errors[0] and answer.json()["detail"]
    assert api.get("/health").status_code == 200  # the keep-alive connection survived
    for bad in ("a\x00b", "tab\there", "\ud800"):  # the database cannot hold these ids
        body = {"user_id": bad, "item_id": "10", "kind": "click", "idempotency_key": "ctl"}
        raw = json.dumps(body).encode()
        answer = api.post("/feedback", content=raw, headers=headers)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["field"] == "user_id"


def test_feedback_idempotency_by_body_or_header(api: httpx.Client) -> None:
    event = {"user_id": "new-user", "item_id": "30", "kind": "rating", "value": 4.5}
    first = api.post("/feedback", json=event, headers={"Idempotency-Key": "h-1"}).json()
    retry = api.post("/feedback", json={**event, "idempotency_key": "h-1"}).json()
    assert retry == {"id": first["id"], "duplicate": True}
    clash = api.post("/feedback", json={**event, "item_id": "40", "idempotency_key": "h-1"})
    assert clash.status_code == 409 and clash.json()["field"] == "idempotency_key"
    assert api.get("/users/new-user").json()["n_interactions"] == 1
    assert recs(api, user_id="new-user", k=1) == ["40"]  # "Notting Hill" next to "Love Actually"


def test_ad_hoc_history_and_free_text(api: httpx.Client) -> None:
    assert recs(api, history=["50"], k=1) == ["60"]
    assert recs(api, history=["50"], k=2, exclude=["60"])[0] != "60"
    assert recs(api, text=["star wars"], k=1, exclude_history=False) == ["10"]
    assert recs(api, text=["star wars"], k=2, exclude=["10"])[0] == "20"


def test_title_search(api: httpx.Client) -> None:
    found = api.get("/items", params={"q": "ali", "limit": 5}).json()["items"]
    assert [f["item_id"] for f in found] == ["50", "60"]


BAD_REQUESTS: list[tuple[str, str, Any, int, str]] = [
    ("post", "/recommend", {"user_id": "nobody"}, 404, "unknown user 'nobody'"),
    ("post", "/recommend", {"history": []}, 422, "history is empty"),
    ("post", "/recommend", {}, 422, "history is empty"),
    ("post", "/recommend", {"user_id": "a\x00b"}, 422, "user_id"),
    ("post", "/recommend", {"user_id": "u1", "k": 0}, 422, "k: Input should be greater than or"),
    ("post", "/recommend", {"user_id": "u1", "k": 10**6}, 422, "k must be between 1 and 5"),
    ("post", "/recommend", {"user_id": "u1", "k": "ten"}, 422, "k"),
    ("post", "/recommend", {"history": ["10", "999"]}, 422, "unknown item '999'"),
    ("post", "/recommend", {"text": ["  "]}, 422, "not blank"),
    ("post", "/recommend", {"text": ["a"] * 21}, 422, "at most 20 text entries"),
    ("post", "/recommend", {"user_id": "u1", "colour": "red"}, 422, "colour"),
    ("post", "/recommend", {"user_id": "x" * 129}, 422, "user_id"),
    ("post", "/recommend", {"user_id": "'; DROP TABLE users; --"}, 404, "unknown user"),
    ("post", "/feedback", {"user_id": "u1", "item_id": "10", "kind": "click"}, 422, "idempotency"),
    (
        "post",
        "/feedback",
        {"user_id": "u1", "item_id": "10", "kind": "like", "idempotency_key": "b1"},
        422,
        "Input should be 'click', 'rating' or 'purchase'",
    ),
    (
        "post",
        "/feedback",
        {"user_id": "u1", "item_id": "nope", "kind": "click", "idempotency_key": "b2"},
        422,
        "unknown item 'nope'",
    ),
    (
        "post",
        "/feedback",
        {"user_id": "u1", "item_id": "10", "kind": "rating", "idempotency_key": "b3"},
        422,
        "a rating needs a value",
    ),
    (
        "post",
        "/feedback",
        {"user_id": "u1", "item_id": "10", "kind": "rating", "value": 9, "idempotency_key": "b4"},
        422,
        "between 0 and 5",
    ),
    ("get", "/users/nobody", None, 404, "unknown user"),
    ("get", "/items?q=%25&limit=0", None, 422, "limit"),
    ("get", "/items?limit=1000000", None, 422, "limit: Input should be less than or equal to 50"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), BAD_REQUESTS)
def test_bad_requests_get_clear_4xx(
    api: httpx.Client, method: str, path: str, body: Any, status: int, says: str
) -> None:
    response = api.request(method.upper(), path, json=body)
    assert response.status_code == status, response.text
    assert says in response.text
    assert api.get("/health").status_code == 200


def test_malformed_bodies_and_hostile_strings(api: httpx.Client) -> None:
    not_utf8 = b'{"user_id": "\xff\xfe\xfd"}'
    response = api.post(
        "/recommend", content=not_utf8, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "parsing the body" in response.text
    broken = api.post(
        "/recommend", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    huge = api.post("/feedback", content=b"x" * (10 * 1024 * 1024))
    assert huge.status_code == 413 and "request body over 65536 bytes" in huge.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b" " * 4096

    chunked = api.post("/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    hostile = "' OR 1=1; DROP TABLE interactions; --"
    assert api.get("/items", params={"q": hostile}).json() == {"items": []}
    event = {"user_id": hostile, "item_id": "10", "kind": "click", "idempotency_key": hostile}
    assert api.post("/feedback", json=event).status_code == 200
    assert [h["item_id"] for h in api.get(f"/users/{hostile}").json()["history"]] == ["10"]
    assert len(recs(api, user_id="u1", k=2)) == 2  # tables intact, server up


def test_concurrent_requests_get_their_own_answers(api: httpx.Client) -> None:
    expected = {u: recs(api, user_id=u, k=3) for u in ("u1", "u2", "u3")}
    failures: list[str] = []

    def worker(user: str) -> None:
        with httpx.Client(base_url=str(api.base_url), timeout=30) as client:
            for _ in range(15):
                got = recs(client, user_id=user, k=3)
                if got != expected[user]:
                    failures.append(f"{user}: {got} != {expected[user]}")

    threads = [threading.Thread(target=worker, args=(u,)) for u in ("u1", "u2", "u3") * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_id_only_model_refuses_free_text(tmp_path: Path) -> None:
    server, service = serve(tmp_path, "itemknn")
    try:
        response = httpx.post(f"{server.url}/recommend", json={"text": ["space"]})
        assert response.status_code == 422 and "cannot read free text" in response.text
        assert (
            len(httpx.post(f"{server.url}/recommend", json={"user_id": "u1"}).json()["items"]) == 2
        )
    finally:
        server.stop()
        service.close()


def test_why_is_written_by_the_language_model_and_grounded(tmp_path: Path) -> None:
    from lmrec.testing.scripted import FunctionBackend

    server, service = serve(tmp_path, "itemknn")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            plain = client.post("/why", json={"user_id": "u4", "item_id": "50"}).json()
            assert plain["source"] == "evidence" and "Alien" in plain["text"]
            assert "because you" in plain["text"] and plain["removed"] == 0
            assert plain["evidence"]["item_id"] == "50" and plain["evidence"]["cited"]
            invented = 'You liked "Love Actually", so "Alien" fits. Fans of "Blade Runner" agree.'
            service.writer = FunctionBackend(lambda prompt: invented, model="tiny-lm")
            refused = client.post("/why", json={"user_id": "u4", "item_id": "50"}).json()
            # a rewrite that names anything outside the evidence is never shown
            assert refused["text"] == plain["text"] and refused["source"] == "evidence"
            assert refused["removed"] == 1
            cited = re.findall(r'"([^"]+)"', plain["text"])
            faithful = "You " + " and ".join(f'"{t}"' for t in cited[1:]) + f', so "{cited[0]}".'
            faithful = faithful.replace("You ", "You watched ", 1)
            service.writer = FunctionBackend(lambda prompt: faithful, model="tiny-lm")
            why = client.post("/why", json={"user_id": "u4", "item_id": "50"}).json()
            assert why["text"] == faithful and why["source"] == "tiny-lm" and why["removed"] == 0
            missing = client.post("/why", json={"user_id": "nobody", "item_id": "40"})
            assert missing.status_code == 404 and "nobody" in missing.text
            assert client.post("/why", json={"user_id": "u4", "item_id": "99"}).status_code == 404
    finally:
        server.stop()
        service.close()
