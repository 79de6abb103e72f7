"""``lmrec data list|info`` and ``lmrec embed``: datasets and their text embeddings."""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lmrec.cli._common import (
    DataDir,
    DatasetOpt,
    RayOpt,
    RayWorkersOpt,
    check_output,
    console,
    fail,
    load,
    ray_or_fail,
)

data_app = typer.Typer(no_args_is_help=True, help="Datasets: list, inspect and import.")


@data_app.command("list")
def data_list(data_dir: DataDir = None) -> None:
    """List the registered datasets (present or not) and the folders of atomic files found in the
    data directory."""
    from lmrec.data.discover import discovered
    from lmrec.data.registry import DATASETS, dataset_dir, default_data_dir, missing_files

    table = Table("name", "description", "present", "folder")
    for name, spec in DATASETS.items():
        present = "yes" if not missing_files(name, data_dir) else "no"
        table.add_row(name, spec.description, present, str(dataset_dir(name, data_dir)))
    root = data_dir or default_data_dir()
    for name in discovered(root, set(DATASETS)):
        table.add_row(name, "found in the data directory (not registered)", "yes", str(root / name))
    console.print(table)


@data_app.command("import")
def data_import(
    name: Annotated[str, typer.Argument(help="The new dataset's name (its folder's name).")],
    source: Annotated[
        Path, typer.Option("--from", help="Interaction log: .csv, .tsv or .parquet.")
    ],
    user: Annotated[str, typer.Option(help="Column of user ids.")] = "user_id",
    item: Annotated[str, typer.Option(help="Column of item ids.")] = "item_id",
    time_column: Annotated[
        str | None,
        typer.Option("--time", help="Column of timestamps (numbers or dates; default: row order)."),
    ] = None,
    time_format: Annotated[
        str | None,
        typer.Option(
            "--time-format",
            help="strftime format of the --time column's dates (e.g. %d/%m/%Y); default: "
            "ISO 8601 or the one day/month order that reads every row.",
        ),
    ] = None,
    rating: Annotated[str | None, typer.Option(help="Column of ratings.")] = None,
    sep: Annotated[str, typer.Option(help="Field separator of a .csv file.")] = ",",
    items: Annotated[
        Path | None,
        typer.Option(help="Item catalogue: .csv, .tsv, .parquet or JSON lines (.jsonl)."),
    ] = None,
    item_id: Annotated[str, typer.Option(help="Catalogue field of item ids.")] = "item_id",
    text: Annotated[
        list[str] | None,
        typer.Option("--text", help="Catalogue text field to keep (repeatable; default: title)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing dataset folder.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Write your own log (and catalogue) as a dataset folder of atomic files, usable by name."""
    from lmrec.data.importer import ItemSource, import_dataset
    from lmrec.data.registry import default_data_dir
    from lmrec.data.tabular import ColumnMapping

    if time_format is not None and time_column is None:
        raise typer.BadParameter("needs --time (the column it reads)", param_hint="--time-format")
    mapping = ColumnMapping(user, item, time_column, rating, time_format)
    catalogue = ItemSource(items, item_id, tuple(text or ("title",))) if items else None
    root = data_dir or default_data_dir()
    check_output(root / name, folder=True)  # before reading the log
    try:
        report = import_dataset(name, source, mapping, root, catalogue, force, sep)
    except OSError as exc:  # an LmrecError is printed by the command group
        raise fail(str(exc)) from None
    console.print(
        f"{name}: {report.interactions:,} interactions, {report.users:,} users, "
        f"{report.items:,} items → {report.folder}"
    )
    if catalogue is not None:
        console.print(f"catalogue: {report.catalogue:,} items")
        if report.uncatalogued:
            console.print(
                f"[yellow]warning:[/] {report.uncatalogued:,} interacted items are not in the "
                "catalogue (their text is empty)"
            )
    if time_column is None:
        console.print("no --time column: the file's row order is each user's time order")
    console.print(f"use it: lmrec evaluate -d {name} -m pop --data-dir {root}")


@data_app.command("info")
def data_info(name: str, data_dir: DataDir = None) -> None:
    """Counts, density and fields of a dataset."""
    ds = load(name, data_dir)
    inter = ds.interactions
    lengths = inter.sequences().lengths
    table = Table("property", "value", title=f"{name}")
    density = len(inter) / (inter.n_users * inter.n_items)
    rows = [
        ("interactions", f"{len(inter):,}"),
        ("users", f"{inter.n_users:,}"),
        ("items (interacted)", f"{inter.n_items:,}"),
        ("items (catalogue)", f"{len(ds.catalog):,}" if ds.catalog else "-"),
        ("density", f"{density:.4%}"),
        (
            "history length min/median/max",
            f"{lengths.min()} / {int(sorted(lengths)[len(lengths) // 2])} / {lengths.max()}",
        ),
        (
            "item fields",
            ", ".join(f"{f.name}:{f.type.value}" for f in ds.catalog.fields) if ds.catalog else "-",
        ),
        ("user fields", ", ".join(f.name for f in ds.users.fields) if ds.users else "-"),
        (
            "knowledge graph",
            f"{len(ds.kg):,} triples, {len(ds.kg.link_items):,} item links" if ds.kg else "-",
        ),
        ("prep", ds.prep),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def embed(
    dataset: DatasetOpt,
    encoder: Annotated[
        str, typer.Option(help="minilm | use-multilingual | model name/dir")
    ] = "minilm",
    template: Annotated[str | None, typer.Option(help="Item text template.")] = None,
    threads: int = 1,
    ray: RayOpt = None,
    workers: RayWorkersOpt = 0,
    data_dir: DataDir = None,
) -> None:
    """Pre-compute (and cache) the text embeddings of a dataset's items; with --ray, a pool of
    encoder actors computes them (same cache, same keys)."""
    from lmrec.data.templates import item_template
    from lmrec.text.cache import EmbeddingCache
    from lmrec.text.encoders import Encoder, create_encoder

    ds = load(dataset, data_dir)
    if ds.catalog is None:
        raise fail(f"{dataset} has no item catalogue")
    chosen = item_template(dataset, ds.catalog, template)
    texts = chosen.render(ds.catalog, ds.interactions.item_vocab.ids)
    cache = EmbeddingCache()
    with ray_or_fail(ray) if ray is not None else nullcontext() as session:
        if session is None:
            model: Encoder = create_encoder(encoder, threads=threads)
        else:
            from lmrec.distributed.embedding import RayEncoder

            model = RayEncoder(encoder, session.workers(workers), threads)
        start = time.perf_counter()
        vectors, stats = cache.encode(model, texts, progress=True)
        seconds = time.perf_counter() - start
    rate = stats.encoded / seconds if stats.encoded else float("nan")
    console.print(
        f"{dataset}: {len(texts):,} item texts ({chosen.template!r}) → {vectors.shape[1]}-d · "
        f"cache hits {stats.hits:,} · encoded {stats.encoded:,} · {seconds:.1f} s "
        f"({rate:.0f} items/s) · cache {cache.folder(model.identity)}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
    app.command("embed")(embed)
