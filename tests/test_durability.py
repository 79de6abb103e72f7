"""Zero loss: every acknowledged feedback event survives SIGKILL of the server (SQLite, PostgreSQL).

Four clients send events at once; the client that receives the round's 50th ``200`` kills the
server with SIGKILL on the spot (others are mid-request). After five rounds (≥ 250 acknowledged
events) a restarted server must hold every acknowledged event, each user's acknowledged events in
the order they were sent, and a retried key must not be recorded twice.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from lmrec.service.store import Store
from service_helpers import ServerProcess

ROUNDS = 5
PER_ROUND = 50
CLIENTS = 4


def run_round(server: ServerProcess, start: int, acked: dict[str, list[tuple[str, str]]]) -> int:
    lock = threading.Lock()
    count = [0]
    killed = threading.Event()

    def client(c: int) -> None:
        user = f"dur-{c}"
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for i in range(start, start + 10 * PER_ROUND):
                if killed.is_set():
                    return
                key, item = f"{user}-{i}", str(1 + (i * 7 + c) % 1682)
                event = {"user_id": user, "item_id": item, "kind": "click", "idempotency_key": key}
                try:
                    response = http.post("/feedback", json=event)
                except httpx.TransportError:
                    return  # the server is gone: this event was never acknowledged
                assert response.status_code == 200, response.text
                with lock:
                    acked[user].append((key, item))
                    count[0] += 1
                    if count[0] == PER_ROUND and not killed.is_set():
                        server.kill()  # right after this 200, before anything else happens
                        killed.set()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert killed.is_set() and server.proc.returncode == -9
    return count[0]


def test_acknowledged_feedback_survives_sigkill(store_url: str, data_dir: Path) -> None:
    acked: dict[str, list[tuple[str, str]]] = {f"dur-{c}": [] for c in range(CLIENTS)}
    total = 0
    for r in range(ROUNDS):
        server = ServerProcess(data_dir, store_url, "-d", "ml-100k", "-m", "pop")
        total += run_round(server, r * 10 * PER_ROUND, acked)
    assert total >= ROUNDS * PER_ROUND >= 200

    server = ServerProcess(data_dir, store_url, "-d", "ml-100k", "-m", "pop")
    try:
        store = Store.open(store_url)
        stored = store.feedback_keys()
        store.close()
        lost = {k for events in acked.values() for k, _ in events} - stored
        assert lost == set(), f"{len(lost)} acknowledged events lost"
        for user, events in acked.items():
            history = [
                h["item_id"] for h in httpx.get(f"{server.url}/users/{user}").json()["history"]
            ]
            it = iter(history)
            assert all(item in it for _, item in events), f"{user}: acknowledged order broken"
        key, item = acked["dur-0"][0]
        retry = {"user_id": "dur-0", "item_id": item, "kind": "click", "idempotency_key": key}
        assert httpx.post(f"{server.url}/feedback", json=retry).json()["duplicate"] is True
        assert (
            len(httpx.post(f"{server.url}/recommend", json={"user_id": "dur-0"}).json()["items"])
            == 10
        )
    finally:
        server.stop()
