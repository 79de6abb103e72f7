"""``lmrec data import``: a user's own log (CSV, TSV, Parquet) and catalogue (the same, or JSON
lines) become a folder of RecBole atomic files in the data directory, usable by name.

The folder is written whole or not at all: every file goes into a temporary folder beside the
target, which replaces the target in one rename (an existing dataset only with ``force``).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmrec.data.atomic import Column, write_atomic
from lmrec.data.cells import id_text
from lmrec.data.checks import id_problem
from lmrec.data.containers import FieldType, FieldValue
from lmrec.data.errors import DataError, DataFormatError
from lmrec.data.tabular import ColumnMapping, check_text_table, read_parquet, read_table

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class ItemSource:
    """The catalogue: a table or JSON-lines file, its id field and the text fields to keep."""

    path: Path
    item_id: str = "item_id"
    text: tuple[str, ...] = ("title",)


@dataclass(frozen=True)
class ImportReport:
    folder: Path
    interactions: int
    users: int
    items: int
    catalogue: int
    uncatalogued: int  # interacted items the catalogue does not describe


def import_dataset(
    name: str,
    source: Path,
    mapping: ColumnMapping,
    data_dir: Path,
    items: ItemSource | None = None,
    force: bool = False,
    sep: str = ",",
) -> ImportReport:
    """Read, check and write ``data_dir/name/name.inter`` (and ``name.item``)."""
    from lmrec.data.registry import DATASETS

    if not NAME.fullmatch(name):
        raise DataError(
            f"dataset name {name!r}: use letters, digits, '.', '_' or '-' (not starting with one "
            "of the last three)"
        )
    if name in DATASETS:
        raise DataError(f"{name!r} is a registered dataset; choose another name")
    folder = data_dir / name
    if folder.exists() and not force:
        raise DataError(f"{folder} already exists; pass --force to replace it")
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    _check_roles(mapping, items)
    log = read_table(source, mapping, sep=sep)
    columns = [Column("user_id", FieldType.TOKEN), Column("item_id", FieldType.TOKEN)]
    cells: list[list[Any]] = [list(log.user_vocab.decode(log.users))]
    cells.append(list(log.item_vocab.decode(log.items)))
    if log.ratings is not None:
        columns.append(Column("rating", FieldType.FLOAT))
        cells.append([float(r) for r in log.ratings])
    columns.append(Column("timestamp", FieldType.FLOAT))
    cells.append([float(t) for t in log.timestamps])
    catalogue: list[list[FieldValue]] = []
    if items is not None:
        catalogue = read_catalogue(items, sep)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.import-", dir=data_dir))
    try:
        write_atomic(staging / f"{name}.inter", columns, list(zip(*cells, strict=True)))
        if items is not None:
            item_columns = [Column("item_id", FieldType.TOKEN)]
            item_columns += [Column(_field_name(f), FieldType.TOKEN_SEQ) for f in items.text]
            write_atomic(staging / f"{name}.item", item_columns, catalogue)
        _replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    described = {str(row[0]) for row in catalogue}
    interacted = set(log.item_vocab.ids)
    return ImportReport(
        folder,
        len(log),
        log.n_users,
        log.n_items,
        len(catalogue),
        len(interacted - described) if items is not None else 0,
    )


def _check_roles(mapping: ColumnMapping, items: ItemSource | None) -> None:
    """Each log column in one role, each catalogue field kept once (as atomic headers, after
    spaces and colons become '_'): a repeat would write a dataset that cannot be loaded."""
    roles = {"--user": mapping.user, "--item": mapping.item, "--time": mapping.timestamp}
    roles["--rating"] = mapping.rating
    named: dict[str, str] = {}
    for option, column in roles.items():
        if column is None:
            continue
        if column in named:
            raise DataError(f"{option} and {named[column]} name the same column {column!r}")
        named[column] = option
    if items is None:
        return
    kept: dict[str, str] = {"item_id": "--item-id"}
    for field in items.text:
        header = _field_name(field)
        if not header:
            raise DataError(f"--text {field!r}: a blank field name")
        if header in kept:
            raise DataError(
                f"--text {field!r} is kept twice (as {header!r}, also {kept[header]}); "
                "name each catalogue field once"
            )
        kept[header] = f"--text {field!r}"


def _replace(staging: Path, folder: Path) -> None:
    """Move the finished folder into place; an old one is removed only after the move."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{staging.name}")
        folder.rename(old)
    staging.rename(folder)
    if old is not None:
        shutil.rmtree(old)


def _field_name(field: str) -> str:
    """A header-safe name (atomic headers are ``name:type``; no colons, tabs or spaces)."""
    return re.sub(r"[\s:]+", "_", field.strip())


def _text(value: Any) -> str:
    """One cell of text: lists joined by spaces, whitespace runs (tabs, newlines) collapsed."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value if v is not None)
    return " ".join(str(value).split())


def read_catalogue(source: ItemSource, sep: str = ",") -> list[list[FieldValue]]:
    """Rows ``[item_id, text, …]``; ids must be unique and every named field present."""
    path = source.path
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    records = _json_lines(path) if path.suffix.lower() in {".jsonl", ".json"} else _table(path, sep)
    wanted = (source.item_id, *source.text)
    rows: list[list[FieldValue]] = []
    first: dict[str, int] = {}
    for line, record in records:
        missing = [f for f in wanted if f not in record]
        if missing:
            raise DataFormatError(
                path,
                f"no field {missing[0]!r} (have: {', '.join(map(str, record))})",
                line=line,
                column_name=missing[0],
            )
        item = id_text(record[source.item_id])
        problem = "is not text or a number" if item is None else id_problem(item)
        if problem:
            raise DataFormatError(
                path,
                f"item id {record[source.item_id]!r} {problem}",
                line=line,
                column_name=source.item_id,
            )
        assert item is not None
        if item in first:
            raise DataFormatError(
                path, f"item {item!r} listed twice (first on line {first[item]})", line=line
            )
        first[item] = line
        rows.append([item, *(tuple(_text(record[f]).split(" ")) for f in source.text)])
    if not rows:
        raise DataFormatError(path, "no items in the catalogue", line=1)
    return rows


def _json_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(path, f"not valid UTF-8 ({exc.reason})", line=line) from None
    out: list[tuple[int, dict[str, Any]]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, f"not JSON: {exc.msg}", line=n, column=exc.colno) from None
        if not isinstance(record, dict):
            raise DataFormatError(path, "expected one JSON object per line", line=n)
        out.append((n, record))
    if not out:
        raise DataFormatError(path, "empty file (one JSON object per line expected)", line=1)
    return out


def _table(path: Path, sep: str) -> list[tuple[int, dict[str, Any]]]:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = read_parquet(path)
        offset = 1
    else:
        sep = "\t" if suffix == ".tsv" else sep
        check_text_table(path, sep)
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        offset = 2
    records = frame.to_dict(orient="records")
    return [(i + offset, {str(k): v for k, v in r.items()}) for i, r in enumerate(records)]
