"""The refusals a request can get: each carries its HTTP status and the field at fault."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses; ``status`` is the HTTP status, ``field`` the culprit."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    status = 404


class Invalid(ServiceError):
    status = 422


class Conflict(ServiceError):
    status = 409


class Overloaded(ServiceError):
    """Too much work queued, or a request past its deadline: come back in ``retry_after`` s."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def unknown_user(user_id: str) -> NotFound:
    return NotFound(
        f"unknown user {user_id!r}: send feedback for this user first, or pass a 'history' of "
        "item ids",
        "user_id",
    )


def empty_history() -> Invalid:
    return Invalid(
        "the history is empty: give item ids in 'history', a free 'text', or a user_id with "
        "interactions",
        "history",
    )


class Unavailable(Overloaded):
    """A resource the request needs is not there now (the store's disk is full, the store is
    unreachable): 503 + Retry-After; ``/health`` reports it until it recovers."""
