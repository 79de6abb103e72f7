"""The service's persistent store behind SQLAlchemy: SQLite by default, or PostgreSQL.

Durability: ``append_feedback`` returns only after its transaction committed (SQLite in WAL mode
with ``synchronous=FULL``; PostgreSQL's commit), so an acknowledged event survives a killed process.
The schema is created and upgraded by Alembic on :meth:`Store.open`; the dataset is imported once
(one transaction, recorded in ``imports``), so a crash during the import leaves nothing half-done.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import Connection

from lmrec.data.containers import Dataset
from lmrec.service import schema
from lmrec.service.connect import StoreError as StoreError  # re-exported: callers import it here
from lmrec.service.connect import create_store_engine
from lmrec.service.retry import retry_disconnects
from lmrec.service.store_import import ImportReport, check_same_copy, import_rows

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x6C6D726563  # PostgreSQL advisory lock key of lmrec's migrations ("lmrec")
MIGRATE_TRIES = 50


class IdempotencyConflict(ValueError):
    """An idempotency key was reused for a different event."""


@dataclass(frozen=True)
class FeedbackEvent:
    """One feedback event as validated by the API; ``timestamp`` is the client's (or receipt) time."""

    idempotency_key: str
    user_id: str
    item_id: str
    kind: str
    value: float | None
    timestamp: float

    def same_as(self, row: Any) -> bool:
        """Whether a stored ``feedback`` row records this very event."""
        values_equal = (self.value is None and row.value is None) or (
            self.value is not None
            and row.value is not None
            and math.isclose(self.value, row.value, rel_tol=0, abs_tol=1e-9)
        )
        return (
            (row.user_id, row.item_id, row.kind) == (self.user_id, self.item_id, self.kind)
        ) and values_equal


@dataclass(frozen=True)
class StoredFeedback:
    """The stored id of an event; ``duplicate`` when the key had been seen (nothing was written)."""

    id: int
    duplicate: bool


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.expanduser().resolve()}"


def _insert_ignoring_conflicts(conn: Connection, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    raise StoreError(f"unsupported database {conn.dialect.name!r}: use SQLite or PostgreSQL")


class Store:
    """Items, users, their histories and the feedback log in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to ``url`` and bring its schema to the latest migration."""
        store = cls(create_store_engine(url))
        store.migrate()
        return store

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    # -- schema -------------------------------------------------------------------------------

    def migrate(self, revision: str = "head") -> None:
        """Run Alembic migrations up to ``revision`` (creates the tables on a new database).

        Processes starting at once on a new database (``serve`` twice, workers): PostgreSQL
        serialises them with an advisory lock; on SQLite the one that loses the race sees its
        transaction fail ("table already exists"), and runs the upgrade again from where the
        winner left it."""
        from sqlalchemy.exc import IntegrityError, OperationalError

        for attempt in range(MIGRATE_TRIES):
            try:
                self._alembic("upgrade", revision)
                return
            except (OperationalError, IntegrityError):
                if self.engine.dialect.name != "sqlite" or attempt == MIGRATE_TRIES - 1:
                    raise
                time.sleep(0.2)

    def downgrade(self, revision: str) -> None:
        """Undo migrations down to ``revision`` (``"base"`` drops every table)."""
        self._alembic("downgrade", revision)

    def _alembic(self, direction: str, revision: str) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as conn:
            if sqlite:  # SQLite's way to rebuild a table others reference: keys off, then checked
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()  # a pragma outside any transaction
            try:
                with conn.begin():
                    if not sqlite:  # one migrating process at a time (released at commit)
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                    config.attributes["connection"] = conn
                    getattr(command, direction)(config, revision)
                    broken = (
                        conn.exec_driver_sql("PRAGMA foreign_key_check").all() if sqlite else []
                    )
                    if broken:
                        raise StoreError(
                            f"migration to {revision} broke foreign keys: {broken[:3]}"
                        )
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()

    def revision(self) -> str | None:
        """The schema's current Alembic revision (``None`` for an empty database)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # -- dataset import -----------------------------------------------------------------------

    def imported_dataset(self) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(schema.imports.c.dataset)).scalar()

    def import_dataset(self, dataset: Dataset, progress: bool = False) -> ImportReport | None:
        """Copy the dataset's items, users and interactions in, once; ``None`` if already there.

        A store holds one copy of one dataset: importing another dataset, or another copy of the
        same name (different content), raises :class:`StoreError`. Two processes importing into
        one new store at once: one imports, the other finds it done.
        """
        from sqlalchemy.exc import IntegrityError, OperationalError

        from lmrec.data.identity import content_hash

        identity = content_hash(dataset)
        present = self.imported_dataset()
        if present is None:
            try:
                return import_rows(self, dataset, identity, progress)
            except (IntegrityError, OperationalError):
                present = self.imported_dataset()  # another process imported it meanwhile
                if present is None:
                    raise
        if present != dataset.name:
            raise StoreError(
                f"{self.url} already holds dataset {present!r}; use another --store for "
                f"{dataset.name!r}"
            )
        check_same_copy(self, dataset, identity)
        return None

    # -- reads --------------------------------------------------------------------------------

    def history(self, user_id: str, limit: int | None = None) -> list[str] | None:
        """The user's items in event time (ties: arrival order), oldest first, the last ``limit``
        only when given; ``None`` for an unknown user."""
        return self.histories([user_id], limit)[user_id]

    def histories(
        self, user_ids: list[str], limit: int | None = None
    ) -> dict[str, list[str] | None]:
        """:meth:`history` of several users in one query (the scorer reads a whole batch's
        histories at once); unknown users map to ``None``.

        On the hot path: plain DB-API queries (SQLAlchemy's statement machinery cost ~4x the
        query itself on SQLite; measured in bench/service_load.py)."""
        distinct = list(dict.fromkeys(user_ids))
        marker = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        places = ", ".join([marker] * len(distinct))
        found: dict[str, list[str] | None] = {u: [] for u in distinct}
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            if limit is None:  # the whole history: the index (user_id, timestamp, id) serves it
                cursor.execute(
                    f"SELECT user_id, item_id FROM interactions WHERE user_id IN ({places}) "
                    "ORDER BY user_id, timestamp, id",
                    tuple(distinct),
                )
            else:
                cursor.execute(
                    "SELECT user_id, item_id FROM (SELECT user_id, item_id, timestamp, id, "
                    "ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY timestamp DESC, id DESC) "
                    f"AS rn FROM interactions WHERE user_id IN ({places})) recent "
                    f"WHERE rn <= {marker} ORDER BY user_id, timestamp, id",
                    (*distinct, limit),
                )
            for user, item in cursor.fetchall():
                found[user].append(item)  # type: ignore[union-attr]
            empty = [u for u, items in found.items() if not items]
            if empty:
                cursor.execute(
                    f"SELECT user_id FROM users WHERE user_id IN ({', '.join([marker] * len(empty))})",
                    tuple(empty),
                )
                known = {r[0] for r in cursor.fetchall()}
                found.update({u: None for u in empty if u not in known})
            conn.rollback()  # end the read transaction (PostgreSQL opened one)
        finally:
            conn.close()
        return found

    def history_length(self, user_id: str) -> int:
        inter = schema.interactions
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(inter).where(inter.c.user_id == user_id)
                ).scalar_one()
            )

    def search_items(self, query: str, limit: int) -> list[tuple[str, str]]:
        """(item id, title) of items whose title contains ``query`` (case-insensitive), by title."""
        it = schema.items
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(it.c.item_id, it.c.title)
                .where(it.c.title_lower.like(pattern + "%", escape="\\"), it.c.retired.is_(False))
                .order_by(func.length(it.c.title), it.c.title)
                .limit(limit)
            ).all()
        return [(r.item_id, r.title) for r in rows]

    def random_users(self, limit: int) -> list[str]:
        """The first ``limit`` user ids in id (string) order, for the web page's picker."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.users.c.user_id).order_by(schema.users.c.user_id).limit(limit)
            ).all()
        return [r.user_id for r in rows]

    def feedback_keys(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(schema.feedback.c.idempotency_key)).scalars())

    # -- writes -------------------------------------------------------------------------------

    @retry_disconnects  # idempotent by its key: one retry on a dropped connection is safe
    def append_feedback(self, event_: FeedbackEvent) -> StoredFeedback:
        """Record the event and append it to the user's history in one committed transaction.

        Keys are scoped per user. The same user and key with the same event returns the first id
        (``duplicate=True``) and writes nothing; with a different event raises
        :class:`IdempotencyConflict`.
        """
        fb = schema.feedback
        with self.engine.begin() as conn:
            # The first statement writes, so SQLite takes the write lock up front (no stale-read
            # upgrade failures under concurrent writers).
            conn.execute(
                _insert_ignoring_conflicts(conn, schema.users).values(
                    user_id=event_.user_id, source="feedback"
                )
            )
            new_id = conn.execute(
                _insert_ignoring_conflicts(conn, fb)
                .values(
                    idempotency_key=event_.idempotency_key,
                    user_id=event_.user_id,
                    item_id=event_.item_id,
                    kind=event_.kind,
                    value=event_.value,
                    timestamp=event_.timestamp,
                    received_at=time.time(),
                )
                .returning(fb.c.id)
            ).scalar()
            if new_id is None:
                row = conn.execute(
                    select(fb).where(
                        fb.c.user_id == event_.user_id,
                        fb.c.idempotency_key == event_.idempotency_key,
                    )
                ).one()
                if not event_.same_as(row):
                    raise IdempotencyConflict(  # keys are per user: this user's own other event
                        f"idempotency key {event_.idempotency_key!r} was already used for a "
                        "different event; use a new key for a new event"
                    )
                return StoredFeedback(int(row.id), duplicate=True)
            conn.execute(
                insert(schema.interactions).values(
                    user_id=event_.user_id,
                    item_id=event_.item_id,
                    timestamp=event_.timestamp,
                    rating=event_.value if event_.kind == "rating" else None,
                    feedback_id=new_id,
                )
            )
        return StoredFeedback(int(new_id), duplicate=False)
