"""RecBole atomic files: tab-separated UTF-8 text whose first line is a typed header.

Header cells are ``name:type`` with type one of ``token``, ``token_seq``, ``float``, ``float_seq``
(sequences are space-separated). Every error names the file, the 1-based line and the column.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import FieldType, FieldValue
from lmrec.data.errors import DataFormatError

Cells = npt.NDArray[Any]


@dataclass(frozen=True)
class Column:
    """A header cell: column name and declared type."""

    name: str
    type: FieldType

    def header(self) -> str:
        return f"{self.name}:{self.type.value}"


@dataclass(frozen=True)
class AtomicTable:
    """The cells of an atomic file, column by column: text, or float64 for `float` columns."""

    path: Path
    columns: tuple[Column, ...]
    cells: tuple[Cells, ...]

    def __len__(self) -> int:
        return len(self.cells[0]) if self.cells else 0

    def position(self, name: str) -> int:
        """0-based position of column ``name``; error naming the file when it is missing."""
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        have = ", ".join(c.header() for c in self.columns)
        raise DataFormatError(self.path, f"missing column {name!r} (header has: {have})", line=1)

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def raw(self, name: str) -> Sequence[str]:
        """Column ``name`` as text cells (float columns parsed at read time are turned back)."""
        cells = self.cells[self.position(name)]
        if cells.dtype != object:
            return [_plain(float(v)) for v in cells]
        return cast("Sequence[str]", cells)

    def floats(self, name: str) -> npt.NDArray[np.float64]:
        """Column ``name`` parsed as float64; a bad cell is reported by line and column."""
        pos = self.position(name)
        values = self.cells[pos]
        if values.dtype == np.float64:
            return values
        try:
            return values.astype(np.float64)
        except ValueError:
            for i, v in enumerate(values):
                try:
                    float(v)
                except ValueError:
                    raise DataFormatError(
                        self.path,
                        f"not a number: {v!r}",
                        line=i + 2,
                        column=pos + 1,
                        column_name=name,
                    ) from None
            raise

    def values(self, name: str) -> tuple[FieldValue, ...]:
        """Column ``name`` converted according to its declared type."""
        pos = self.position(name)
        col = self.columns[pos]
        cells = self.cells[pos]
        if col.type is FieldType.TOKEN:
            return tuple(cells)
        if col.type is FieldType.TOKEN_SEQ:
            return tuple(tuple(c.split(" ")) if c else () for c in cells)
        if col.type is FieldType.FLOAT:
            return tuple(float(v) for v in self.floats(name))
        out: list[FieldValue] = []
        for i, c in enumerate(cells):
            try:
                out.append(tuple(float(v) for v in c.split(" ")) if c else ())
            except ValueError:
                raise DataFormatError(
                    self.path,
                    f"not a list of numbers: {c!r}",
                    line=i + 2,
                    column=pos + 1,
                    column_name=name,
                ) from None
        return tuple(out)


def decode_utf8(path: Path, data: bytes) -> str:
    """``data`` as UTF-8; an error names the file, line and column of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataFormatError(
            path, f"not valid UTF-8 ({exc.reason})", line=line, column=column
        ) from None


def parse_header(path: Path, line: str) -> tuple[Column, ...]:
    """Parse a typed header line; errors name the offending column."""
    columns: list[Column] = []
    for i, cell in enumerate(line.split("\t")):
        name, sep, type_name = cell.strip().rpartition(":")
        if not sep or not name:
            raise DataFormatError(
                path, f"header cell {cell!r} is not 'name:type'", line=1, column=i + 1
            )
        try:
            type_ = FieldType(type_name)
        except ValueError:
            known = ", ".join(t.value for t in FieldType)
            raise DataFormatError(
                path,
                f"unknown type {type_name!r} (known: {known})",
                line=1,
                column=i + 1,
                column_name=name,
            ) from None
        if any(c.name == name for c in columns):
            raise DataFormatError(path, f"duplicate column {name!r}", line=1, column=i + 1)
        columns.append(Column(name, type_))
    return tuple(columns)


def read_atomic(path: str | Path) -> AtomicTable:
    """Read an atomic file into raw string columns, checking the header and every row's width."""
    path = Path(path)
    text = decode_utf8(path, path.read_bytes())
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if any(line.endswith("\r") for line in lines[:1]):
        lines = [line.rstrip("\r") for line in lines]
    if not lines or not lines[0].strip():
        raise DataFormatError(
            path, "empty file: expected a typed header such as 'item_id:token'", line=1
        )
    columns = parse_header(path, lines[0])
    body = lines[1:]
    width = len(columns) - 1
    counts = np.fromiter((line.count("\t") for line in body), dtype=np.int64, count=len(body))
    bad = np.flatnonzero(counts != width)
    if len(bad):
        i = int(bad[0])
        raise DataFormatError(
            path,
            f"expected {len(columns)} tab-separated columns, found {counts[i] + 1}",
            line=i + 2,
        )
    return AtomicTable(path, columns, _parse_cells(path, "\n".join(body), columns, len(body)))


def _parse_cells(
    path: Path, body: str, columns: tuple[Column, ...], n_rows: int
) -> tuple[Cells, ...]:
    """Split the (already width-checked) body into columns with pandas' C parser.

    ``float`` columns are parsed to float64 here; when one holds a bad cell, the columns are read
    as text and :meth:`AtomicTable.floats` reports the line.
    """
    import io

    import pandas as pd

    if n_rows == 0:
        return tuple(np.empty(0, dtype=object) for _ in columns)
    names = list(range(len(columns)))
    floats = {i: np.float64 for i, c in enumerate(columns) if c.type is FieldType.FLOAT}
    text_types: dict[int, type] = {i: str for i in names}
    options: dict[str, Any] = dict(
        sep="\t",
        header=None,
        names=names,
        quoting=3,
        na_filter=False,
        engine="c",
        skip_blank_lines=False,
    )
    try:
        frame = pd.read_csv(io.StringIO(body), dtype={**text_types, **floats}, **options)
    except ValueError:
        frame = pd.read_csv(io.StringIO(body), dtype=text_types, **options)
    if len(frame) != n_rows:
        raise DataFormatError(path, f"read {len(frame)} rows, expected {n_rows}")
    return tuple(frame[i].to_numpy() for i in names)


def check_unique(table: AtomicTable, name: str) -> None:
    """Raise naming both lines when column ``name`` holds a repeated id."""
    values = table.raw(name)
    if len(set(values)) == len(values):
        return
    first: dict[str, int] = {}
    for i, v in enumerate(values):
        if v in first:
            raise DataFormatError(
                table.path,
                f"duplicate id {v!r} (first seen on line {first[v] + 2})",
                line=i + 2,
                column=table.position(name) + 1,
                column_name=name,
            )
        first[v] = i


def _cell(value: FieldValue) -> str:
    if isinstance(value, tuple):
        return " ".join(_plain(v) for v in value)
    return _plain(value)


def _plain(value: str | float) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if "\t" in value or "\n" in value:
        raise ValueError(f"cannot write {value!r}: atomic cells may not hold tabs or newlines")
    return value


def write_atomic(
    path: str | Path, columns: Sequence[Column], rows: Sequence[Sequence[FieldValue]]
) -> None:
    """Write an atomic file atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write("\t".join(c.header() for c in columns) + "\n")
            for row in rows:
                out.write("\t".join(_cell(v) for v in row) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
