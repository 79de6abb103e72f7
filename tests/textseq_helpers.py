"""Shared pieces of the TextSeqRec tests: two tiny synthetic text domains and fitting on them.

In every domain an item's text is a colour and a noun; every user stays with one colour. The
domains share no item and no noun, only the colours, so a model that learned "the next item has
the colour of the last ones" on one can rank another's items without training on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lmrec.core.fitted import ModelContext
from lmrec.data.containers import Dataset, Field, FieldType, Interactions, ItemCatalog, Vocabulary
from lmrec.metrics.evaluate import evaluate
from lmrec.models.registry import create_model
from lmrec.models.textseq import TextSeqRec
from lmrec.protocols.base import Split
from lmrec.protocols.leave_one_out import LeaveOneOut
from text_helpers import TrigramEncoder

COLOURS = ("red", "blue", "green", "yellow")
NOUNS = {
    "a": ("apple", "pear", "plum", "grape", "lemon", "melon"),
    "b": ("shirt", "scarf", "glove", "boots", "dress", "socks"),
    "c": ("chair", "table", "couch", "shelf", "stool", "bench"),
}
TINY = {"hidden_size": 16, "layers": 1, "dropout": 0.0, "max_len": 8, "experts": 2}


def domain(name: str, n_users: int = 60, length: int = 5, seed: int = 0) -> Dataset:
    """Users walk random items of one colour; item ids are ``<domain><index>``."""
    nouns = NOUNS[name]
    ids = [f"{name}{i}" for i in range(len(COLOURS) * len(nouns))]
    texts = [f"{c} {c} {c} {n}" for c in COLOURS for n in nouns]
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        colour = u % len(COLOURS)
        walk = rng.choice(len(nouns), size=length, replace=False)
        users += [u] * length
        items += [colour * len(nouns) + int(n) for n in walk]
    inter = Interactions(
        np.array(users, dtype=np.int32),
        np.array(items, dtype=np.int32),
        np.tile(np.arange(length, dtype=np.float64), n_users),
        Vocabulary("user", tuple(f"{name}-u{u}" for u in range(n_users))),
        Vocabulary("item", tuple(ids)),
    )
    catalog = ItemCatalog(
        Vocabulary("item", tuple(ids)),
        (Field("text", FieldType.TOKEN, tuple(texts)),),
        title_field="text",
    )
    return Dataset(f"colours-{name}", inter, catalog)


def context(ds: Dataset, tmp_path: Path) -> ModelContext:
    return ModelContext(ds.name, ds.catalog, cache_dir=tmp_path / "cache", encoder=TrigramEncoder())


def fit(ds: Dataset, tmp_path: Path, split: Split | None = None, **config: Any) -> TextSeqRec:
    split = split or LeaveOneOut().split(ds.interactions)
    train = {"epochs": 40, "batch_size": 16, "lr": 0.01, "patience": 0, **config.pop("train", {})}
    model = create_model("textseq", {**TINY, **config, "train": train}, context(ds, tmp_path))
    assert isinstance(model, TextSeqRec)
    return model.fit(split.train, split.valid)


def hr(model: TextSeqRec, ds: Dataset, k: int = 3) -> float:
    return evaluate(model, LeaveOneOut().split(ds.interactions).test, ks=(k,)).value(f"hr@{k}")


def batch_of(cases: Any, row: int) -> Any:
    from lmrec.core.query import QueryBatch

    one = cases.select([row])
    return QueryBatch(one.users, one.histories)
