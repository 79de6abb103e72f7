"""Servers for the service tests: ``lmrec serve`` in a child process, or uvicorn in a thread."""

from __future__ import annotations

from pathlib import Path

from conftest import TINY_INTER, write
from lmrec.data.containers import Dataset
from lmrec.data.loaders import load_interactions
from lmrec.testing.processes import ServerProcess, ThreadServer, free_port, wait_healthy
from text_helpers import tiny_catalog

__all__ = ["ServerProcess", "ThreadServer", "free_port", "tiny_dataset", "wait_healthy"]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def tiny_dataset(folder: Path) -> Dataset:
    """4 users (u1..u4), 6 titled items (10..60) with genres."""
    return Dataset(
        name="tiny",
        interactions=load_interactions(write(folder / "tiny.inter", TINY_INTER)),
        catalog=tiny_catalog(),
    )
