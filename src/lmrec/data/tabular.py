"""CSV and Parquet interaction logs, read through an explicit column mapping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.data.cells import id_texts, parse_dates
from lmrec.data.checks import Lines, check_finite, check_ids, line_of
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
    time_format: str | None = None  # e.g. "%d/%m/%Y"; default: ISO 8601 or the one order that fits


def check_text_table(path: Path, sep: str) -> list[int]:
    """Refuse, naming file, line and column: an empty file, bytes that are not UTF-8, a header
    that names a column twice, a row with more or fewer fields than the header. Returns the physical line where each record starts (blank lines
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
    starts: list[int] = []
    last = reader.line_num
    for row in reader:
        if row:  # pandas skips blank lines too
            starts.append(last + 1)
            if len(row) != len(header):
                raise DataFormatError(
                    path,
                    f"{len(row)} fields where the header has {len(header)} "
                    f"({sep.join(header)!r}); every row needs exactly the header's fields",
                    line=last + 1,
                )
        last = reader.line_num
    return starts


def _times(
    path: Path,
    column: Any,
    numbers: Callable[[str], npt.NDArray[np.float64]],
    name: str,
    position: int,
    time_format: str | None,
) -> npt.NDArray[np.float64]:
    """Numbers as they are; otherwise dates read one way for the whole column
    (:func:`lmrec.data.cells.parse_dates`) as Unix seconds."""
    import pandas as pd

    if time_format is None and pd.to_numeric(column, errors="coerce").notna().all():
        return numbers(name)
    seconds = parse_dates(path, column, name, position, time_format)
    return numbers(name) if seconds is None else seconds  # names the first value that is neither


def read_parquet(path: Path) -> Any:
    """A Parquet file as a frame whose integer columns stay integers when they hold nulls."""
    import pandas as pd

    try:
        return pd.read_parquet(path, dtype_backend="numpy_nullable")
    except ImportError as exc:
        raise ImportError("reading Parquet needs pyarrow: pip install 'lmrec[parquet]'") from exc
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataFormatError(path, f"not a readable Parquet file ({exc})") from None


def id_column(path: Path, frame: Any, columns: list[str], name: str, at: Lines) -> list[str]:
    return id_texts(path, frame[name], name, columns.index(name) + 1, at)


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
        frame = read_parquet(path)
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

    at: Lines = starts if len(starts) == len(frame) else 1 if not line_offset else 2

    def numbers(name: str) -> npt.NDArray[np.float64]:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            i = int(bad[0])
            raise DataFormatError(
                path,
                f"not a number{' or a date' if name == mapping.timestamp else ''}: "
                f"{frame[name].iloc[i]!r}",
                line=line_of(at, i),
                column=columns.index(name) + 1,
                column_name=name,
            )
        return np.asarray(values, dtype=np.float64)

    timestamps: npt.NDArray[np.float64]
    if mapping.timestamp is None:
        timestamps = np.arange(len(frame), dtype=np.float64)
    elif pd.api.types.is_datetime64_any_dtype(frame[mapping.timestamp]):
        moments = frame[mapping.timestamp]
        if moments.dt.tz is not None:
            moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
        seconds = (moments - pd.Timestamp(0)).dt.total_seconds()
        timestamps = np.asarray(seconds, dtype=np.float64)
        name = mapping.timestamp
        check_finite(path, timestamps, name, columns.index(name) + 1, at)
    else:
        name = mapping.timestamp
        timestamps = _times(
            path, frame[name], numbers, name, columns.index(name) + 1, mapping.time_format
        )
    users, user_vocab = encode("user", id_column(path, frame, columns, mapping.user, at))
    items, item_vocab = encode("item", id_column(path, frame, columns, mapping.item, at))
    for name, codes, vocab in (
        (mapping.user, users, user_vocab),
        (mapping.item, items, item_vocab),
    ):
        check_ids(path, codes, vocab.ids, name, columns.index(name) + 1, at)
    ratings = None if mapping.rating is None else numbers(mapping.rating).astype(np.float32)
    return Interactions(users, items, timestamps, user_vocab, item_vocab, ratings)
