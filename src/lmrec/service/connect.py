"""Opening the service's database: SQLite (created on first use, WAL, ``synchronous=FULL``) or
PostgreSQL; any other URL, or a missing driver, is a :class:`StoreError` saying what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from lmrec.errors import LmrecError


class StoreError(LmrecError, RuntimeError):
    """The store cannot be opened or does not hold what the service needs."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files (and their folder) are created on first use.

    Only SQLite and PostgreSQL are supported; another database, an unreadable URL or a missing
    driver is a :class:`StoreError` that says what to use or install.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"cannot read store URL {url!r}: use sqlite:///path/file.sqlite or "
            "postgresql+psycopg://user@host/database"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"store {parsed.render_as_string(hide_password=True)}: {parsed.get_backend_name()!r} "
            "is not supported; use SQLite (sqlite:///file) or PostgreSQL (postgresql+psycopg://…)"
        )
    try:
        return _engine(url)
    except (ImportError, NoSuchModuleError) as exc:
        raise StoreError(
            f"store {parsed.render_as_string(hide_password=True)}: its driver is not installed "
            f"({exc}); for PostgreSQL use postgresql+psycopg://… (psycopg 3 comes with "
            "pip install 'lmrec[serve]')"
        ) from None


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        database = url.split("///", 1)[1] if "///" in url else ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=8, max_overflow=32)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=8, max_overflow=32, pool_pre_ping=True)
