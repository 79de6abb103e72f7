"""Copying a dataset into a store, once: one transaction, recorded in ``imports`` with the
copy's content hash; and the checks that a store holds this very copy."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, insert, select, text

from lmrec.data.containers import Dataset
from lmrec.service import schema
from lmrec.service.connect import StoreError


class Database(Protocol):
    """What these functions need of a :class:`lmrec.service.store.Store`."""

    @property
    def engine(self) -> Engine: ...

    @property
    def url(self) -> str: ...


IMPORT_CHUNK = 20_000


@dataclass(frozen=True)
class ImportReport:
    dataset: str
    n_items: int
    n_users: int
    n_interactions: int
    seconds: float


def check_same_items(self: Database, dataset: Dataset) -> None:
    """An older import must hold every item (feedback for a missing one breaks a foreign key)."""
    with self.engine.connect() as conn:
        stored = {r[0] for r in conn.execute(select(schema.items.c.item_id))}
    missing = [i for i in dataset.interactions.item_vocab.ids if i not in stored]
    if missing:
        raise StoreError(
            f"{self.url} was imported from another version of {dataset.name!r}: "
            f"{len(missing):,} of its items are not in the store (e.g. {missing[0]!r}); "
            "serve it with a new --store"
        )


def check_same_copy(self: Database, dataset: Dataset, identity: str) -> None:
    """The store must hold this very copy of the dataset (:mod:`lmrec.data.identity`): the
    users and histories it serves are the dataset's."""
    with self.engine.connect() as conn:
        held = conn.execute(select(schema.imports)).one()
    if held.content_hash is None:  # imported before stores knew their copy
        check_same_items(self, dataset)
    elif held.content_hash != identity:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(held.imported_at))
        raise StoreError(
            f"{self.url} holds another copy of {dataset.name!r} (imported {when}: "
            f"{held.n_interactions:,} interactions, {held.n_users:,} users; this one has "
            f"{len(dataset.interactions):,} and {dataset.interactions.n_users:,}); its users "
            "and histories are not this dataset's. Use another --store (without --store each "
            "copy of a dataset gets its own)"
        )


def import_rows(self: Database, dataset: Dataset, identity: str, progress: bool) -> ImportReport:
    start = time.perf_counter()
    data = dataset.interactions
    order = data.chronological_order()
    users = data.user_vocab.ids
    items = data.item_vocab.ids
    with self.engine.begin() as conn:
        conn.execute(
            insert(schema.items),
            [
                {"item_id": i, "title": (t := dataset.title(i)), "title_lower": t.lower()}
                for i in items
            ],
        )
        conn.execute(insert(schema.users), [{"user_id": u, "source": "dataset"} for u in users])
        ratings = data.ratings
        for chunk in _chunks(order, IMPORT_CHUNK, progress, f"import {dataset.name}"):
            conn.execute(
                insert(schema.interactions),
                [
                    {
                        "id": int(row) + 1,
                        "user_id": users[data.users[row]],
                        "item_id": items[data.items[row]],
                        "timestamp": float(data.timestamps[row]),
                        "rating": None if ratings is None else float(ratings[row]),
                    }
                    for row in chunk
                ],
            )
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('interactions', 'id'), "
                    "(SELECT MAX(id) FROM interactions))"
                )
            )
        conn.execute(
            insert(schema.imports),
            {
                "dataset": dataset.name,
                "n_items": len(items),
                "n_users": len(users),
                "n_interactions": len(data),
                "imported_at": time.time(),
                "content_hash": identity,
            },
        )
    with self.engine.connect() as conn:  # planner statistics now, not at autovacuum's whim
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return ImportReport(
        dataset.name, len(items), len(users), len(data), time.perf_counter() - start
    )


def _chunks(
    rows: Sequence[int] | Any, size: int, progress: bool, desc: str
) -> Iterator[Sequence[int]]:
    from tqdm.auto import tqdm

    with tqdm(total=len(rows), desc=desc, unit="rows", disable=not progress) as bar:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            yield chunk
            bar.update(len(chunk))
