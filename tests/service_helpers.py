"""Servers for the service tests: ``lmrec serve`` in a child process, or uvicorn in a thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from conftest import TINY_INTER, write
from lmrec.data.containers import Dataset
from lmrec.data.loaders import load_interactions
from lmrec.testing.processes import ServerProcess, ThreadServer, free_port, wait_healthy
from text_helpers import tiny_catalog

__all__ = [
    "ServerProcess",
    "ThreadServer",
    "free_port",
    "served",
    "tiny_dataset",
    "top",
    "wait_healthy",
]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def tiny_dataset(folder: Path) -> Dataset:
    """4 users (u1..u4), 6 titled items (10..60) with genres."""
    return Dataset(
        name="tiny",
        interactions=load_interactions(write(folder / "tiny.inter", TINY_INTER)),
        catalog=tiny_catalog(),
    )


@contextmanager
def served(service: Any) -> Iterator[httpx.Client]:
    """A client of ``service``'s app on a loopback thread server; stops both afterwards."""
    from lmrec.service.api import create_app

    server = ThreadServer(create_app(service))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()
        service.close()


def top(client: httpx.Client, **body: Any) -> list[str]:
    """The item ids ``POST /recommend`` answers (asserting a 200)."""
    answer = client.post("/recommend", json=body)
    assert answer.status_code == 200, answer.text
    return [r["item_id"] for r in answer.json()["items"]]
