"""The feedback loop end to end on SQLite and PostgreSQL: feedback and runtime items train the next
model (``lmrec train --store``), which is swapped in without a failed request; bad checkpoints
are refused while the old model serves; other processes on the store follow."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import SHOP_ITEMS, TINY_INTER, run_cli, write
from lmrec.service.build import build_service
from lmrec.service.follow import Follower
from service_helpers import served, top

ITEMS = SHOP_ITEMS


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A data directory with dataset ``shop`` (the tiny log and catalogue) and a trained
    item-kNN checkpoint in ``tmp_path/m1``."""
    root = tmp_path / "data"
    (root / "shop").mkdir(parents=True)
    write(root / "shop" / "shop.inter", TINY_INTER)
    write(root / "shop" / "shop.item", ITEMS)
    trained = run_cli(root, "train", "-d", "shop", "-m", "itemknn", "-o", str(tmp_path / "m1"))
    assert trained.exit_code == 0, trained.output
    return root


@contextmanager
def serving(root: Path, url: str, model_dir: Path) -> Iterator[tuple[httpx.Client, Any]]:
    service = build_service("shop", "itemknn", None, url, model_dir, root, measure_recall=False)
    with served(service) as client:
        yield client, service


def click(client: httpx.Client, user: str, item: str, key: str, when: float) -> None:
    body = {"user_id": user, "item_id": item, "kind": "click", "idempotency_key": key}
    sent = client.post("/feedback", json={**body, "timestamp": when})
    assert sent.status_code == 200, sent.text


def test_feedback_and_new_items_train_the_next_model_which_is_swapped_in(
    shop: Path, tmp_path: Path, store_url: str
) -> None:
    with serving(shop, store_url, tmp_path / "m1") as (client, _):
        put = client.put("/items/70", json={"title": "Star Wars Returns", "genre": "Sci-Fi"})
        assert put.json()["recommendable"] is False
        before = top(client, history=["20"], k=6, exclude_history=False)
        old_version = client.get("/health").json()["model_version"]
        now = time.time()
        # every user now watches 70 then 60 (their newest habits; the last two of each history
        # are held out by the split, so two more follow)
        for user in ("u1", "u2", "u3", "u4", "u9"):
            for n, item in enumerate(("70", "60", "30", "20")):
                click(client, user, item, f"{user}-{n}", now + n)
        out = tmp_path / "m2"
        trained = run_cli(
            shop, "train", "-d", "shop", "-m", "itemknn", "-o", str(out), "--store", store_url
        )
        assert trained.exit_code == 0, trained.output
        facts = json.loads((out / "results.json").read_text())["provenance"]["store_data"]
        assert facts["events"] == 20 and facts["runtime_items"] == 1 and facts["new_users"] == 1
        assert facts["last_event_id"] >= 20 and facts["store"].split(":")[0] in store_url
        swapped = client.post("/admin/reload", json={"checkpoint": str(out)})
        assert swapped.status_code == 200, swapped.text
        health = client.get("/health").json()
        assert health["model_version"] != old_version and health["swaps"] == 1
        assert health["checkpoint"] == str(out.resolve())
        assert "70" in top(client, history=["60"], k=2)  # learnt from the feedback
        after = top(client, history=["20"], k=7, exclude_history=False)
        assert after[:6] != before and "70" in after  # the neighbours moved
        assert client.get("/items/70").json()["recommendable"] is True


def test_a_bad_checkpoint_is_refused_while_the_old_model_serves(
    shop: Path, tmp_path: Path, store_url: str
) -> None:
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "config.json").write_text("{not json")
    truncated = tmp_path / "truncated"
    shutil.copytree(tmp_path / "m1", truncated)
    tensors = truncated / "tensors.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:40])
    other = tmp_path / "other"  # a model over items this service does not know
    root = tmp_path / "data2"
    (root / "else").mkdir(parents=True)
    write(root / "else" / "else.inter", TINY_INTER.replace("\t10\t", "\t11\t"))
    assert run_cli(root, "train", "-d", "else", "-m", "itemknn", "-o", str(other)).exit_code == 0
    with serving(shop, store_url, tmp_path / "m1") as (client, _):
        version = client.get("/health").json()["model_version"]
        expected = top(client, user_id="u1", k=2)
        for folder, reason in (
            (tmp_path / "missing", "no saved model"),
            (garbage, "not a saved model"),
            (truncated, "refused"),
            (other, "does not hold"),
        ):
            answer = client.post("/admin/reload", json={"checkpoint": str(folder)})
            assert answer.status_code == 422 and reason in answer.json()["detail"], answer.text
            assert top(client, user_id="u1", k=2) == expected
            health = client.get("/health").json()
            assert health["model_version"] == version and health["swaps"] == 0
            assert health["last_refused"]["checkpoint"] == str(folder)


def test_requests_in_flight_never_fail_across_swaps(shop: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'swaps.sqlite'}"
    m2 = tmp_path / "m2"
    assert run_cli(shop, "train", "-d", "shop", "-m", "pop", "-o", str(m2)).exit_code == 0
    with serving(shop, url, tmp_path / "m1") as (client, _):
        failures: list[str] = []
        versions: set[str] = set()
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=str(client.base_url), timeout=30) as own:
                while not stop.is_set():
                    answer = own.post("/recommend", json={"user_id": "u2", "k": 3})
                    if answer.status_code != 200:
                        failures.append(answer.text)
                    else:
                        versions.add(answer.json()["model_version"])

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        for n in range(6):
            target = m2 if n % 2 == 0 else tmp_path / "m1"
            assert client.post("/admin/reload", json={"checkpoint": str(target)}).status_code == 200
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        assert failures == [] and len(versions) == 2
        assert client.get("/health").json()["swaps"] == 6


def test_another_process_on_the_store_follows_items_and_swaps(
    shop: Path, tmp_path: Path, store_url: str
) -> None:
    m2 = tmp_path / "m2"
    assert run_cli(shop, "train", "-d", "shop", "-m", "pop", "-o", str(m2)).exit_code == 0
    with (
        serving(shop, store_url, tmp_path / "m1") as (first, _),
        serving(shop, store_url, tmp_path / "m1") as (second, other),
    ):
        follower = Follower(other, interval=0.1).start()
        try:
            first.put("/items/70", json={"title": "Star Wars Returns"})
            first.delete("/items/60")
            assert first.post("/admin/reload", json={"checkpoint": str(m2)}).status_code == 200
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                health = second.get("/health").json()
                if health["model"] == "pop" and health["retired_items"] == 1:
                    break
                time.sleep(0.1)
            assert health["model"] == "pop" and health["runtime_items"] == 1
            assert "60" not in top(second, user_id="u1", k=5)
        finally:
            follower.stop()


def test_a_watched_folder_is_swapped_in_once_it_holds_still(shop: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    watched = tmp_path / "watched"
    shutil.copytree(tmp_path / "m1", watched)
    assert (
        run_cli(shop, "train", "-d", "shop", "-m", "pop", "-o", str(tmp_path / "m2")).exit_code == 0
    )
    with serving(shop, url, watched) as (client, service):
        follower = Follower(service, interval=0.1, watch=watched, settle=0.3).start()
        service.follower = follower
        try:
            shutil.rmtree(watched)
            shutil.copytree(tmp_path / "m2", watched)
            deadline = time.monotonic() + 10
            while client.get("/health").json()["model"] != "pop" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert client.get("/health").json()["model"] == "pop"
            (watched / "config.json").write_text("{broken")  # a bad one: refused, pop serves
            deadline = time.monotonic() + 10
            while (
                client.get("/health").json()["last_refused"] is None and time.monotonic() < deadline
            ):
                time.sleep(0.1)
            health = client.get("/health").json()
            assert health["model"] == "pop" and health["watch"] == str(watched)
            assert health["last_refused"] is not None
            assert top(client, user_id="u1", k=2)
        finally:
            follower.stop()


def test_every_worker_process_follows_items_and_a_reload(shop: Path, tmp_path: Path) -> None:
    from service_helpers import ServerProcess

    m2 = tmp_path / "m2"
    assert run_cli(shop, "train", "-d", "shop", "-m", "pop", "-o", str(m2)).exit_code == 0
    store = f"sqlite:///{tmp_path / 'workers.sqlite'}"
    server = ServerProcess(shop, store, "-d", "shop", "-m", "itemknn", "--workers", "2")
    try:
        assert httpx.delete(f"{server.url}/items/50").status_code == 204
        reload = httpx.post(f"{server.url}/admin/reload", json={"checkpoint": str(m2)}, timeout=60)
        assert reload.status_code == 200, reload.text
        seen: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with httpx.Client() as client:  # a new connection: the kernel picks a worker
                health = client.get(f"{server.url}/health").json()
            seen[health["pid"]] = health
            if len(seen) == 2 and all(
                h["model"] == "pop" and h["retired_items"] == 1 for h in seen.values()
            ):
                break
            time.sleep(0.05)
        assert len(seen) == 2 and {h["model"] for h in seen.values()} == {"pop"}, seen
        for _ in range(8):
            with httpx.Client(base_url=server.url) as client:
                assert "50" not in top(client, user_id="u1", k=5)
    finally:
        server.stop()
