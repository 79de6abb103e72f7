"""``lmrec items import`` (new or changed items into a service's store) and ``lmrec data export``
(the dataset plus a store's events and items, as atomic files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli._common import DataDir, DatasetOpt, check_output, console, fail, load

items_app = typer.Typer(no_args_is_help=True, help="Items of a running service's catalogue.")

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Database URL (default: the dataset's SQLite store).")
]


@items_app.command("import")
def items_import(
    dataset: DatasetOpt,
    source: Annotated[
        Path, typer.Option("--from", help="Items: JSON lines (.jsonl), .csv, .tsv or .parquet.")
    ],
    item_id: Annotated[str, typer.Option(help="Field of item ids.")] = "item_id",
    store: StoreOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Add or update many items at once: every record is checked (fields of the dataset's
    catalogue, the title for a new item) before any is written; a running service picks them up
    within a second, text models recommend them at once."""
    from sqlalchemy.exc import SQLAlchemyError

    from lmrec.service.build import default_store_url
    from lmrec.service.bulk import import_items
    from lmrec.service.store import Store

    ds = load(dataset, data_dir)
    url = store or default_store_url(ds)
    try:
        opened = Store.open(url)
    except SQLAlchemyError as exc:
        raise fail(f"store {url}: {exc}") from None
    try:
        opened.import_dataset(ds)
        report = import_items(opened, ds, source, item_id)
    except SQLAlchemyError as exc:
        raise fail(f"store {url}: {exc}") from None
    finally:
        opened.close()
    console.print(
        f"{source}: {report.added:,} items added, {report.updated:,} updated in {url} "
        f"(change {report.last_change})"
    )


def data_export(
    dataset: Annotated[str, typer.Argument(help="The dataset the store serves.")],
    store: Annotated[str, typer.Option("--store", help="The service's database URL.")],
    name: Annotated[
        str | None, typer.Option("--as", help="The new dataset's name (default: NAME-store).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Write the dataset plus the store's feedback events and runtime items as a new dataset
    folder of atomic files (usable by name, e.g. to train elsewhere)."""
    from lmrec.cli._store_options import with_store_or_fail
    from lmrec.data.registry import default_data_dir
    from lmrec.service.bulk import export_dataset

    root = data_dir or default_data_dir()
    check_output(root / (name or f"{dataset}-store"), folder=True)  # before reading the store
    ds, _ = with_store_or_fail(load(dataset, data_dir), store)
    target = export_dataset(ds, root, name or f"{dataset}-store", force)
    console.print(
        f"wrote {len(ds.interactions):,} interactions and "
        f"{len(ds.catalog) if ds.catalog else 0:,} catalogue items to {target}"
    )


def register(app: typer.Typer) -> None:
    from lmrec.cli.data import data_app

    app.add_typer(items_app, name="items")
    data_app.command("export")(data_export)
