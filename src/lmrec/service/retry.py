"""One retry for a database call whose connection the server dropped (a restart, a failover,
``pg_terminate_backend``). Safe only for calls that are idempotent: a feedback write carries its
idempotency key, so a retry after an unknown outcome is recorded once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def retry_disconnects(call: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(call)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
        from sqlalchemy.exc import DBAPIError

        try:
            return call(*args, **kwargs)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return call(*args, **kwargs)  # the pool has dropped the dead connection by now

    return wrapped
