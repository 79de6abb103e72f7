"""The store's living parts: items put or retired at runtime, the log every service process
replays to learn of them, and the model swaps every process follows.

Each write is one committed transaction: the ``items`` row and its ``item_changes`` row together,
so a process that sees a change also sees the item. Reads for the hot path go by change id
(``changes_since``), never by scanning the catalogue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from lmrec.data.containers import FieldValue
from lmrec.data.runtime_items import RuntimeItem
from lmrec.service import schema
from lmrec.service.store import Store


@dataclass(frozen=True)
class ItemChange:
    """One runtime put or retire, as logged (``id`` orders them)."""

    id: int
    item_id: str
    action: str  # put | retire


@dataclass(frozen=True)
class StoredItem:
    item_id: str
    title: str
    source: str  # dataset | runtime
    retired: bool
    fields: dict[str, Any]


@dataclass(frozen=True)
class SwapRequest:
    id: int
    checkpoint: str
    source: str  # reload | watch | retrain
    requested_at: float


def _json_fields(fields: Mapping[str, FieldValue]) -> str:
    return json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()})


def _typed(fields: str | None) -> dict[str, FieldValue]:
    raw = json.loads(fields) if fields else {}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}


def put_items(store: Store, items: list[RuntimeItem], titles: list[str]) -> int:
    """Add or update ``items`` (one transaction); returns the id of the last change logged.

    An update merges the given fields over the stored ones and brings a retired item back."""
    it = schema.items
    now = time.time()
    last = 0
    with store.engine.begin() as conn:
        ids = [i.item_id for i in items]
        query = select(it.c.item_id, it.c.fields).where(it.c.item_id.in_(ids))
        stored = {r.item_id: _typed(r.fields) for r in conn.execute(query)}
        for item, title in zip(items, titles, strict=True):
            merged = {**stored.get(item.item_id, {}), **item.fields}
            values = {"fields": _json_fields(merged), "retired": False, "updated_at": now}
            if title:
                values |= {"title": title, "title_lower": title.lower()}
            if item.item_id in stored:
                conn.execute(update(it).where(it.c.item_id == item.item_id).values(**values))
            else:
                conn.execute(insert(it).values(item_id=item.item_id, source="runtime", **values))
            stored[item.item_id] = merged
            last = _log(conn, item.item_id, "put", now)
    return last


def retire_item(store: Store, item_id: str) -> int | None:
    """Mark the item retired; returns the change id, ``None`` when the store has no such item."""
    it = schema.items
    now = time.time()
    with store.engine.begin() as conn:
        done = conn.execute(
            update(it).where(it.c.item_id == item_id).values(retired=True, updated_at=now)
        )
        if not done.rowcount:
            return None
        return _log(conn, item_id, "retire", now)


def _log(conn: Any, item_id: str, action: str, at: float) -> int:
    changes = schema.item_changes
    new = conn.execute(
        insert(changes).values(item_id=item_id, action=action, at=at).returning(changes.c.id)
    ).scalar_one()
    return int(new)


def last_change(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.max(schema.item_changes.c.id))).scalar() or 0)


def changes_since(store: Store, after: int) -> list[ItemChange]:
    changes = schema.item_changes
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(changes.c.id, changes.c.item_id, changes.c.action)
            .where(changes.c.id > after)
            .order_by(changes.c.id)
        ).all()
    return [ItemChange(int(r.id), r.item_id, r.action) for r in rows]


def runtime_items(store: Store, item_ids: list[str] | None = None) -> list[StoredItem]:
    """Items put at runtime (all, or those of ``item_ids``), in the order they were first added."""
    it = schema.items
    query = select(it).where(it.c.fields.is_not(None))
    if item_ids is not None:
        query = query.where(it.c.item_id.in_(item_ids))
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(it.c.updated_at, it.c.item_id)).all()
    return [
        StoredItem(r.item_id, r.title, r.source, bool(r.retired), _typed(r.fields)) for r in rows
    ]


def stored_item(store: Store, item_id: str) -> StoredItem | None:
    it = schema.items
    with store.engine.connect() as conn:
        r = conn.execute(select(it).where(it.c.item_id == item_id)).first()
    if r is None:
        return None
    return StoredItem(r.item_id, r.title, r.source, bool(r.retired), _typed(r.fields))


def catalogue_ids(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(schema.items.c.item_id)).scalars())


def request_swap(store: Store, checkpoint: str, source: str) -> int:
    """Ask every service process on this store to swap in ``checkpoint``; returns the request id."""
    swaps = schema.model_swaps
    with store.engine.begin() as conn:
        new = conn.execute(
            insert(swaps)
            .values(checkpoint=checkpoint, source=source, requested_at=time.time())
            .returning(swaps.c.id)
        ).scalar_one()
    return int(new)


def swaps_since(store: Store, after: int) -> list[SwapRequest]:
    swaps = schema.model_swaps
    with store.engine.connect() as conn:
        rows = conn.execute(select(swaps).where(swaps.c.id > after).order_by(swaps.c.id)).all()
    return [SwapRequest(int(r.id), r.checkpoint, r.source, r.requested_at) for r in rows]


def last_swap(store: Store, before: float) -> int:
    """The id of the last swap requested before ``before`` (0: none)."""
    swaps = schema.model_swaps
    with store.engine.connect() as conn:
        found = conn.execute(select(func.max(swaps.c.id)).where(swaps.c.requested_at < before))
        return int(found.scalar() or 0)
