"""Zero loss when PostgreSQL drops connections mid-load: every event the service acknowledged is in
the store, and a retry with the same key after a failure is recorded once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text

from conftest import fresh_postgres_database
from lmrec.models.classic.itemknn import ItemKNN
from lmrec.service import schema
from lmrec.service.api import create_app
from lmrec.service.engine import RecommendService
from lmrec.service.store import Store
from service_helpers import ThreadServer, tiny_dataset

CLIENTS, EVENTS, KILLS = 4, 60, 6


def test_terminated_connections_lose_no_acknowledged_event(
    postgres_server: str, tmp_path: Path
) -> None:
    url, drop = fresh_postgres_database(postgres_server)
    ds = tiny_dataset(tmp_path)
    store = Store.open(url)
    store.import_dataset(ds)
    service = RecommendService(ds, ItemKNN().fit(ds.interactions), store, None, "itemknn")
    server = ThreadServer(create_app(service))
    database = url.rsplit("/", 1)[1]
    killer = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    acked: set[str] = set()
    failed: list[str] = []
    lock = threading.Lock()
    try:

        def client(c: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                for i in range(EVENTS):
                    key = f"pg-{c}-{i}"
                    body = {"user_id": f"pg{c}", "item_id": "10", "kind": "click"}
                    for _ in range(5):  # a failed request is retried with the same key
                        try:
                            answer = http.post("/feedback", json={**body, "idempotency_key": key})
                        except httpx.HTTPError as exc:
                            with lock:
                                failed.append(f"transport {exc!r}")
                            continue
                        if answer.status_code == 200:
                            with lock:
                                acked.add(key)
                            break
                        with lock:
                            failed.append(f"{answer.status_code} {answer.text[:80]}")

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        terminated = 0
        for _ in range(KILLS):  # kill every connection of the store's database, mid-load
            time.sleep(0.15)
            with killer.connect() as conn:
                terminated += len(
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :db AND pid <> pg_backend_pid()"
                        ),
                        {"db": database},
                    ).all()
                )
        for t in threads:
            t.join()
        assert terminated > 0  # the faults really happened
        with store.engine.connect() as conn:
            keys = {r[0] for r in conn.execute(select(schema.feedback.c.idempotency_key))}
            rows = conn.execute(select(func.count()).select_from(schema.feedback)).scalar_one()
        assert acked <= keys, f"lost acknowledged events: {sorted(acked - keys)[:5]}"
        assert rows == len(keys)  # no key recorded twice
        assert len(acked) == CLIENTS * EVENTS, (len(acked), len(failed), failed[:3])
        print(
            f"\n{terminated} connections terminated; {len(acked)} acknowledged, {len(failed)} failed tries"
        )
    finally:
        server.stop()
        service.close()
        killer.dispose()
        drop()
