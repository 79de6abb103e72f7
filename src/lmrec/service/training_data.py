"""The store as training data: the dataset plus every feedback event and runtime item a service
recorded (``lmrec train --store``, ``lmrec evaluate --store``, ``lmrec data export --store``).

Feedback rows join the log in event time (the client's timestamp; ties by arrival); runtime items
join the catalogue (retired ones too: histories keep them). Everything read passes the same checks
as any input: item fields through :func:`~lmrec.data.runtime_items.check_item_fields`, events
must name catalogue items and carry finite times.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lmrec.data.containers import Dataset, Interactions, Vocabulary
from lmrec.data.errors import DataError
from lmrec.data.runtime_items import RuntimeItem, check_item_fields, extend_catalog


@dataclass(frozen=True)
class StoreData:
    """What a run took from a store (its provenance)."""

    store: str
    last_event_id: int
    events: int
    runtime_items: int
    new_users: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "last_event_id": self.last_event_id,
            "events": self.events,
            "runtime_items": self.runtime_items,
            "new_users": self.new_users,
        }


def _read(url: str, dataset: Dataset) -> tuple[str, str | None, list[Any], list[Any]]:
    from sqlalchemy import select

    from lmrec.data.identity import content_hash
    from lmrec.service import schema
    from lmrec.service.catalogue import runtime_items
    from lmrec.service.store import Store
    from lmrec.service.store_import import check_same_copy

    store = Store.open(url)
    try:
        if store.imported_dataset() == dataset.name:  # this very copy, not a stale one
            check_same_copy(store, dataset, content_hash(dataset))
        inter, fb = schema.interactions, schema.feedback
        with store.engine.connect() as conn:
            events = conn.execute(
                select(inter.c.user_id, inter.c.item_id, inter.c.timestamp, fb.c.value, fb.c.id)
                .join(fb, fb.c.id == inter.c.feedback_id)
                .order_by(inter.c.timestamp, inter.c.id)
            ).all()
        return store.url, store.imported_dataset(), list(runtime_items(store)), list(events)
    finally:
        store.close()


def with_store(dataset: Dataset, url: str) -> tuple[Dataset, StoreData]:
    """``dataset`` with the store's feedback events and runtime items added."""
    shown, imported, stored, events = _read(url, dataset)
    if imported is not None and imported != dataset.name:
        raise DataError(f"store {shown} holds dataset {imported!r}, not {dataset.name!r}")
    catalog = dataset.catalog
    known = set(dataset.interactions.item_vocab.ids)
    items = []
    for item in stored:
        try:
            fields = check_item_fields(catalog, item.fields, new=item.item_id not in known)
        except DataError as exc:
            raise DataError(f"store {shown}, item {item.item_id!r}: {exc}") from None
        items.append(RuntimeItem(item.item_id, fields))
    if catalog is not None:
        catalog = extend_catalog(catalog, items)
    inter = dataset.interactions
    item_ids = [*inter.item_vocab.ids, *(i.item_id for i in items if i.item_id not in known)]
    new_users = list(dict.fromkeys(e.user_id for e in events if e.user_id not in inter.user_vocab))
    users = Vocabulary("user", (*inter.user_vocab.ids, *new_users))
    vocab = Vocabulary("item", tuple(item_ids))
    for e in events:
        if e.item_id not in vocab:
            raise DataError(f"store {shown}, feedback event {e.id}: unknown item {e.item_id!r}")
        if not np.isfinite(e.timestamp):
            raise DataError(f"store {shown}, feedback event {e.id}: timestamp {e.timestamp}")
    ratings = None
    if inter.ratings is not None:
        given = [np.nan if e.value is None else float(e.value) for e in events]
        ratings = np.concatenate([inter.ratings, np.asarray(given, dtype=np.float32)])
    widened = Interactions(
        np.concatenate([inter.users, users.lookup(e.user_id for e in events)]),
        np.concatenate([inter.items, vocab.lookup(e.item_id for e in events)]),
        np.concatenate([inter.timestamps, [float(e.timestamp) for e in events]]),
        users,
        vocab,
        ratings,
    )
    facts = StoreData(
        shown, max((int(e.id) for e in events), default=0), len(events), len(items), len(new_users)
    )
    prep = (
        f"{dataset.prep}; plus {facts.events:,} feedback events (ids up to "
        f"{facts.last_event_id}) and {facts.runtime_items:,} runtime items from store {shown}"
    )
    return replace(dataset, interactions=widened, catalog=catalog, prep=prep), facts
