"""Assemble a :class:`RecommendService` from names: dataset, model (fitted or loaded), store URL."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmrec.core.recommender import Recommender
from lmrec.data.containers import Dataset
from lmrec.models.build import build_model
from lmrec.service.catalogue import catalogue_ids
from lmrec.service.engine import RecommendService
from lmrec.service.live import Origin
from lmrec.service.messages import ServiceLimits
from lmrec.service.store import Store, sqlite_url


def default_store_url(dataset: Dataset) -> str:
    """SQLite in the user data directory, one file per copy of a dataset (its name and the
    start of its content hash, :mod:`lmrec.data.identity`): a dataset imported again with other
    rows, or another folder of the same name, gets a store of its own, never the old one's users
    and histories. Created on first start."""
    import platformdirs

    from lmrec.data.identity import content_hash

    name = f"{Path(dataset.name).name}-{content_hash(dataset)[:12]}.sqlite"
    return sqlite_url(Path(platformdirs.user_data_dir("lmrec")) / "service" / name)


def build_service(
    dataset_name: str | Dataset,
    model_name: str,
    config: Mapping[str, Any] | None = None,
    store_url: str | None = None,
    model_dir: Path | None = None,
    data_dir: Path | None = None,
    limits: ServiceLimits | None = None,
    progress: bool = False,
    measure_recall: bool = True,
) -> RecommendService:
    """Load the dataset (or take the one given), open (migrate) the store, import the dataset
    once, build the model."""
    from lmrec.data.registry import load_dataset

    if isinstance(dataset_name, Dataset):
        dataset = dataset_name
    else:
        dataset = load_dataset(dataset_name, data_dir)
    store = Store.open(store_url or default_store_url(dataset))
    try:
        store.import_dataset(dataset, progress=progress)
        # a checkpoint may score the items put at runtime too (trained with --store)
        known = catalogue_ids(store) if model_dir is not None else None
        model = build_model(dataset, model_name, config, model_dir, progress, known)
    except BaseException:
        store.close()
        raise
    origin = Origin.of(model_dir) if model_dir is not None else None
    service = RecommendService(dataset, model, store, limits, model_name, origin=origin)
    service.reload_from = None if model_dir is None else str(model_dir)
    service.warm_up()
    if measure_recall:  # workers of `serve --workers` skip it: the parent measured it once
        service.search_recall = search_recall_at_start(model, dataset)
    return service


def search_recall_at_start(model: Recommender, dataset: Any, users: int = 200) -> float | None:
    """For a model that serves through an approximate index: recall@10 of its top lists against
    exact scoring, on the histories of ``users`` users drawn with seed 0 (None when exact)."""
    import numpy as np

    from lmrec.core.query import QueryBatch
    from lmrec.core.recommender import ApproximateSearch

    if not isinstance(model, ApproximateSearch):
        return None
    sequences = dataset.interactions.sequences()
    known = np.flatnonzero(sequences.lengths > 0)
    if not len(known):
        return None
    rows = np.random.default_rng(0).choice(known, min(users, len(known)), replace=False)
    histories = sequences.take(np.sort(rows))
    return model.search_recall(QueryBatch(np.full(len(rows), -1, dtype=np.int32), histories))
