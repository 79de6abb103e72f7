"""Typed, immutable data containers: the shapes every other part of lmrec works with.

Conventions:

- Original ids (as found in files) are strings. Internally users and items are dense ``int32``
  indices into a :class:`Vocabulary`; a vocabulary is sorted in *natural* order (numerically when
  every id is an integer, else lexicographically), so "ties broken by ascending item id" is the same
  as "ties broken by ascending index".
- Arrays held by a container are read-only views; containers are frozen dataclasses.
- Histories are stored as :class:`Sequences` (CSR: ``indptr`` + ``items``), most recent item last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lmrec.data.errors import DataError, UnknownIdError

if TYPE_CHECKING:
    from typing_extensions import Self

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


def frozen_array(values: npt.ArrayLike, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """A contiguous read-only copy of ``values`` as ``dtype`` (returned as is when already one)."""
    if isinstance(values, np.ndarray) and values.dtype == dtype and not values.flags.writeable:
        return values
    arr = np.array(values, dtype=dtype, order="C")
    arr.flags.writeable = False
    return arr


def natural_order(ids: Iterable[str]) -> list[str]:
    """Sort ids numerically when all are integers, otherwise as strings."""
    unique = set(ids)
    try:
        return [str(v) for v in sorted(unique, key=int)]
    except ValueError:
        return sorted(unique)


@dataclass(frozen=True)
class Vocabulary:
    """A bijection between original string ids and dense indices ``0..n-1``."""

    kind: str
    ids: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.ids, tuple):
            object.__setattr__(self, "ids", tuple(str(v) for v in self.ids))
        index = {v: i for i, v in enumerate(self.ids)}
        if len(index) != len(self.ids):
            seen: set[str] = set()
            dup = next(v for v in self.ids if v in seen or seen.add(v))  # type: ignore[func-returns-value]
            raise DataError(f"duplicate {self.kind} id {dup!r} in vocabulary")
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_ids(cls, kind: str, ids: Iterable[str]) -> Self:
        """Build a vocabulary of the distinct ``ids`` in natural order."""
        return cls(kind, tuple(natural_order(ids)))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, value: object) -> bool:
        return value in self._index

    def index(self, value: str) -> int:
        """Index of ``value``; raises :class:`UnknownIdError` when absent."""
        try:
            return self._index[value]
        except KeyError:
            raise UnknownIdError(self.kind, value) from None

    def lookup(self, values: Iterable[str]) -> IntArray:
        """Indices of ``values``, ``-1`` for ids that are not in the vocabulary."""
        get = self._index.get
        return np.fromiter((get(v, -1) for v in values), dtype=np.int32)

    def decode(self, indices: Iterable[int]) -> list[str]:
        """Original ids of ``indices``."""
        return [self.ids[int(i)] for i in indices]


@dataclass(frozen=True)
class Sequences:
    """Variable-length integer sequences in CSR form; row ``i`` is ``items[indptr[i]:indptr[i+1]]``."""

    indptr: npt.NDArray[np.int64]
    items: IntArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "indptr", frozen_array(self.indptr, np.int64))
        object.__setattr__(self, "items", frozen_array(self.items, np.int32))
        if self.indptr.ndim != 1 or len(self.indptr) == 0 or self.indptr[0] != 0:
            raise DataError("Sequences.indptr must be 1-D and start at 0")
        if self.indptr[-1] != len(self.items) or np.any(np.diff(self.indptr) < 0):
            raise DataError("Sequences.indptr must be non-decreasing and end at len(items)")

    @classmethod
    def trusted(cls, indptr: npt.NDArray[np.int64], items: npt.NDArray[np.int32]) -> Self:
        """Built by this class's own operations from valid CSR arrays of the right dtypes: no
        copy and no check (the serving path builds several per request)."""
        out = object.__new__(cls)
        indptr.flags.writeable = False
        items.flags.writeable = False
        object.__setattr__(out, "indptr", indptr)
        object.__setattr__(out, "items", items)
        return out

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[int]]) -> Self:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        flat = [int(v) for r in rows for v in r]
        return cls(indptr, np.asarray(flat, dtype=np.int32))

    @classmethod
    def from_arrays(cls, rows: Sequence[npt.NDArray[np.integer[Any]]]) -> Self:
        """From one integer array per row (no Python loop over the elements)."""
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths)])
        flat = np.concatenate(rows).astype(np.int32) if rows else np.empty(0, dtype=np.int32)
        return cls.trusted(indptr, flat)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, i: int) -> IntArray:
        return self.items[self.indptr[i] : self.indptr[i + 1]]

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        return np.diff(self.indptr)

    def row_ids(self) -> npt.NDArray[np.int64]:
        """For every element of ``items``, the row it belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def steps_back(self) -> npt.NDArray[np.int64]:
        """For every element, how many items follow it in its row (0 = the most recent item)."""
        return np.repeat(self.indptr[1:], self.lengths) - 1 - np.arange(len(self.items))

    def take(self, rows: npt.ArrayLike) -> Sequences:
        """The sub-collection of the given rows, in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        offsets = np.repeat(starts - indptr[:-1], lengths)
        flat = self.items[np.arange(indptr[-1]) + offsets]
        return Sequences(indptr, flat)

    def truncate(self, max_len: int) -> Sequences:
        """Keep at most the last ``max_len`` items of each row (the most recent ones)."""
        lengths = np.minimum(self.lengths, max_len)
        if np.array_equal(lengths, self.lengths):
            return self
        starts = self.indptr[1:] - lengths
        indptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths)])
        offsets = np.repeat(starts - indptr[:-1], lengths)
        return Sequences.trusted(indptr, self.items[np.arange(indptr[-1]) + offsets])


@dataclass(frozen=True)
class Interactions:
    """An interaction log: parallel arrays of user index, item index, timestamp (and rating).

    Row order is the file order; :meth:`sequences` sorts each user's rows by timestamp with a stable
    sort, so ties keep file order.
    """

    users: IntArray
    items: IntArray
    timestamps: FloatArray
    user_vocab: Vocabulary
    item_vocab: Vocabulary
    ratings: npt.NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", frozen_array(self.users, np.int32))
        object.__setattr__(self, "items", frozen_array(self.items, np.int32))
        object.__setattr__(self, "timestamps", frozen_array(self.timestamps, np.float64))
        if self.ratings is not None:
            object.__setattr__(self, "ratings", frozen_array(self.ratings, np.float32))
        n = len(self.users)
        lengths = {len(self.items), len(self.timestamps)}
        if self.ratings is not None:
            lengths.add(len(self.ratings))
        if lengths != {n}:
            raise DataError("Interactions arrays must all have the same length")
        if n and (self.users.min() < 0 or self.users.max() >= len(self.user_vocab)):
            raise DataError("Interactions.users holds an index outside the user vocabulary")
        if n and (self.items.min() < 0 or self.items.max() >= len(self.item_vocab)):
            raise DataError("Interactions.items holds an index outside the item vocabulary")

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_vocab)

    @property
    def n_items(self) -> int:
        return len(self.item_vocab)

    def select(self, rows: npt.ArrayLike) -> Interactions:
        """The interactions at ``rows`` (a boolean mask or indices), same vocabularies."""
        rows = np.asarray(rows)
        if rows.dtype != bool:
            rows = rows.astype(np.int64)
        return Interactions(
            users=self.users[rows],
            items=self.items[rows],
            timestamps=self.timestamps[rows],
            user_vocab=self.user_vocab,
            item_vocab=self.item_vocab,
            ratings=None if self.ratings is None else self.ratings[rows],
        )

    def chronological_order(self) -> npt.NDArray[np.int64]:
        """Row order grouping users (ascending index) and sorting each by time; ties keep file order."""
        return np.lexsort((self.timestamps, self.users)).astype(np.int64)

    def sequences(self) -> Sequences:
        """Every user's items in chronological order; row ``u`` is user index ``u``."""
        order = self.chronological_order()
        counts = np.bincount(self.users, minlength=self.n_users)
        return Sequences(np.concatenate([[0], np.cumsum(counts)]), self.items[order])

    def item_counts(self) -> npt.NDArray[np.int64]:
        """Number of interactions of every item (every row counts once)."""
        return np.bincount(self.items, minlength=self.n_items).astype(np.int64)


class FieldType(str, Enum):
    """RecBole atomic-file column types."""

    TOKEN = "token"
    TOKEN_SEQ = "token_seq"
    FLOAT = "float"
    FLOAT_SEQ = "float_seq"


FieldValue = str | tuple[str, ...] | float | tuple[float, ...]


@dataclass(frozen=True)
class Field:
    """One typed attribute column: ``values[i]`` belongs to the i-th row of its table."""

    name: str
    type: FieldType
    values: tuple[FieldValue, ...]

    def text(self, i: int) -> str:
        """The value as display text (sequences joined by spaces)."""
        value = self.values[i]
        if isinstance(value, tuple):
            return " ".join(str(v) for v in value)
        return str(value)


@dataclass(frozen=True)
class AttributeTable:
    """Typed attributes keyed by id (items or users); ``ids`` are in table (file) order."""

    ids: Vocabulary
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        for f in self.fields:
            if len(f.values) != len(self.ids):
                raise DataError(
                    f"field {f.name!r} has {len(f.values)} values for {len(self.ids)} ids"
                )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise DataError(f"no field {name!r}; available: {', '.join(self.field_names)}")

    def value(self, id_: str, name: str) -> FieldValue:
        return self.field(name).values[self.ids.index(id_)]


@dataclass(frozen=True)
class ItemCatalog(AttributeTable):
    """Item attributes; ``title_field`` names the field used as the item's display title."""

    title_field: str | None = None

    def title(self, item_id: str) -> str:
        """Display title of ``item_id`` (the id itself when there is no title field or no entry)."""
        if self.title_field is None or item_id not in self.ids:
            return item_id
        return self.field(self.title_field).text(self.ids.index(item_id))


@dataclass(frozen=True)
class UserTable(AttributeTable):
    """User attributes (age, gender, ...)."""


@dataclass(frozen=True)
class KnowledgeGraph:
    """Triples ``(head, relation, tail)`` over entities, and links from item ids to entities."""

    heads: IntArray
    relations: IntArray
    tails: IntArray
    entity_vocab: Vocabulary
    relation_vocab: Vocabulary
    link_items: tuple[str, ...]
    link_entities: IntArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "link_items", tuple(self.link_items))
        for name in ("heads", "relations", "tails", "link_entities"):
            object.__setattr__(self, name, frozen_array(getattr(self, name), np.int32))
        if not len(self.heads) == len(self.relations) == len(self.tails):
            raise DataError("KnowledgeGraph triple arrays must have the same length")
        if len(self.link_items) != len(self.link_entities):
            raise DataError("KnowledgeGraph link arrays must have the same length")

    def __len__(self) -> int:
        return len(self.heads)

    def entities_of(self, item_id: str) -> list[str]:
        """Entities linked to ``item_id`` (usually one, possibly none)."""
        idx = [e for i, e in zip(self.link_items, self.link_entities, strict=True) if i == item_id]
        return self.entity_vocab.decode(idx)

    def facts(self, entity: str) -> list[tuple[str, str]]:
        """``(relation, other entity)`` pairs of every triple touching ``entity``."""
        e = self.entity_vocab.index(entity)
        out: list[tuple[str, str]] = []
        for mask, other in ((self.heads == e, self.tails), (self.tails == e, self.heads)):
            for r, o in zip(self.relations[mask], other[mask], strict=True):
                out.append((self.relation_vocab.ids[r], self.entity_vocab.ids[o]))
        return out


@dataclass(frozen=True)
class Dataset:
    """A named dataset: interactions plus optional item catalogue, user table and knowledge graph.

    ``prep`` says in words how the interactions were derived from the files (filters, thresholds,
    how sequences became rows); it travels into every result's provenance.
    """

    name: str
    interactions: Interactions
    catalog: ItemCatalog | None = None
    users: UserTable | None = None
    kg: KnowledgeGraph | None = None
    prep: str = "every row of the interaction file is one interaction; no filtering"

    def title(self, item_id: str) -> str:
        return item_id if self.catalog is None else self.catalog.title(item_id)
