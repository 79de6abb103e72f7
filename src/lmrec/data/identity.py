"""A dataset's identity: a hash of its content, so a store (or anything built from a dataset)
can tell the copy it was made from from another copy of the same name."""

from __future__ import annotations

import hashlib

import numpy as np

from lmrec.data.containers import Dataset


def content_hash(dataset: Dataset) -> str:
    """sha256 (hex) of the user and item ids, every interaction (user, item, time, rating) and
    every item's title: what a service store copies from the dataset."""
    digest = hashlib.sha256()
    inter = dataset.interactions
    items = inter.item_vocab.ids
    for texts in (inter.user_vocab.ids, items, [dataset.title(i) for i in items]):
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\x1f")
        digest.update(b"\x1e")
    columns = [inter.users, inter.items, inter.timestamps]
    if inter.ratings is not None:
        columns.append(inter.ratings)
    for column in columns:
        digest.update(np.ascontiguousarray(column).tobytes())
        digest.update(b"\x1e")
    return digest.hexdigest()
