"""Several datasets as one: the training data of a cross-domain (joint) model.

User and item ids are prefixed with their dataset's name (``ml-1m/1``, ``amazon-games/1``), so
domains never share a user or an item. The joint catalogue has one field, ``text``: every item's
text rendered with its own dataset's template, so a text model reads exactly the text it would read
in that domain alone. Where the datasets' user tables carry ``reviewer_id``, the joint user table
keeps it, so :mod:`lmrec.data.people` can link one person's users across domains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lmrec.data.containers import (
    Dataset,
    Field,
    FieldType,
    Interactions,
    ItemCatalog,
    UserTable,
    Vocabulary,
)
from lmrec.data.errors import DataError
from lmrec.data.templates import item_template

SEPARATOR = "/"
LINK_FIELD = "reviewer_id"  # the user field that names one person in several domains
JOINT_PREFIX = "joint:"  # the name of a combined dataset: "joint:ml-1m+amazon-games"
JOINER = "+"  # "ml-1m+amazon-games" names the joint dataset of both


def prefixed(dataset: str, ids: Sequence[str]) -> list[str]:
    return [f"{dataset}{SEPARATOR}{i}" for i in ids]


def domains(item_ids: Sequence[str]) -> list[tuple[str, int]]:
    """Each domain of a joint item vocabulary, in order, as (dataset name, index of its first
    item). Raises DataError for an id without a ``dataset/`` prefix or a domain whose items are
    not contiguous (``combine`` keeps them so)."""
    found: list[tuple[str, int]] = []
    seen: set[str] = set()
    for index, item in enumerate(item_ids):
        name, sep, _ = item.partition(SEPARATOR)
        if not sep:
            raise DataError(
                f"item {item!r} has no 'dataset{SEPARATOR}' prefix: per-domain training needs "
                "a joint dataset built by lmrec.data.joint.combine"
            )
        if not found or name != found[-1][0]:
            if name in seen:
                raise DataError(f"the items of domain {name!r} are not contiguous (at {item!r})")
            seen.add(name)
            found.append((name, index))
    return found


def domain_bounds(item_ids: Sequence[str]) -> list[int]:
    """Where each domain's items start in a joint item vocabulary, then its length: ``[0,
    n_first, ..., n_items]`` (errors as :func:`domains`)."""
    return [start for _, start in domains(item_ids)] + [len(item_ids)] if item_ids else [0]


def domain_ranges(item_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``(start, stop)`` of each domain's items in a joint item vocabulary (errors as
    :func:`domains`)."""
    found = domains(item_ids)
    stops = [start for _, start in found[1:]] + [len(item_ids)]
    return {name: (start, stop) for (name, start), stop in zip(found, stops, strict=True)}


def domain_range(ranges: Mapping[str, tuple[int, int]], name: str) -> tuple[int, int]:
    """``ranges[name]`` (from :func:`domain_ranges`); DataError naming the domains there are."""
    if name not in ranges:
        raise DataError(f"no domain {name!r} among the model's items; domains: {', '.join(ranges)}")
    return ranges[name]


def combine_interactions(parts: Sequence[tuple[str, Interactions]]) -> Interactions:
    """One interaction log over the union of prefixed users and items."""
    if len({name for name, _ in parts}) != len(parts):
        raise DataError("combine: each dataset may appear once")
    users: list[str] = []
    items: list[str] = []
    columns: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for name, inter in parts:
        columns.append(
            (inter.users + len(users), inter.items + len(items), np.asarray(inter.timestamps))
        )
        users += prefixed(name, inter.user_vocab.ids)
        items += prefixed(name, inter.item_vocab.ids)
    return Interactions(
        users=np.concatenate([c[0] for c in columns]),
        items=np.concatenate([c[1] for c in columns]),
        timestamps=np.concatenate([c[2] for c in columns]),
        user_vocab=Vocabulary("user", tuple(users)),
        item_vocab=Vocabulary("item", tuple(items)),
    )


def joint_users(datasets: Sequence[Dataset], field: str = LINK_FIELD) -> UserTable | None:
    """The joint dataset's user table: every prefixed user with its ``field`` ("" where its
    dataset has none); None when no dataset has the field."""
    tables = [ds.users for ds in datasets]
    if not any(t is not None and field in t.field_names for t in tables):
        return None
    ids: list[str] = []
    values: list[str] = []
    for ds, table in zip(datasets, tables, strict=True):
        users = list(ds.interactions.user_vocab.ids)
        ids += prefixed(ds.name, users)
        if table is None or field not in table.field_names:
            values += [""] * len(users)
            continue
        column = dict(zip(table.ids.ids, table.field(field).values, strict=True))
        values += [str(column.get(u, "")) for u in users]
    return UserTable(
        Vocabulary("user", tuple(ids)), (Field(field, FieldType.TOKEN, tuple(values)),)
    )


def combine(datasets: Sequence[Dataset], texts: Sequence[Sequence[str]]) -> Dataset:
    """The joint dataset; ``texts[d]`` is the text of every item of ``datasets[d]`` (in its
    vocabulary order), as the dataset's template renders it."""
    if len(datasets) != len(texts):
        raise DataError("combine: one text list per dataset")
    for ds, text in zip(datasets, texts, strict=True):
        if len(text) != ds.interactions.n_items:
            raise DataError(
                f"combine: {len(text)} texts for the {ds.interactions.n_items} items of {ds.name}"
            )
    inter = combine_interactions([(ds.name, ds.interactions) for ds in datasets])
    catalog = ItemCatalog(
        inter.item_vocab,
        (Field("text", FieldType.TOKEN, tuple(t for text in texts for t in text)),),
        title_field="text",
    )
    names = "+".join(ds.name for ds in datasets)
    prep = "; ".join(f"{ds.name}: {ds.prep}" for ds in datasets)
    return Dataset(
        name=f"{JOINT_PREFIX}{names}",
        interactions=inter,
        catalog=catalog,
        users=joint_users(datasets),
        prep=f"union of {names} with user and item ids prefixed by the dataset name ({prep})",
    )


def is_joint(dataset: Dataset) -> bool:
    """Whether ``dataset`` was built by :func:`combine` (ids carry their domain)."""
    return dataset.name.startswith(JOINT_PREFIX)


def joint_names(name: str) -> list[str]:
    """The dataset names of a joint name ``"a+b"``; DataError unless it names two or more."""
    names = name.split(JOINER)
    if len(names) < 2 or not all(names):
        raise DataError(f"{name!r}: a joint dataset names two or more datasets, as 'a{JOINER}b'")
    return names


def join(datasets: Sequence[Dataset]) -> Dataset:
    """The joint dataset of loaded ``datasets``, each item's text rendered with its own
    dataset's default template (:func:`lmrec.data.templates.item_template`)."""
    texts = []
    for ds in datasets:
        if ds.catalog is None:
            raise DataError(f"{ds.name} has no item catalogue: a joint dataset needs item text")
        texts.append(
            item_template(ds.name, ds.catalog).render(ds.catalog, ds.interactions.item_vocab.ids)
        )
    return combine(datasets, texts)
