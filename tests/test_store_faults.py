"""Resources as states: a store whose disk fills up answers 503 + Retry-After (never a 500 or a
reset connection), ``/health`` says degraded, no acknowledged event is lost, and the service
recovers by itself when space is back. The disk is a real 3 MB tmpfs (needs mount rights)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lmrec.models.classic.popularity import Popularity
from lmrec.service.engine import RecommendService
from lmrec.service.store import Store
from service_helpers import served, tiny_dataset


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Take all but a few KB of the disk."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_a_503_and_health_degraded_then_recovers(
    small_disk: Path, tmp_path: Path
) -> None:
    ds = tiny_dataset(tmp_path)
    store = Store.open(f"sqlite:///{small_disk / 'store.sqlite'}")
    store.import_dataset(ds)
    model = Popularity()
    model.fit(ds.interactions)
    service = RecommendService(ds, model, store, model_name="pop")
    acknowledged: list[str] = []
    statuses: list[int] = []
    with served(service) as client:
        filler = fill(small_disk)
        for i in range(400):
            key = f"k{i}"
            event = {"user_id": f"w{i}", "item_id": "10", "kind": "click", "idempotency_key": key}
            try:
                answer = client.post("/feedback", json=event)
            except httpx.TransportError as exc:  # a reset connection is what this test forbids
                pytest.fail(f"request {i}: {exc!r}")
            statuses.append(answer.status_code)
            assert answer.status_code in (200, 503), answer.text
            if answer.status_code == 200:
                acknowledged.append(key)
            else:
                assert answer.headers["retry-after"] == "5"
                assert "disk full" in answer.json()["detail"]
        assert 503 in statuses, "the disk never filled up"
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["store_problem"] == "disk full"
        assert client.post("/recommend", json={"user_id": "u1"}).status_code == 200  # reads go on
        filler.unlink()
        again = {"user_id": "w-after", "item_id": "10", "kind": "click", "idempotency_key": "z"}
        assert client.post("/feedback", json=again).status_code == 200
        acknowledged.append("z")
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["store_problem"] is None
        assert health["store_failures"] >= 1 and health["store_recovered_at"] is not None
    reopened = Store.open(f"sqlite:///{small_disk / 'store.sqlite'}")
    try:
        assert set(acknowledged) <= reopened.feedback_keys()  # 0 acknowledged events lost
    finally:
        reopened.close()
