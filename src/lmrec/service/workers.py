"""Several service processes behind one port (``lmrec serve --workers N``).

The parent does the one-off work once: it imports the dataset into the store, and fits a
model that has a checkpoint format and writes it to a folder; each worker process then loads
that checkpoint (or fits a model without one, which for the zero-shot model reads the
embedding cache the parent filled). The parent hands the workers a JSON spec through an
environment variable; uvicorn starts the processes and shares the listening socket.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmrec.service.keys import AuthPolicy
from lmrec.service.messages import ServiceLimits

if TYPE_CHECKING:
    from fastapi import FastAPI

SPEC_ENV = "LMREC_SERVE_SPEC"


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker builds its service from."""

    dataset: str
    model: str
    store_url: str
    config: dict[str, Any] = field(default_factory=dict)
    model_dir: str | None = None
    data_dir: str | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    auth: dict[str, Any] = field(default_factory=dict)
    search_recall: float | None = None  # measured once by the parent (None: exact search)
    watch: str | None = None  # every worker swaps in this folder's checkpoint when it changes
    started_at: float = 0.0  # swaps requested from then on are followed by every worker

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> WorkerSpec:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def prepare_workers(spec: WorkerSpec, checkpoint_dir: Path, progress: bool = False) -> WorkerSpec:
    """Import the dataset into the store and, for a model with a checkpoint format, fit it once
    and save it under ``checkpoint_dir``. Returns the spec the workers load from, with the
    model's search recall measured here."""
    from lmrec.core.recommender import Persistable
    from lmrec.data.registry import load_dataset
    from lmrec.models.build import build_model
    from lmrec.service.build import search_recall_at_start
    from lmrec.service.catalogue import catalogue_ids
    from lmrec.service.store import Store

    data_dir = Path(spec.data_dir) if spec.data_dir else None
    dataset = load_dataset(spec.dataset, data_dir)
    store = Store.open(spec.store_url)
    try:
        store.import_dataset(dataset, progress=progress)
        known = catalogue_ids(store) if spec.model_dir else None  # runtime items too
    finally:
        store.close()
    given = Path(spec.model_dir) if spec.model_dir else None
    model = build_model(dataset, spec.model, spec.config, given, progress, known)
    measured = {**asdict(spec), "search_recall": search_recall_at_start(model, dataset)}
    if given is not None or not isinstance(model, Persistable):
        return WorkerSpec(**measured)  # workers load the given checkpoint, or fit (warm caches)
    model.save(checkpoint_dir)
    return WorkerSpec(**{**measured, "model_dir": str(checkpoint_dir)})


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory): the service the spec describes."""
    from lmrec.service.api import create_app
    from lmrec.service.build import build_service
    from lmrec.service.follow import Follower

    path = os.environ.get(SPEC_ENV)
    if not path:
        raise RuntimeError(f"{SPEC_ENV} is not set: start workers with `lmrec serve --workers N`")
    spec = WorkerSpec.read(Path(path))
    limits = spec.limits
    service = build_service(
        spec.dataset,
        spec.model,
        spec.config,
        spec.store_url,
        Path(spec.model_dir) if spec.model_dir else None,
        Path(spec.data_dir) if spec.data_dir else None,
        ServiceLimits(**limits),
        measure_recall=False,
    )
    service.search_recall = spec.search_recall
    service.follow_from(spec.started_at)
    follower = Follower(service, watch=Path(spec.watch) if spec.watch else None).start()
    service.follower = follower
    app = create_app(service, AuthPolicy(**spec.auth))
    app.router.on_shutdown.append(follower.stop)
    app.router.on_shutdown.append(service.close)
    return app
