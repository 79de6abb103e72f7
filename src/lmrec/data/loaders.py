"""Turn atomic files into lmrec containers (and containers back into atomic files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.data.atomic import AtomicTable, Column, check_unique, read_atomic, write_atomic
from lmrec.data.checks import check_finite, check_ids, warn_duplicate_rows
from lmrec.data.containers import (
    Field,
    FieldType,
    Interactions,
    ItemCatalog,
    KnowledgeGraph,
    UserTable,
    Vocabulary,
)
from lmrec.data.errors import DataFormatError


def encode(kind: str, values: Sequence[str]) -> tuple[npt.NDArray[np.int32], Vocabulary]:
    """Dense indices of ``values`` against a vocabulary of their distinct values in natural order."""
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=False)
    vocab = Vocabulary.from_ids(kind, (str(u) for u in uniques))
    remap = vocab.lookup(str(u) for u in uniques)
    return remap[codes].astype(np.int32), vocab


def interactions_from_table(
    table: AtomicTable,
    user: str = "user_id",
    item: str = "item_id",
    time: str = "timestamp",
    rating: str = "rating",
) -> Interactions:
    """Interactions from an atomic ``.inter`` table; without a time column, file order is time."""
    if len(table) == 0:
        raise DataFormatError(table.path, "no interactions after the header", line=2)
    users, user_vocab = encode("user", table.raw(user))
    items, item_vocab = encode("item", table.raw(item))
    for name, codes, vocab in ((user, users, user_vocab), (item, items, item_vocab)):
        check_ids(table.path, codes, vocab.ids, name, table.position(name) + 1)
    if table.has(time):
        timestamps = table.floats(time)
        check_finite(table.path, timestamps, time, table.position(time) + 1)
    else:
        timestamps = np.arange(len(table), dtype=np.float64)
    ratings = None
    if table.has(rating):
        check_finite(table.path, table.floats(rating), rating, table.position(rating) + 1)
        ratings = table.floats(rating).astype(np.float32)
    if table.has(time):  # without times, a repeated pair is a repeat visit, not a copy
        row: list[npt.ArrayLike] = [users, items, timestamps]
        warn_duplicate_rows(table.path, row if ratings is None else [*row, ratings])
    return Interactions(users, items, timestamps, user_vocab, item_vocab, ratings)


def load_interactions(path: str | Path, **columns: str) -> Interactions:
    """Read an atomic ``.inter`` file (``user_id``, ``item_id`` and optional ``timestamp``, ``rating``)."""
    return interactions_from_table(read_atomic(path), **columns)


def load_sequence_interactions(
    path: str | Path,
    user: str = "user_id",
    history: str = "item_id_list",
    target: str = "item_id",
    item_vocab: Vocabulary | None = None,
) -> Interactions:
    """Interactions from a sequence file (``user_id, item_id_list, item_id``).

    Each row's history followed by its target becomes that user's interactions, in order; the
    timestamp of an interaction is its position in the row. Leave-one-out on the result therefore
    holds out exactly the file's targets (last item = the row's target).
    """
    table = read_atomic(path)
    if len(table) == 0:
        raise DataFormatError(table.path, "no sequences after the header", line=2)
    check_unique(table, user)
    histories = table.raw(history)
    targets = table.raw(target)
    user_col: list[str] = []
    item_col: list[str] = []
    time_col: list[float] = []
    for u, h, t in zip(table.raw(user), histories, targets, strict=True):
        seq = [*h.split(" "), t] if h else [t]
        user_col.extend([u] * len(seq))
        item_col.extend(seq)
        time_col.extend(range(len(seq)))
    users, user_vocab = encode("user", user_col)
    if item_vocab is None:
        items, item_vocab = encode("item", item_col)
    else:
        codes = item_vocab.lookup(item_col)
        if (codes < 0).any():
            bad = item_col[int(np.flatnonzero(codes < 0)[0])]
            raise DataFormatError(table.path, f"item id {bad!r} is not in the item catalogue")
        items = codes
    return Interactions(users, items, np.asarray(time_col), user_vocab, item_vocab)


def _fields(table: AtomicTable, skip: str) -> tuple[Field, ...]:
    return tuple(
        Field(c.name, c.type, table.values(c.name)) for c in table.columns if c.name != skip
    )


TITLE_WORDS = ("title", "name", "text", "description")


def load_item_catalog(
    path: str | Path, id_field: str = "item_id", title_field: str | None = None
) -> ItemCatalog:
    """Read an atomic ``.item`` file; the title field defaults to the first field named like a title."""
    table = read_atomic(path)
    table.position(id_field)
    check_unique(table, id_field)
    fields = _fields(table, id_field)
    if title_field is None:
        title_field = next(
            (f.name for word in TITLE_WORDS for f in fields if word in f.name),
            next((f.name for f in fields if f.type == FieldType.TOKEN_SEQ), None),
        )
    elif not table.has(title_field):
        table.position(title_field)
    return ItemCatalog(Vocabulary("item", tuple(table.raw(id_field))), fields, title_field)


def load_user_table(path: str | Path, id_field: str = "user_id") -> UserTable:
    """Read an atomic ``.user`` file."""
    table = read_atomic(path)
    check_unique(table, id_field)
    return UserTable(Vocabulary("user", tuple(table.raw(id_field))), _fields(table, id_field))


def load_knowledge_graph(kg_path: str | Path, link_path: str | Path) -> KnowledgeGraph:
    """Read ``.kg`` (head_id, relation_id, tail_id) and ``.link`` (item_id, entity_id) files."""
    kg = read_atomic(kg_path)
    link = read_atomic(link_path)
    heads, tails = kg.raw("head_id"), kg.raw("tail_id")
    entities = Vocabulary.from_ids("entity", [*heads, *tails, *link.raw("entity_id")])
    relations, relation_vocab = encode("relation", kg.raw("relation_id"))
    return KnowledgeGraph(
        heads=entities.lookup(heads),
        relations=relations,
        tails=entities.lookup(tails),
        entity_vocab=entities,
        relation_vocab=relation_vocab,
        link_items=tuple(link.raw("item_id")),
        link_entities=entities.lookup(link.raw("entity_id")),
    )


def write_interactions(interactions: Interactions, path: str | Path) -> None:
    """Write interactions as an atomic ``.inter`` file (original ids, file order kept)."""
    columns = [
        Column("user_id", FieldType.TOKEN),
        Column("item_id", FieldType.TOKEN),
        Column("timestamp", FieldType.FLOAT),
    ]
    cols: list[Sequence[str | float]] = [
        interactions.user_vocab.decode(interactions.users),
        interactions.item_vocab.decode(interactions.items),
        interactions.timestamps.tolist(),
    ]
    if interactions.ratings is not None:
        columns.insert(2, Column("rating", FieldType.FLOAT))
        cols.insert(2, interactions.ratings.astype(np.float64).tolist())
    write_atomic(path, columns, list(zip(*cols, strict=True)))


def write_table(table: ItemCatalog | UserTable, path: str | Path, id_field: str) -> None:
    """Write an item catalogue or user table as an atomic file."""
    columns = [Column(id_field, FieldType.TOKEN), *(Column(f.name, f.type) for f in table.fields)]
    rows = [[table.ids.ids[i], *(f.values[i] for f in table.fields)] for i in range(len(table))]
    write_atomic(path, columns, rows)
