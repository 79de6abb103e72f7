"""Many items at once into a service's store (``lmrec items import``), and the store written out
as a dataset folder (``lmrec data export --store``)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lmrec.data.containers import Dataset
from lmrec.data.errors import DataError, DataFormatError
from lmrec.data.runtime_items import (
    ItemFieldError,
    RuntimeItem,
    check_item_fields,
    check_item_id,
    title_of,
)
from lmrec.service.catalogue import catalogue_ids, put_items
from lmrec.service.store import Store


@dataclass(frozen=True)
class BulkReport:
    added: int
    updated: int
    last_change: int


def read_items(path: Path, dataset: Dataset, id_field: str, known: set[str]) -> list[RuntimeItem]:
    """Every record of ``path`` (JSON lines, CSV, TSV or Parquet) as a checked runtime item; the
    first bad record stops the import, naming its line and field."""
    from lmrec.data.importer import _json_lines, _table

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    records = _json_lines(path) if path.suffix.lower() in {".jsonl", ".json"} else _table(path, ",")
    out: list[RuntimeItem] = []
    first: dict[str, int] = {}
    for line, record in records:
        if id_field not in record:
            raise DataFormatError(path, f"no field {id_field!r}", line=line, column_name=id_field)
        item_id = str(record[id_field])
        fields = {k: v for k, v in record.items() if k != id_field}
        try:
            check_item_id(item_id)
            typed = check_item_fields(dataset.catalog, fields, new=item_id not in known)
        except ItemFieldError as exc:
            raise DataFormatError(path, str(exc), line=line, column_name=exc.field) from None
        if item_id in first:
            raise DataFormatError(
                path, f"item {item_id!r} listed twice (first on line {first[item_id]})", line=line
            )
        first[item_id] = line
        out.append(RuntimeItem(item_id, typed))
    return out


def import_items(store: Store, dataset: Dataset, path: Path, id_field: str) -> BulkReport:
    """Check every record, then put them all in one transaction (all or none)."""
    known = catalogue_ids(store) | set(dataset.interactions.item_vocab.ids)
    items = read_items(path, dataset, id_field, known)
    title = None if dataset.catalog is None else dataset.catalog.title_field
    titles = [title_of(dataset.catalog, i) if title in i.fields else "" for i in items]
    last = put_items(store, items, titles)
    added = sum(i.item_id not in known for i in items)
    return BulkReport(added, len(items) - added, last)


def export_dataset(dataset: Dataset, folder: Path, name: str, force: bool = False) -> Path:
    """Write ``dataset`` as ``folder/name/name.inter`` (and ``.item``), whole or not at all."""
    from lmrec.data.importer import NAME, _replace
    from lmrec.data.loaders import write_interactions, write_table

    if not NAME.fullmatch(name):
        raise DataError(f"dataset name {name!r}: use letters, digits, '.', '_' or '-'")
    target = folder / name
    if target.exists() and not force:
        raise DataError(f"{target} already exists; pass --force to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.export-", dir=folder))
    try:
        write_interactions(dataset.interactions, staging / f"{name}.inter")
        if dataset.catalog is not None:
            write_table(dataset.catalog, staging / f"{name}.item", "item_id")
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
