"""The item universe: every item a dataset knows, from its interaction log and its catalogue.

A catalogue row nobody has interacted with yet is still an item: text models can recommend it
from its text. :func:`with_catalogue_items` widens the interactions' item vocabulary to the
union of logged and catalogued ids (natural order, so the tie rule "ascending item id" holds);
the log's rows are unchanged, only re-indexed. Every dataset lmrec loads passes through it.
"""

from __future__ import annotations

from dataclasses import replace

from lmrec.data.containers import Dataset, Interactions, Vocabulary


def catalogue_only(dataset: Dataset) -> list[str]:
    """Catalogue items that no interaction of the log names, in catalogue order."""
    if dataset.catalog is None:
        return []
    logged = dataset.interactions.item_vocab
    return [i for i in dataset.catalog.ids.ids if i not in logged]


def with_catalogue_items(dataset: Dataset) -> Dataset:
    """The dataset whose item vocabulary also holds its catalogue-only items (the same dataset
    when there are none); ``prep`` says how many were added."""
    extra = catalogue_only(dataset)
    if not extra:
        return dataset
    inter = dataset.interactions
    vocab = Vocabulary.from_ids("item", [*inter.item_vocab.ids, *extra])
    remap = vocab.lookup(inter.item_vocab.ids)
    widened = Interactions(
        inter.users,
        remap[inter.items],
        inter.timestamps,
        inter.user_vocab,
        vocab,
        inter.ratings,
    )
    prep = (
        f"{dataset.prep}; the item universe adds {len(extra):,} catalogue items without "
        "interactions (scored by text models, ranked last by ID-only models)"
    )
    return replace(dataset, interactions=widened, prep=prep)
