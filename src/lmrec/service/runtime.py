"""What one service process knows of the catalogue: the dataset's items plus the store's runtime
items, which are retired, and every item's title. Rebuilt from the store's change log
(:mod:`lmrec.service.catalogue`), so every worker process converges on the same catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field

from lmrec.data.containers import Dataset, ItemCatalog
from lmrec.data.runtime_items import RuntimeItem, extend_catalog
from lmrec.service.catalogue import changes_since, runtime_items
from lmrec.service.store import Store


@dataclass
class Catalogue:
    """The catalogue as this process last read it (``applied``: the last change id replayed)."""

    catalog: ItemCatalog | None
    known: set[str]
    titles: dict[str, str]
    retired: frozenset[str] = frozenset()
    runtime: list[str] = field(default_factory=list)  # runtime item ids, first added first
    applied: int = 0

    @classmethod
    def of(cls, dataset: Dataset) -> Catalogue:
        ids = dataset.interactions.item_vocab.ids
        return cls(dataset.catalog, set(ids), {i: dataset.title(i) for i in ids})

    def title(self, item_id: str) -> str:
        return self.titles.get(item_id, item_id)

    def refresh(self, store: Store) -> list[str]:
        """Replay the store's changes after :attr:`applied`; returns the ids put (new or
        changed), in order, for the model to (re-)read."""
        changes = changes_since(store, self.applied)
        if not changes:
            return []
        put = list(dict.fromkeys(c.item_id for c in changes if c.action == "put"))
        if put:
            stored = runtime_items(store, put)
            if self.catalog is not None:
                self.catalog = extend_catalog(
                    self.catalog, [RuntimeItem(s.item_id, s.fields) for s in stored]
                )
            for s in stored:
                self.titles[s.item_id] = s.title
                if s.item_id not in self.known:
                    self.known.add(s.item_id)
                    self.runtime.append(s.item_id)
        retired = set(self.retired)
        for change in changes:  # in order: a put brings a retired item back
            (retired.add if change.action == "retire" else retired.discard)(change.item_id)
        self.retired = frozenset(retired)
        self.applied = changes[-1].id
        return put
