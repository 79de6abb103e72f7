"""Items added after a dataset was loaded (``PUT /items/{id}``, ``lmrec items import``, a store
read for training): their fields checked against the catalogue's, and the catalogue widened.

One check for every surface: :func:`check_item_fields` is what the HTTP API, the bulk import and
the training reader call, so an item refused over HTTP is refused from a file for the same reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.data.checks import id_problem, text_problem
from lmrec.data.containers import Field, FieldType, FieldValue, ItemCatalog, Vocabulary
from lmrec.data.errors import DataError

MAX_ID = 128
MAX_TEXT = 2_000


class ItemFieldError(DataError):
    """A runtime item's id or field is refused; ``field`` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_item_id(item_id: str) -> str:
    """An item id the store and atomic files can hold: 1..128 characters, no control characters,
    no surrounding spaces."""
    if (
        not isinstance(item_id, str)
        or not 1 <= len(item_id) <= MAX_ID
        or item_id != item_id.strip()
        or id_problem(item_id)
    ):
        raise ItemFieldError(
            f"item id {item_id!r}: 1 to {MAX_ID} characters, no control characters or "
            "surrounding spaces",
            "item_id",
        )
    return item_id


def _text_value(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ItemFieldError(f"field {name!r} must be text, got {type(value).__name__}", name)
    if text_problem(value):
        raise ItemFieldError(f"field {name!r} holds control characters or invalid text", name)
    cleaned = " ".join(value.split())
    if len(cleaned) > MAX_TEXT:
        raise ItemFieldError(f"field {name!r} is longer than {MAX_TEXT} characters", name)
    return cleaned


def _field_value(field: Field, value: Any) -> FieldValue:
    name = field.name
    if field.type is FieldType.TOKEN:
        return _text_value(name, value)
    if field.type is FieldType.TOKEN_SEQ:
        words = list(value) if isinstance(value, list | tuple) else [value]
        return tuple(w for v in words for w in _text_value(name, v).split(" ") if w)
    many = isinstance(value, list | tuple) and field.type is FieldType.FLOAT_SEQ
    numbers = list(value) if many else [value]
    out: list[float] = []
    for v in numbers:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ItemFieldError(f"field {name!r} must be a finite number", name)
        out.append(float(v))
    return tuple(out) if field.type is FieldType.FLOAT_SEQ else out[0]


def check_item_fields(
    catalog: ItemCatalog | None, fields: Mapping[str, Any], new: bool
) -> dict[str, FieldValue]:
    """``fields`` as typed catalogue values. Every name must be a catalogue field; a new item
    needs the title field, and its text fields may not all be empty."""
    if catalog is None:
        raise ItemFieldError(
            "this dataset has no item catalogue: items cannot be described by text", "fields"
        )
    known = {f.name: f for f in catalog.fields}
    out: dict[str, FieldValue] = {}
    for name, value in fields.items():
        if name not in known:
            raise ItemFieldError(
                f"unknown field {name!r}; the catalogue has: {', '.join(known)}", name
            )
        out[name] = _field_value(known[name], value)
    title = catalog.title_field
    if new and title is not None and not out.get(title):
        raise ItemFieldError(f"a new item needs its {title!r}", title)
    if not any(v for v in out.values() if isinstance(v, str | tuple)):
        raise ItemFieldError("give at least one non-empty text field", "fields")
    return out


def _empty(field: Field) -> FieldValue:
    if field.type is FieldType.FLOAT:
        return math.nan
    return "" if field.type is FieldType.TOKEN else ()


@dataclass(frozen=True)
class RuntimeItem:
    """An item as the store holds it: id and checked fields."""

    item_id: str
    fields: Mapping[str, FieldValue]


def extend_catalog(catalog: ItemCatalog, items: list[RuntimeItem]) -> ItemCatalog:
    """The catalogue with ``items`` added (new ids at the end) or updated (fields given replace
    the old values; fields not given keep them, or are empty for a new item)."""
    if not items:
        return catalog
    ids = list(catalog.ids.ids)
    columns = {f.name: list(f.values) for f in catalog.fields}
    position = dict(catalog.ids._index)
    for item in items:
        row = position.get(item.item_id)
        if row is None:
            row = position[item.item_id] = len(ids)
            ids.append(item.item_id)
            for f in catalog.fields:
                columns[f.name].append(_empty(f))
        for name, value in item.fields.items():
            columns[name][row] = value
    fields = tuple(Field(f.name, f.type, tuple(columns[f.name])) for f in catalog.fields)
    return ItemCatalog(Vocabulary("item", tuple(ids)), fields, title_field=catalog.title_field)


def title_of(catalog: ItemCatalog | None, item: RuntimeItem) -> str:
    """The display title of a runtime item (its id when it has none)."""
    name = None if catalog is None else catalog.title_field
    value = item.fields.get(name or "", "")
    text = " ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
    return text or item.item_id


def widened(vocab: Vocabulary, item_ids: Sequence[str]) -> tuple[Vocabulary, npt.NDArray[np.int64]]:
    """``vocab`` with the ids it lacks appended (in order), and each of ``item_ids``' rows in it
    (how a fitted model's item table grows by items added while serving)."""
    rows = vocab.lookup(item_ids).astype(np.int64)
    added = list(dict.fromkeys(i for i, r in zip(item_ids, rows, strict=True) if r < 0))
    grown = Vocabulary("item", (*vocab.ids, *added)) if added else vocab
    return grown, grown.lookup(item_ids).astype(np.int64)


def with_rows(
    table: npt.NDArray[np.float32], n_rows: int, rows: npt.NDArray[np.int64], values: npt.ArrayLike
) -> npt.NDArray[np.float32]:
    """A copy of ``table`` padded with zero rows to ``n_rows``, ``values`` written at ``rows``."""
    out = np.zeros((n_rows, table.shape[1]), dtype=np.float32)
    out[: len(table)] = table
    out[rows] = values
    return out
