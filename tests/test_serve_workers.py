"""``lmrec serve --workers N``: several processes on one port and one store, the model fitted
once by the parent and loaded from its checkpoint by every worker."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from conftest import run_cli
from service_helpers import ServerProcess


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_two_workers_answer_alike_and_share_the_store(
    data_dir: Path, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    if store_kind == "sqlite":
        store = f"sqlite:///{tmp_path / 'workers.sqlite'}"
    else:
        from conftest import fresh_postgres_database

        store, drop = fresh_postgres_database(request.getfixturevalue("postgres_server"))
        request.addfinalizer(drop)
    server = ServerProcess(data_dir, store, "-d", "ml-100k", "-m", "itemknn", "--workers", "2")
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 90
        while len(pids) < 2 and time.monotonic() < deadline:
            with httpx.Client() as client:  # a new connection: the kernel picks a worker
                pids.add(client.get(f"{server.url}/health").json()["pid"])
        assert len(pids) == 2, pids
        answers = set()
        for _ in range(12):
            with httpx.Client() as client:
                body = client.post(f"{server.url}/recommend", json={"user_id": "1", "k": 5}).json()
                answers.add(tuple(r["item_id"] for r in body["items"]))
        assert len(answers) == 1  # every worker loaded the same checkpoint
        # a write through one connection is read by whichever worker answers next
        fed = httpx.post(
            f"{server.url}/feedback",
            json={
                "user_id": "worker-user",
                "item_id": "50",
                "kind": "click",
                "idempotency_key": "w",
            },
        )
        assert fed.status_code in (200, 201), fed.text
        for _ in range(6):
            with httpx.Client() as client:
                user = client.get(f"{server.url}/users/worker-user").json()
                assert [h["item_id"] for h in user["history"]] == ["50"]
    finally:
        server.stop()
    out = server.proc.stdout.read().decode() if server.proc.stdout else ""
    assert "2 worker processes, each loading its checkpoint" in out


def test_workers_refuse_bad_counts_and_an_llm(data_dir: Path) -> None:
    result = run_cli(data_dir, "serve -d ml-100k -m pop --workers 0")
    assert result.exit_code == 2 and "--workers" in result.output
    result = run_cli(data_dir, "serve -d ml-100k -m pop --workers 2 --llm smollm2-135m")
    assert result.exit_code == 2 and "--workers 1" in result.output
