"""The store on SQLite and on PostgreSQL: migrations, one-time import, durable idempotent feedback."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from lmrec.service.store import FeedbackEvent, IdempotencyConflict, Store, StoreError
from service_helpers import tiny_dataset


def event(key: str, user: str = "u9", item: str = "50", kind: str = "click") -> FeedbackEvent:
    return FeedbackEvent(key, user, item, kind, 4.0 if kind == "rating" else None, 100.0)


def test_migrations_build_the_declared_schema_and_go_down_and_up(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lmrec.service.schema import metadata

    store = Store.open(store_url)
    assert store.revision() == "0006"
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"migrations and schema.py disagree: {diff}"
    store.downgrade("base")
    assert store.revision() is None
    store.migrate()
    assert store.revision() == "0006"
    store.close()


def test_dataset_is_imported_once_in_chronological_order(store_url: str, tmp_path: Path) -> None:
    ds = tiny_dataset(tmp_path)
    store = Store.open(store_url)
    report = store.import_dataset(ds)
    assert report is not None and (report.n_users, report.n_items, report.n_interactions) == (
        4,
        6,
        15,
    )
    assert store.import_dataset(ds) is None  # second start: nothing to do
    # u2 has a timestamp tie (20 and 30 at t=1): file order is kept
    assert store.history("u2", 10) == ["20", "30", "50", "10"]
    assert store.history("u2", 2) == ["50", "10"]
    assert store.history("nobody", 10) is None
    other = tiny_dataset(tmp_path).__class__(name="other", interactions=ds.interactions)
    with pytest.raises(StoreError, match="already holds dataset 'tiny'"):
        store.import_dataset(other)
    # the same name with an item the store never saw (a re-imported folder, say)
    from lmrec.data.containers import Dataset, Interactions, Vocabulary

    inter = ds.interactions
    renamed = Vocabulary("item", ("new-item", *inter.item_vocab.ids[1:]))
    changed = Interactions(inter.users, inter.items, inter.timestamps, inter.user_vocab, renamed)
    with pytest.raises(StoreError, match="another copy of 'tiny'"):
        store.import_dataset(Dataset(name="tiny", interactions=changed))
    store.close()


def test_feedback_appends_to_history_once_per_key(store_url: str, tmp_path: Path) -> None:
    store = Store.open(store_url)
    store.import_dataset(tiny_dataset(tmp_path))
    first = store.append_feedback(event("k1", user="u1", item="60"))
    assert not first.duplicate
    assert store.history("u1", 2) == ["40", "60"]
    again = store.append_feedback(event("k1", user="u1", item="60"))
    assert again.duplicate and again.id == first.id
    assert store.history_length("u1") == 5  # the retry wrote nothing
    with pytest.raises(IdempotencyConflict, match="'k1' was already used"):
        store.append_feedback(event("k1", user="u1", item="10"))
    # keys are per user: another user's "k1" is a new event, and learns nothing of u1's
    other = store.append_feedback(event("k1", user="probe", item="10"))
    assert not other.duplicate and other.id != first.id
    assert store.history("probe", 5) == ["10"]
    new_user = store.append_feedback(event("k2", user="brand-new", item="30", kind="rating"))
    assert store.history("brand-new", 5) == ["30"] and new_user.id > first.id
    # a new store object on the same database (a restarted server) sees the same rows
    store.close()
    reopened = Store.open(store_url)
    assert reopened.feedback_keys() == {"k1", "k2"}
    assert reopened.import_dataset(tiny_dataset(tmp_path)) is None
    reopened.close()


def test_concurrent_feedback_from_many_threads_loses_nothing(
    store_url: str, tmp_path: Path
) -> None:
    store = Store.open(store_url)
    store.import_dataset(tiny_dataset(tmp_path))
    errors: list[BaseException] = []

    def send(worker: int) -> None:
        try:
            for i in range(25):
                store.append_feedback(event(f"w{worker}-{i}", user=f"t{worker % 3}", item="20"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.feedback_keys()) == 200
    assert sum(store.history_length(f"t{u}") for u in range(3)) == 200
    store.close()


def test_title_search_is_a_literal_substring_match(store_url: str, tmp_path: Path) -> None:
    store = Store.open(store_url)
    store.import_dataset(tiny_dataset(tmp_path))
    assert store.search_items("star", 10) == [("20", "Star Trek"), ("10", "Star Wars")]
    assert store.search_items("ALIEN", 10) == [("50", "Alien"), ("60", "Aliens")]
    for hostile in ("%", "_", "' OR 1=1 --", "\\", "'; DROP TABLE items; --"):
        assert store.search_items(hostile, 10) == []
    assert len(store.search_items("", 10)) == 6
    assert store.history("u1", 10) == ["10", "20", "30", "40"]  # items table still there
    store.close()


def test_unsupported_or_unreachable_database_fails_clearly(tmp_path: Path) -> None:
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError):
        Store.open("postgresql+psycopg://127.0.0.1:1/none?connect_timeout=2")


def test_unsupported_or_driverless_store_urls_say_what_to_use() -> None:
    cases = {
        "mysql://u@h/db": "'mysql' is not supported; use SQLite",
        "nonsense": "cannot read store URL 'nonsense'",
        "postgresql+nosuchdriver://h/db": "its driver is not installed",
    }
    for url, said in cases.items():
        with pytest.raises(StoreError, match=re.escape(said)):
            Store.open(url)


def test_migrations_keep_feedback_and_its_history_rows(store_url: str, tmp_path: Path) -> None:
    """Down to 0003 and up again with feedback in the store (SQLite rebuilds the table that
    interactions reference): every row and reference survives, and keys become per user."""
    from sqlalchemy import text

    store = Store.open(store_url)
    store.import_dataset(tiny_dataset(tmp_path))
    store.append_feedback(event("k1", user="u1", item="60"))
    store.downgrade("0003")
    store.append_feedback(event("k2", user="u2", item="10"))
    store.migrate()
    assert store.revision() == "0006"
    with store.engine.connect() as conn:
        linked = "SELECT count(*) FROM interactions WHERE feedback_id IS NOT NULL"
        assert conn.execute(text("SELECT count(*) FROM feedback")).scalar() == 2
        assert conn.execute(text(linked)).scalar() == 2
    assert store.append_feedback(event("k1", user="u1", item="60")).duplicate
    assert not store.append_feedback(event("k1", user="u2", item="60")).duplicate
    store.close()
