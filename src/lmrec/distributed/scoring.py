"""Scoring every evaluated user on Ray: the cases split into the evaluator's own batches, each
batch ranked by one of ``workers`` actors that built the model once.

The batches, masks and tie-breaking are those of :func:`lmrec.metrics.evaluate.evaluate`, so the
metrics and the exported top lists equal the single process's. A worker gets its model one of
two ways: a checkpoint folder shipped through the object store (``model_dir``, or one the
driver writes after fitting the model once), or, for a model without a checkpoint format (the
zero-shot model, two-stage pipelines, ensembles), fitting it itself.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.data.containers import Vocabulary
from lmrec.errors import ConfigError, DataError
from lmrec.experiment.run import Prepared, RunResult, RunSpec, describe_facts, model_facts
from lmrec.metrics.evaluate import batch_starts, masks_history, rank_block, summarise


@dataclass(frozen=True)
class RayRun:
    """A distributed evaluation: the run's result, the items of its score columns, and how
    the work was spread."""

    result: RunResult
    item_vocab: Vocabulary
    workers: int
    batches: int
    model_source: str  # "checkpoint", "fitted by the driver" or "fitted by each worker"


def pack_folder(folder: Path) -> bytes:
    """A checkpoint folder as an in-memory tar archive (no compression: tensors do not shrink)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


def unpack_folder(archive: bytes, target: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        tar.extractall(target, filter="data")
    return target


class ModelWorker:
    """One Ray actor's model (built once) and the batches it ranks."""

    def __init__(
        self,
        prepared: Prepared,
        name: str,
        config: Mapping[str, Any],
        checkpoint: bytes | None,
    ) -> None:
        self.prepared = prepared
        self.name = name
        if checkpoint is not None:
            from lmrec.models.build import build_model

            with tempfile.TemporaryDirectory(prefix="lmrec-ckpt-") as tmp:
                self.model = build_model(
                    prepared.dataset, name, config, unpack_folder(checkpoint, Path(tmp))
                )
        else:
            from lmrec.core.fitted import ModelContext
            from lmrec.models.registry import create_model

            context = ModelContext.for_dataset(prepared.dataset)
            self.model = create_model(name, config, context)
            self.model.fit(prepared.split.train, prepared.split.valid)

    def facts(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        return model_facts(self.name, self.model), self.model.item_vocab.ids

    def rank(
        self, start: int, stop: int, exclude_history: bool, max_k: int
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        return rank_block(self.model, self.prepared.cases, start, stop, exclude_history, max_k)


def _driver_checkpoint(prepared: Prepared, name: str, config: Mapping[str, Any]) -> bytes | None:
    """A model with a checkpoint format is fitted once, here, as the single process would fit
    it, and shipped: every worker then scores that same model, even when fitting depends on the
    thread count (BPR / ALS through implicit). Models without one are fitted by each worker."""
    from lmrec.core.fitted import ModelContext
    from lmrec.core.recommender import Persistable
    from lmrec.models.registry import create_model, model_specs

    if name not in model_specs():
        return None
    model = create_model(name, config, ModelContext.for_dataset(prepared.dataset, progress=True))
    model.fit(prepared.split.train, prepared.split.valid)
    if not isinstance(model, Persistable):
        return None
    with tempfile.TemporaryDirectory(prefix="lmrec-ckpt-") as tmp:
        model.save(Path(tmp))
        return pack_folder(Path(tmp))


def evaluate_on_ray(
    spec: RunSpec,
    prepared: Prepared,
    model_dir: Path | None = None,
    workers: int = 2,
    batch_size: int = 512,
    progress: bool = False,
) -> RayRun:
    """The run ``spec`` (on its ``prepared`` cases) with ``workers`` actors of the connected Ray
    cluster: the same metrics and provenance as :func:`lmrec.experiment.spec.run`."""
    from tqdm.auto import tqdm

    from lmrec.distributed.cluster import require_ray

    ray = require_ray()
    if not ray.is_initialized():
        raise RuntimeError("connect first: with lmrec.distributed.cluster.ray_session(...)")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    cases = prepared.cases
    if not len(cases):
        raise DataError("no evaluation cases")
    name, config, ks = spec.model, dict(spec.config), spec.ks
    exclude_history = masks_history(cases, prepared.protocol.exclude_history)
    checkpoint: bytes | None
    if model_dir is not None:
        checkpoint, source = pack_folder(model_dir), "checkpoint"
    else:
        checkpoint = _driver_checkpoint(prepared, name, config)
        source = "fitted by each worker" if checkpoint is None else "fitted by the driver"
    actor = ray.remote(num_cpus=1)(ModelWorker)
    shared = ray.put(prepared)
    shipped = None if checkpoint is None else ray.put(checkpoint)
    pool = [actor.remote(shared, name, config, shipped) for _ in range(workers)]
    facts, item_ids = ray.get(pool[0].facts.remote())
    max_k = max(ks)
    starts = list(batch_starts(len(cases), batch_size))
    futures = {
        pool[i % workers].rank.remote(
            start, min(start + batch_size, len(cases)), exclude_history, max_k
        ): start
        for i, start in enumerate(starts)
    }
    ranks = np.empty(len(cases), dtype=np.float64)
    top = np.empty((len(cases), max_k), dtype=np.int64)
    remaining = list(futures)
    with tqdm(total=len(starts), desc="evaluate (ray)", unit="batch", disable=not progress) as bar:
        while remaining:
            done, remaining = ray.wait(remaining, num_returns=1)
            start = futures[done[0]]
            block_ranks, block_top = ray.get(done[0])
            ranks[start : start + len(block_ranks)] = block_ranks
            top[start : start + len(block_ranks)] = block_top
            bar.update(1)
    for handle in pool:
        ray.kill(handle)
    popularity = prepared.split.train.item_counts()
    evaluation = summarise(ranks, top, ks, len(item_ids), exclude_history, popularity)
    result = describe_facts(prepared, spec, facts, evaluation)
    return RayRun(result, Vocabulary("item", item_ids), workers, len(starts), source)
