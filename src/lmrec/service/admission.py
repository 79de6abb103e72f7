"""Load shedding for the HTTP service: a bounded number of scoring requests in flight, a
deadline on each, and separate worker pools so health checks and feedback never queue behind
scoring.

Past ``max_pending`` a scoring request is answered ``503`` with ``Retry-After`` at once (it never
queues); one that takes longer than ``deadline`` seconds is answered ``503`` too (its work, already
queued, finishes and is dropped). Text and explanation work runs on ``text_workers`` threads of
its own; feedback writes on a pool of their own; ``/health`` runs on the event loop.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lmrec.service.errors import Overloaded
from lmrec.service.messages import ServiceLimits

T = TypeVar("T")


@dataclass
class AdmissionStats:
    admitted: int = 0
    shed: int = 0  # refused at the door: too many in flight
    late: int = 0  # answered 503 at the deadline
    in_flight: int = 0
    peak: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "admitted": self.admitted,
            "shed": self.shed,
            "late": self.late,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak,
        }


@dataclass
class Admission:
    """Per-app admission control (no global state: one per :func:`create_app`)."""

    limits: ServiceLimits
    stats: AdmissionStats = field(default_factory=AdmissionStats)
    _pools: dict[str, Any] = field(default_factory=dict)

    def pool(self, name: str, size: int) -> Any:
        """An anyio capacity limiter, made on first use (inside the running event loop)."""
        import anyio

        if name not in self._pools:
            self._pools[name] = anyio.CapacityLimiter(size)
        return self._pools[name]

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of ``max_pending`` places, or refuse with 503 at once."""
        s = self.stats
        if s.in_flight >= self.limits.max_pending:
            s.shed += 1
            raise Overloaded(
                f"the service is at its limit of {self.limits.max_pending} requests in flight; "
                "retry shortly"
            )
        s.in_flight += 1
        s.admitted += 1
        s.peak = max(s.peak, s.in_flight)
        try:
            yield
        finally:
            s.in_flight -= 1

    async def within_deadline(self, work: Awaitable[T]) -> T:
        """``work``'s result, or 503 past the deadline (the work is cancelled). On Python 3.11+
        a timeout context, not ``wait_for``'s extra task per request."""
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(self.limits.deadline):
                    return await work
            return await asyncio.wait_for(work, self.limits.deadline)
        except (asyncio.TimeoutError, TimeoutError):
            self.stats.late += 1
            raise Overloaded(
                f"the request took longer than its deadline of {self.limits.deadline:g} s; "
                "retry shortly"
            ) from None

    async def in_threads(self, pool: str, size: int, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a named pool of ``size`` threads (not the shared default pool)."""
        import anyio

        return await anyio.to_thread.run_sync(fn, *args, limiter=self.pool(pool, size))
