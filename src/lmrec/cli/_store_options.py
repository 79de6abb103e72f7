"""``--store URL`` on the commands that train (train, evaluate): the dataset plus what a service
recorded in its store (:mod:`lmrec.service.training_data`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from lmrec.cli._common import console, fail

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lmrec.data.containers import Dataset
    from lmrec.experiment.run import RunResult

TrainStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Also train on the feedback events and runtime items a service recorded in this "
        "store (sqlite:///… or postgresql+psycopg://…), in event-time order.",
    ),
]


def with_store_or_fail(ds: Dataset, url: str | None) -> tuple[Dataset, dict[str, Any]]:
    """``ds`` plus the store's events and items, and the provenance to record (``{}`` without a
    store)."""
    if url is None:
        return ds, {}
    from sqlalchemy.exc import SQLAlchemyError

    from lmrec.service.training_data import with_store

    try:
        widened, facts = with_store(ds, url)
    except SQLAlchemyError as exc:
        raise fail(f"store {url}: {exc}") from None
    console.print(
        f"store {facts.store}: {facts.events:,} feedback events (last id {facts.last_event_id}), "
        f"{facts.runtime_items:,} runtime items, {facts.new_users:,} new users"
    )
    return widened, {"store_data": facts.as_dict()}


def recorded(results: Sequence[RunResult], facts: dict[str, Any]) -> list[RunResult]:
    """``results`` whose provenance also records the store they trained on."""
    from dataclasses import replace

    return [replace(r, provenance={**r.provenance, **facts}) for r in results]
