"""CSV and Parquet interaction logs, read through an explicit column mapping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.data.checks import Lines, check_ids
from lmrec.data.containers import Interactions
from lmrec.data.errors import DataError, DataFormatError
from lmrec.data.loaders import encode


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of a table hold the user, item, timestamp and (optional) rating.

    Without a ``timestamp`` column, row order is taken as time order.
    """

    user: str = "user_id"
    item: str = "item_id"
    timestamp: str | None = "timestamp"
    rating: str | None = None


def check_text_table(path: Path, sep: str) -> list[int]:
    """Refuse, naming file, line and column: an empty file, bytes that are not UTF-8, a header
    that names a column twice. Returns the physical line where each record starts (blank lines
    skipped, quoted newlines spanned), for errors that name a row."""
    import csv
    import io

    if len(sep) != 1 or sep in '\r\n"':
        raise DataError(
            f"the field separator must be one character (not a quote or newline), got {sep!r}"
        )

    data = path.read_bytes()
    if not data.strip():
        raise DataFormatError(path, "empty file (a header row is required)", line=1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataFormatError(
            path, f"not valid UTF-8 ({exc.reason}); save the file as UTF-8", line, column
        ) from None
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    header = next(reader)
    starts: list[int] = []
    last = reader.line_num
    for row in reader:
        if row:  # pandas skips blank lines too
            starts.append(last + 1)
        last = reader.line_num
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise DataFormatError(
                path,
                f"column {name!r} appears twice in the header (also column {seen[name]})",
                line=1,
                column=position,
            )
        seen[name] = position
    return starts


def _times(
    column: Any, numbers: Callable[[str], npt.NDArray[np.float64]], name: str
) -> npt.NDArray[np.float64]:
    """Numbers as they are; otherwise dates and times (ISO 8601 and the like) as Unix seconds."""
    import pandas as pd

    if pd.to_numeric(column, errors="coerce").notna().all():
        return numbers(name)
    moments = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
    if moments.isna().any():
        return numbers(name)  # names the first value that is neither
    seconds = (moments.dt.tz_localize(None) - pd.Timestamp(0)).dt.total_seconds()
    return np.asarray(seconds, dtype=np.float64)


def read_table(
    path: str | Path, mapping: ColumnMapping | None = None, sep: str = ","
) -> Interactions:
    """Read interactions from ``.csv``/``.tsv`` (header row required) or ``.parquet``."""
    import pandas as pd

    path = Path(path)
    mapping = mapping or ColumnMapping()
    wanted = [c for c in (mapping.user, mapping.item, mapping.timestamp, mapping.rating) if c]
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except ImportError as exc:
            raise ImportError(
                "reading Parquet needs pyarrow: pip install 'lmrec[parquet]'"
            ) from exc
        line_offset = 0
        starts = []
    elif suffix in {".csv", ".tsv", ".txt"}:
        sep = "\t" if suffix == ".tsv" else sep
        starts = check_text_table(path, sep)
        try:
            frame = pd.read_csv(
                path,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8",
            )
        except pd.errors.ParserError as exc:
            raise DataFormatError(path, f"malformed CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise DataFormatError(path, f"not valid UTF-8 ({exc.reason})") from None
        line_offset = 2  # header line + 1-based numbering
    else:
        raise DataFormatError(
            path, f"unsupported file type {suffix!r} (use .csv, .tsv or .parquet)"
        )
    columns = [str(c) for c in frame.columns]
    for name in wanted:
        if name not in columns:
            raise DataFormatError(
                path,
                f"missing column {name!r} (have: {', '.join(columns)})",
                line=1 if line_offset else None,
            )
    if frame.empty:
        raise DataFormatError(path, "no rows after the header", line=2 if line_offset else None)

    def numbers(name: str) -> npt.NDArray[np.float64]:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            i = int(bad[0])
            raise DataFormatError(
                path,
                f"not a number{' or a date' if name == mapping.timestamp else ''}: "
                f"{frame[name].iloc[i]!r}",
                line=starts[i] if line_offset and i < len(starts) else None,
                column=columns.index(name) + 1,
                column_name=name,
            )
        return values

    timestamps: npt.NDArray[np.float64]
    if mapping.timestamp is None:
        timestamps = np.arange(len(frame), dtype=np.float64)
    elif pd.api.types.is_datetime64_any_dtype(frame[mapping.timestamp]):
        moments = frame[mapping.timestamp]
        if moments.dt.tz is not None:
            moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
        seconds = (moments - pd.Timestamp(0)).dt.total_seconds()
        timestamps = np.asarray(seconds, dtype=np.float64)
    else:
        timestamps = _times(frame[mapping.timestamp], numbers, mapping.timestamp)
    users, user_vocab = encode("user", frame[mapping.user].astype(str).tolist())
    items, item_vocab = encode("item", frame[mapping.item].astype(str).tolist())
    at: Lines = starts if len(starts) == len(frame) else 2
    for name, codes, vocab in (
        (mapping.user, users, user_vocab),
        (mapping.item, items, item_vocab),
    ):
        check_ids(path, codes, vocab.ids, name, columns.index(name) + 1, at)
    ratings = None if mapping.rating is None else numbers(mapping.rating).astype(np.float32)
    return Interactions(users, items, timestamps, user_vocab, item_vocab, ratings)
