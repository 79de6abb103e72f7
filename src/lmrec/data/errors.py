"""Errors raised by the data layer. Each one names the file (and line/column where known)."""

from __future__ import annotations

from pathlib import Path

from lmrec.errors import DataError

__all__ = ["DataError", "DataFormatError", "DatasetNotFoundError", "UnknownIdError"]


class DataFormatError(DataError):
    """A file that cannot be read as declared: names the file, the 1-based line and column."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        line: int | None = None,
        column: int | None = None,
        column_name: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        self.column_name = column_name
        where = str(self.path)
        if line is not None:  # a Parquet file has rows, not lines: data row ``line`` (1-based)
            where += f", {'row' if self.path.suffix.lower() == '.parquet' else 'line'} {line}"
        if column is not None:
            where += f", column {column}"
            if column_name:
                where += f" ({column_name})"
        super().__init__(f"{where}: {message}")


class UnknownIdError(DataError, KeyError):
    """An id that is not in a vocabulary (unknown user or item)."""

    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.value = value
        ValueError.__init__(self, f"unknown {kind} id {value!r}")

    def __str__(self) -> str:
        return str(self.args[0])


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A named dataset whose files are not in the data directory and cannot be downloaded."""
