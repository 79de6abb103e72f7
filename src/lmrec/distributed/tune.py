"""Hyper-parameter search with Ray Tune: each trial fits on the training split and is scored on
the validation cases (never the test cases); ASHA stops trials whose per-epoch validation lags."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from lmrec.distributed.space import Dimension, SearchSpace, trial_config
from lmrec.experiment.run import Prepared


@dataclass(frozen=True)
class Trial:
    """One finished (or early-stopped) trial: its drawn values, full config and score."""

    params: dict[str, Any]
    config: dict[str, Any]
    metric: float | None  # None: stopped before its final validation
    epochs: int
    stopped_early: bool  # by ASHA
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class TuneOutcome:
    trials: tuple[Trial, ...]
    best: Trial
    metric: str
    seconds: float


def _distribution(dim: Dimension) -> Any:
    from ray import tune

    low, *rest = dim.values
    if dim.kind == "choice":
        return tune.choice(list(dim.values))
    if dim.kind == "grid":
        return tune.grid_search(list(dim.values))
    if dim.kind == "uniform":
        return tune.uniform(low, rest[0])
    if dim.kind == "loguniform":
        return tune.loguniform(low, rest[0])
    return tune.randint(low, rest[0])


def _trial(params: Mapping[str, Any], prepared: Prepared, space: SearchSpace) -> None:
    """One trial, run by Ray Tune in a worker: per-epoch reports, then the validation metric."""
    from ray import tune

    from lmrec.core.fitted import ModelContext
    from lmrec.metrics.evaluate import evaluate
    from lmrec.models.registry import create_model

    epochs = 0

    def on_epoch(epoch: int, metric: float | None) -> None:
        nonlocal epochs
        epochs = epoch
        if metric is not None and space.metric == "ndcg@10":  # the trainer validates NDCG@10
            tune.report({space.metric: metric, "epoch": epoch, "final": False})

    context = replace(ModelContext.for_dataset(prepared.dataset), on_epoch=on_epoch)
    model = create_model(space.model, trial_config(space, params), context)
    model.fit(prepared.split.train, prepared.split.valid)
    evaluation = evaluate(model, prepared.cases, ks=(space.k,))
    tune.report({space.metric: evaluation.value(space.metric), "epoch": epochs, "final": True})


def tune_search(
    prepared: Prepared, space: SearchSpace, concurrent: int, progress: bool = False
) -> TuneOutcome:
    """Run ``space.samples`` trials, ``concurrent`` at a time, on the connected Ray cluster."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    if prepared.split_name != "valid":
        raise ValueError("tuning reads the validation cases: prepare the 'valid' split")
    started = time.perf_counter()
    scheduler = None
    if space.early_stopping is not None:
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            grace_period=space.early_stopping.grace,
            reduction_factor=space.early_stopping.reduction,
        )
    trainable = tune.with_resources(
        tune.with_parameters(_trial, prepared=prepared, space=space), {"cpu": 1}
    )
    with tempfile.TemporaryDirectory(prefix="lmrec-tune-") as storage:
        tuner = tune.Tuner(
            trainable,
            param_space={d.key: _distribution(d) for d in space.dimensions()},
            tune_config=tune.TuneConfig(
                metric=space.metric,
                mode="max",
                num_samples=space.samples,
                max_concurrent_trials=concurrent,
                scheduler=scheduler,
                search_alg=BasicVariantGenerator(random_state=space.seed),
            ),
            run_config=tune.RunConfig(storage_path=storage, verbose=1 if progress else 0),
        )
        grid = tuner.fit()
        results = [grid[i] for i in range(len(grid))]
        trials = tuple(_collect(r, space) for r in results)
    errors = [r.error for r in results if r.error is not None]
    finished = [t for t in trials if t.metric is not None and not t.stopped_early]
    if not finished:
        raise RuntimeError(f"no trial finished; first error: {errors[0] if errors else 'none'}")
    best = max(finished, key=lambda t: t.metric or 0.0)
    return TuneOutcome(trials, best, space.metric, time.perf_counter() - started)


def _collect(result: Any, space: SearchSpace) -> Trial:
    params = dict(result.config or {})
    metrics = result.metrics or {}
    final = bool(metrics.get("final"))
    error = None if result.error is None else str(result.error).strip().splitlines()[-1]
    frame = result.metrics_dataframe
    seconds = float(frame["time_total_s"].iloc[-1]) if frame is not None and len(frame) else 0.0
    return Trial(
        params,
        trial_config(space, params),
        float(metrics[space.metric]) if final and space.metric in metrics else None,
        int(metrics.get("epoch", 0)),
        not final and error is None,
        seconds,
        error,
    )
