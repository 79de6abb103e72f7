"""Bounded load: 503 + Retry-After past the in-flight limit or the deadline, and health and
feedback answered while scoring is saturated."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from lmrec.core.query import QueryBatch
from lmrec.models.classic.itemknn import ItemKNN
from lmrec.service.api import create_app
from lmrec.service.engine import RecommendService
from lmrec.service.messages import ServiceLimits
from lmrec.service.store import Store
from service_helpers import ThreadServer, tiny_dataset


class SlowKNN(ItemKNN):
    """Item-kNN whose scoring blocks until released (or ``hold`` seconds pass)."""

    def __init__(self, hold: float) -> None:
        super().__init__()
        self.hold = hold
        self.release = threading.Event()

    def score(self, batch: QueryBatch) -> Any:
        self.release.wait(self.hold)
        return super().score(batch)


def start(tmp_path: Path, limits: ServiceLimits, hold: float) -> tuple[ThreadServer, Any, Any]:
    ds = tiny_dataset(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.import_dataset(ds)
    model = SlowKNN(hold).fit(ds.interactions)
    service = RecommendService(ds, model, store, limits, "slow", max_batch=1)
    return ThreadServer(create_app(service)), service, model


def test_past_the_in_flight_limit_requests_are_shed_at_once(tmp_path: Path) -> None:
    server, service, model = start(tmp_path, ServiceLimits(max_pending=4, deadline=30.0), 30.0)
    try:
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            sent = [
                pool.submit(
                    httpx.post,
                    f"{server.url}/recommend",
                    json={"user_id": "u1", "k": 2},
                    timeout=60,
                )
                for _ in range(12)
            ]
            time.sleep(1.0)  # 4 are held by the blocked model; the other 8 are refused
            started = time.perf_counter()
            health = httpx.get(f"{server.url}/health", timeout=10)
            health_seconds = time.perf_counter() - started
            body = {"user_id": "u1", "item_id": "60", "kind": "click", "idempotency_key": "busy"}
            fed = httpx.post(f"{server.url}/feedback", json=body, timeout=10)
            model.release.set()
            answers = [f.result() for f in sent]
        codes = sorted(a.status_code for a in answers)
        assert codes == [200] * 4 + [503] * 8, codes
        shed = next(a for a in answers if a.status_code == 503)
        assert shed.headers["Retry-After"] == "1" and "limit of 4" in shed.json()["detail"]
        assert health.status_code == 200 and health_seconds < 1.0  # not behind scoring
        assert health.json()["shed"] == 8 and health.json()["peak_in_flight"] == 4
        assert fed.status_code == 200  # feedback does not wait for scoring either
    finally:
        model.release.set()
        server.stop()
        service.close()


def test_a_request_past_its_deadline_is_answered_503(tmp_path: Path) -> None:
    server, service, model = start(tmp_path, ServiceLimits(deadline=0.5), 3.0)
    try:
        started = time.perf_counter()
        late = httpx.post(f"{server.url}/recommend", json={"user_id": "u1", "k": 2}, timeout=30)
        assert late.status_code == 503 and time.perf_counter() - started < 2.5
        assert "deadline of 0.5 s" in late.json()["detail"] and late.headers["Retry-After"]
        model.release.set()
        model.hold = 0.0
        fine = httpx.post(f"{server.url}/recommend", json={"user_id": "u1", "k": 2}, timeout=30)
        assert fine.status_code == 200  # the worker survived the abandoned job
        assert httpx.get(f"{server.url}/health").json()["late"] == 1
    finally:
        model.release.set()
        server.stop()
        service.close()
