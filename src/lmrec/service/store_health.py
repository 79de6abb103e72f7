"""The store as a state, not a crash: a database error (disk full, read-only file, connection
lost) answers 503 + Retry-After and marks ``/health`` degraded until a write succeeds again."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from lmrec.service.errors import Unavailable

RETRY_AFTER = 5  # seconds a client waits before retrying a write the store could not take

KINDS = (
    (("disk is full", "no space left", "database or disk is full"), "disk full"),
    (("readonly", "read-only"), "read-only"),
    (("could not connect", "connection refused", "server closed", "unable to open"), "unreachable"),
    (("database is locked",), "busy"),
)


def kind_of(exc: BaseException) -> str:
    """What went wrong, in two words (from the driver's message)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    for needles, kind in KINDS:
        if any(n in text for n in needles):
            return kind
    return "store error"


@dataclass
class StoreHealth:
    """The last store failure, until the next successful write (thread-safe)."""

    problem: str | None = None
    since: float | None = None
    failures: int = 0
    recovered_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def failed(self, exc: BaseException) -> Unavailable:
        """Record ``exc``; the 503 to answer with."""
        kind = kind_of(exc)
        with self._lock:
            if self.problem is None:
                self.since = time.time()
            self.problem = kind
            self.failures += 1
        return Unavailable(
            f"the store cannot serve this now ({kind}); nothing was recorded, retry after "
            f"{RETRY_AFTER} s",
            RETRY_AFTER,
        )

    def ok(self) -> None:
        """A write went through: the store works again."""
        if self.problem is None:
            return
        with self._lock:
            self.problem, self.since, self.recovered_at = None, None, time.time()

    def as_dict(self) -> dict[str, Any]:
        return {
            "store_problem": self.problem,
            "store_problem_since": self.since,
            "store_failures": self.failures,
            "store_recovered_at": self.recovered_at,
        }
