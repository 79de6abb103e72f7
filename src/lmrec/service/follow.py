"""A service process's background thread: it follows the store (items put or retired by another
worker process, swaps asked for by another process or the retrainer) and, with ``--watch DIR``,
a checkpoint folder. Never on a request's path: a poll that fails is kept for ``/health`` and
tried again at the next tick.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmrec.service.engine import RecommendService

log = logging.getLogger("lmrec.service")


def folder_stamp(directory: Path) -> tuple[int, ...] | None:
    """Modification times and sizes of the checkpoint's files (None: no checkpoint there)."""
    files = sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []
    if not any(p.name == "config.json" for p in files):
        return None
    return tuple(v for p in files for v in (p.stat().st_mtime_ns, p.stat().st_size))


class Follower:
    """Polls every ``interval`` seconds; a watched folder is swapped in once it has held still
    for ``settle`` seconds (a checkpoint still being written is not loaded half-done)."""

    def __init__(
        self,
        service: RecommendService,
        interval: float = 0.25,
        watch: Path | None = None,
        settle: float = 1.0,
    ) -> None:
        self.service = service
        self.interval = interval
        self.watch = watch
        self.settle = settle
        self.last_error: str | None = None
        self._seen = folder_stamp(watch) if watch is not None else None  # served at start
        self._pending: tuple[tuple[int, ...], float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lmrec-follower", daemon=True)

    def start(self) -> Follower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.service.sync()
                if self.watch is not None:
                    self._check_watch(self.watch)
                self.last_error = None
            except Exception as exc:  # the store is down, a swap was refused: say so in /health
                error = f"{type(exc).__name__}: {exc}"
                if error != self.last_error:  # once per new error, not on every tick
                    log.warning("following the store: %s", error)
                self.last_error = error

    def _check_watch(self, folder: Path) -> None:
        stamp = folder_stamp(folder)
        if stamp is None or stamp == self._seen:
            self._pending = None
            return
        now = time.monotonic()
        if self._pending is None or self._pending[0] != stamp:
            self._pending = (stamp, now)  # changed: wait until it holds still
            return
        if now - self._pending[1] < self.settle:
            return
        self._seen, self._pending = stamp, None
        self.service.swap_to(folder, record=False, source="watch")  # refusals: see last_refused

    def health(self) -> dict[str, Any]:
        return {
            "follow_error": self.last_error,
            "watch": None if self.watch is None else str(self.watch),
        }
