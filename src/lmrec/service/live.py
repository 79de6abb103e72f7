"""The model a service answers with, and how it is replaced without a failed request.

A :class:`LiveModel` is immutable: the model, its scorer thread and where it came from. A request
reads :attr:`ModelSlot.current` once and finishes on that snapshot; a swap only rebinds the
slot, and the old scorer keeps serving the jobs queued on it for :data:`GRACE` seconds before it
stops. A checkpoint is swapped in only after :func:`load_checked` loaded it, checked its items
against the service's catalogue and scored a probe request with it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.core.query import Query
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Dataset
from lmrec.service.batching import HistoryReader, ScoreBatcher
from lmrec.service.errors import ServiceError

GRACE = 15.0  # seconds a replaced scorer keeps ranking the jobs queued on it (> any deadline)


class CheckpointRefused(ServiceError):
    """A checkpoint failed the check before a swap; the old model keeps serving."""

    status = 422


@dataclass(frozen=True)
class Origin:
    """Where a live model came from: its checkpoint folder (None: fitted at start), when it was
    trained, and a short version id that changes with every new checkpoint."""

    checkpoint: str | None
    trained_at: float | None
    version: str
    model: str = ""  # the registered model name a checkpoint's config gives

    @classmethod
    def fitted(cls) -> Origin:
        return cls(None, time.time(), f"fit-{os.getpid()}-{time.time_ns() % 10**9}")

    @classmethod
    def of(cls, directory: Path) -> Origin:
        """The folder's origin: ``trained_at`` from its config (or file time), version from its
        resolved path and file times."""
        from lmrec.core.checkpoint import CHECKPOINT_FILE, read_meta

        path = directory.resolve()
        meta = read_meta(path)  # a clear error for a folder without a checkpoint
        trained = meta.get("trained_at")
        config = path / CHECKPOINT_FILE
        stamp = f"{path}:{config.stat().st_mtime_ns}:{config.stat().st_size}"
        when = float(trained) if isinstance(trained, int | float) else config.stat().st_mtime
        version = hashlib.sha1(stamp.encode()).hexdigest()[:12]
        return cls(str(path), when, version, str(meta["model"]))


@dataclass(frozen=True)
class LiveModel:
    model: Recommender
    batcher: ScoreBatcher
    name: str
    origin: Origin
    loaded_at: float


def make_live(
    model: Recommender,
    name: str,
    origin: Origin,
    reader: HistoryReader,
    max_batch: int,
    warm: bool = True,
) -> LiveModel:
    """The snapshot of ``model``; ``warm``: one query through it, so lazy set-up (neighbour
    lists, similarity rows) is paid here, not by the first request after a swap."""
    batcher = ScoreBatcher(model, max_batch=max_batch, histories=reader)
    live = LiveModel(model, batcher, name, origin, time.time())
    if warm:
        warm_up(live)
    return live


def warm_up(live: LiveModel) -> None:
    if len(live.model.item_vocab):
        live.batcher.rank(Query(history=(live.model.item_vocab.ids[0],), k=1))


class ModelSlot:
    """The current :class:`LiveModel`; swaps are serialised by :attr:`lock`."""

    def __init__(self, live: LiveModel) -> None:
        self.current = live
        self.lock = threading.RLock()
        self.swaps = 0
        self.refused: dict[str, Any] | None = None  # the last refused checkpoint and why

    def refuse(self, checkpoint: str, reason: str) -> None:
        """Remember a refused checkpoint for ``/health``."""
        self.refused = {"checkpoint": checkpoint, "reason": reason, "at": time.time()}

    def replace(self, live: LiveModel, counts: bool = True) -> None:
        """New requests use ``live`` from now on; the old scorer stops after :data:`GRACE`."""
        old, self.current = self.current, live
        self.swaps += int(counts)
        if old.batcher is not live.batcher:
            timer = threading.Timer(GRACE, old.batcher.close)
            timer.daemon = True
            timer.start()

    def close(self) -> None:
        self.current.batcher.close()


def load_checked(
    directory: Path, dataset: Dataset, catalogue: Collection[str], extend: Callable[[Any], Any]
) -> tuple[Recommender, Origin]:
    """Load ``directory``, refuse it unless every item it scores is in ``catalogue`` and a probe
    request ranks with finite scores; ``extend`` adds the runtime items the model lacks."""
    from lmrec.core.fitted import ModelContext, rank_batch
    from lmrec.errors import LmrecError
    from lmrec.models.registry import load_model

    try:
        origin = Origin.of(directory)
        model = load_model(directory, ModelContext.for_dataset(dataset))
    except (LmrecError, OSError, ValueError) as exc:
        raise CheckpointRefused(f"checkpoint {directory} refused: {exc}", "checkpoint") from None
    unknown = [i for i in model.item_vocab.ids if i not in catalogue]
    if unknown:
        raise CheckpointRefused(
            f"checkpoint {directory} refused: it scores {len(unknown):,} items this service's "
            f"catalogue does not hold (e.g. {unknown[0]!r}); was it trained on another dataset?",
            "checkpoint",
        )
    try:
        model = extend(model)
        first = model.item_vocab.ids[0]
        probe = rank_batch(model, [Query(history=(first,), k=min(10, len(model.item_vocab)))])
        scores = probe[0].scores
        if not probe[0].items or not np.isfinite(scores[scores > -np.inf]).all():
            raise ValueError("the probe request got no finite scores")
    except Exception as exc:  # any failure of the new model is a refusal, never a crash
        raise CheckpointRefused(
            f"checkpoint {directory} refused: a probe request failed ({exc})", "checkpoint"
        ) from None
    return model, origin
