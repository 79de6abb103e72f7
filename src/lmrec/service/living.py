"""The service's changing parts: items put and retired at runtime, and model swaps.

Every change goes through the store first (so it survives a restart and reaches every worker
process); :meth:`LivingService.sync` then replays the store's item changes and swap requests into
this process. The process that took the request syncs before answering, so its next request
sees the change; the others sync on their :class:`~lmrec.service.follow.Follower`'s next poll.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmrec.core.recommender import ExtendsCatalogue, Recommender
from lmrec.data.containers import Dataset
from lmrec.data.runtime_items import ItemFieldError, RuntimeItem, check_item_fields, check_item_id
from lmrec.data.runtime_items import title_of as runtime_title
from lmrec.errors import LmrecError
from lmrec.service.catalogue import last_swap, put_items, request_swap, retire_item, swaps_since
from lmrec.service.errors import Invalid, NotFound
from lmrec.service.live import (
    CheckpointRefused,
    LiveModel,
    ModelSlot,
    Origin,
    load_checked,
    make_live,
)
from lmrec.service.messages import ServiceLimits
from lmrec.service.runtime import Catalogue
from lmrec.service.store import Store


@dataclass(frozen=True)
class ItemPut:
    """The answer to a put: whether the served model can recommend the item now, and if not why."""

    item_id: str
    created: bool
    recommendable: bool
    note: str


@dataclass(frozen=True)
class Swapped:
    checkpoint: str
    model: str
    version: str
    trained_at: float | None
    seconds: float


class LivingService:
    """Mixin of :class:`~lmrec.service.engine.RecommendService`: the catalogue and the model
    may change while it serves."""

    dataset: Dataset
    store: Store
    limits: ServiceLimits
    catalogue: Catalogue
    slot: ModelSlot
    max_batch: int
    _applied_swap: int
    cannot_extend: str | None = None  # why the live model refused new items, when it did

    def _reader(self, live_items: Any) -> Any:
        raise NotImplementedError

    def _live(self, model: Recommender, name: str, origin: Origin) -> LiveModel:
        """A snapshot of ``model`` (not warmed) that also scores the runtime items it can."""
        extended = self._extended(model)
        reader = self._reader(extended.item_vocab)
        return make_live(extended, name, origin, reader, self.max_batch, warm=False)

    def _extended(self, model: Recommender, only: list[str] | None = None) -> Recommender:
        """``model`` widened by the runtime items (``only`` these) when it reads text."""
        wanted = self.catalogue.runtime if only is None else only
        if not wanted or self.catalogue.catalog is None or not isinstance(model, ExtendsCatalogue):
            return model
        if only is None:
            wanted = [i for i in wanted if i not in model.item_vocab]
        if not wanted:
            return model
        try:
            return model.with_items(self.catalogue.catalog, wanted)
        except LmrecError as exc:  # e.g. a joint model: the items wait for the next training
            self.cannot_extend = str(exc)
            return model

    # -- items ---------------------------------------------------------------------------------

    def put_items(self, items: Mapping[str, Mapping[str, Any]]) -> list[ItemPut]:
        """Add or update items (checked all before any is written), then make them live here."""
        checked: list[RuntimeItem] = []
        for item_id, fields in items.items():
            try:
                check_item_id(item_id)
                new = item_id not in self.catalogue.known
                typed = check_item_fields(self.catalogue.catalog, fields, new)
            except ItemFieldError as exc:
                raise Invalid(f"item {item_id!r}: {exc}", exc.field) from None
            checked.append(RuntimeItem(item_id, typed))
        created = {i.item_id: i.item_id not in self.catalogue.known for i in checked}
        titles = [
            runtime_title(self.catalogue.catalog, i) if self._titled(i) else "" for i in checked
        ]
        put_items(self.store, checked, titles)
        self.sync()
        scored = self.slot.current.model.item_vocab
        return [
            self._put_answer(i.item_id, created[i.item_id], i.item_id in scored) for i in checked
        ]

    def _titled(self, item: RuntimeItem) -> bool:
        title = None if self.catalogue.catalog is None else self.catalogue.catalog.title_field
        return title is not None and title in item.fields

    def _put_answer(self, item_id: str, created: bool, scored: bool) -> ItemPut:
        name = self.slot.current.name
        why = f" ({self.cannot_extend})" if self.cannot_extend else " (an ID-only model)"
        if scored and isinstance(self.slot.current.model, ExtendsCatalogue):
            note = f"{name} scores it from its text from the next request"
        elif scored:  # an update of an item an ID-only model already scores
            note = f"{name} scores it by its interactions; its new text is stored"
        else:
            note = (
                f"{name} cannot take new items while serving{why}: it can recommend this "
                "item after the next training round (lmrec train --store, then a reload)"
            )
        return ItemPut(item_id, created, scored, note)

    def retire(self, item_id: str) -> None:
        """Never recommend ``item_id`` again (histories keep it)."""
        if item_id not in self.catalogue.known or retire_item(self.store, item_id) is None:
            raise NotFound(f"unknown item {item_id!r}", "item_id")
        self.sync()

    # -- following the store ------------------------------------------------------------------

    def sync(self) -> None:
        """Replay the store's item changes and swap requests not yet applied here."""
        with self.slot.lock:
            put = self.catalogue.refresh(self.store)
            live = self.slot.current
            extended = self._extended(live.model, put) if put else live.model
            if extended is not live.model:
                new = make_live(
                    extended,
                    live.name,
                    live.origin,
                    self._reader(extended.item_vocab),
                    self.max_batch,
                )
                self.slot.replace(new, counts=False)
            requests = swaps_since(self.store, self._applied_swap)
            if requests:
                self._applied_swap = requests[-1].id
                wanted = requests[-1].checkpoint
                if wanted != self.slot.current.origin.checkpoint:
                    # a refusal is recorded by swap_to for /health; the old model serves on
                    with contextlib.suppress(CheckpointRefused):
                        self.swap_to(Path(wanted), record=False)

    def swap_to(self, directory: Path, record: bool = True, source: str = "reload") -> Swapped:
        """Load, check and swap in the checkpoint in ``directory``; with ``record``, ask every
        other process on the store to follow. Raises :class:`CheckpointRefused` (old model kept)."""
        start = time.perf_counter()
        with self.slot.lock:
            try:
                model, origin = load_checked(
                    directory, self.dataset, self.catalogue.known, self._extended
                )
            except CheckpointRefused as exc:
                self.slot.refuse(str(directory), exc.message)
                raise
            name = origin.model
            live = make_live(model, name, origin, self._reader(model.item_vocab), self.max_batch)
            self.slot.replace(live)
            self._explainer = None
            if record:
                self._applied_swap = request_swap(self.store, str(origin.checkpoint), source)
        return Swapped(
            str(origin.checkpoint),
            name,
            origin.version,
            origin.trained_at,
            time.perf_counter() - start,
        )

    def follow_from(self, since: float) -> None:
        """Follow the swap requests made from ``since`` on (older ones are history: a restart
        serves the checkpoint it is given). Worker processes of one ``serve`` pass its start
        time, so a worker that starts late still follows a reload made before it was ready."""
        self._applied_swap = last_swap(self.store, since)
