"""One check for each kind of cell a table carries, used by every reader: ids and dates.

* **Ids** are kept as written: an integer column gives ``"7"``, never ``"7.0"`` (Parquet reads
  integers with nulls as floats), and a null cell is refused naming its row, never turned into
  the text ``"nan"`` or handed to another id. An id holding a control character (tab, newline,
  NUL) or invalid text is refused: atomic files are tab-separated, and the store and HTTP refuse
  them too (:func:`lmrec.data.checks.id_problem` is the one rule).
* **Dates** in one column are read one way: ISO 8601, or the one day/month order that reads every
  row. A column that reads both as month/day and as day/month, giving different moments, is
  refused (``12/01/2024`` is not guessed row by row); ``time_format`` settles it.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.data.checks import Lines, line_of
from lmrec.data.errors import DataFormatError


def id_text(value: Any) -> str | None:
    """One id cell as text (``None``: not an id: a null, a list, a mapping); an integer that
    went through a float is written as the integer."""
    if value is None or isinstance(value, bool | list | tuple | dict):
        return None
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return None
        whole = number == round(number) and abs(number) < 2**53
        return str(int(number)) if whole else repr(number)
    if isinstance(value, int | np.integer | str):
        return str(value)
    return None


def id_texts(path: Path, column: Any, name: str, position: int, lines: Lines) -> list[str]:
    """A column of ids as text, as written; a null cell is a :class:`DataFormatError` naming
    the first one's line (see :data:`lmrec.data.checks.Lines`)."""
    import pandas as pd

    null = np.flatnonzero(column.isna().to_numpy())
    if len(null):
        more = f" ({len(null):,} such rows)" if len(null) > 1 else ""
        raise DataFormatError(
            path,
            f"no {name}: the cell is empty (null){more}",
            line=line_of(lines, int(null[0])),
            column=position,
            column_name=name,
        )
    if pd.api.types.is_bool_dtype(column):
        raise DataFormatError(path, f"{name} holds true/false, not ids", column_name=name)
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**53)
        if whole.all():  # integers that went through a float column
            return [str(int(v)) for v in values]
        return [repr(float(v)) for v in values]
    return [str(v) for v in column.tolist()]


def parse_dates(
    path: Path, column: Any, name: str, position: int, time_format: str | None
) -> npt.NDArray[np.float64] | None:
    """Unix seconds of a column of dates read one way, or ``None`` when it holds values that are
    not dates in any one format (the caller names the first value that is neither a number nor
    a date)."""
    import pandas as pd

    if time_format is not None:
        moments = pd.to_datetime(column, errors="coerce", utc=True, format=time_format)
        bad = np.flatnonzero(moments.isna().to_numpy())
        if len(bad):
            raise DataFormatError(
                path,
                f"{column.iloc[int(bad[0])]!r} is not a date in the format {time_format!r}",
                column=position,
                column_name=name,
            )
        return _seconds(moments)
    iso = pd.to_datetime(column, errors="coerce", utc=True, format="ISO8601")
    if iso.notna().all():
        return _seconds(iso)
    readings = {}
    for fmt in _formats(str(column.iloc[int(np.argmax(iso.isna().to_numpy()))])):
        moments = pd.to_datetime(column, errors="coerce", utc=True, format=fmt)
        if moments.notna().all():
            readings[fmt] = moments
    if not readings:
        return None
    found = list(readings.items())
    for fmt, moments in found[1:]:
        if not moments.equals(found[0][1]):
            differ = int(np.argmax((moments != found[0][1]).to_numpy()))
            raise DataFormatError(
                path,
                f"ambiguous dates: {column.iloc[differ]!r} reads as {found[0][0]!r} and as "
                f"{fmt!r}, and every row fits both; write ISO 8601 dates (2024-01-12) or name "
                "the format with --time-format",
                column=position,
                column_name=name,
            )
    return _seconds(found[0][1])


def _formats(sample: str) -> list[str]:
    """The formats pandas guesses for ``sample``, month first and day first (one when the two
    agree)."""
    from pandas.tseries.api import guess_datetime_format

    out: list[str] = []
    for dayfirst in (False, True):
        with warnings.catch_warnings():  # "parsing dates in %d/%m/%Y format": asked for
            warnings.simplefilter("ignore", UserWarning)
            fmt = guess_datetime_format(sample, dayfirst=dayfirst)
        if fmt is not None and fmt not in out:
            out.append(fmt)
    return out


def _seconds(moments: Any) -> npt.NDArray[np.float64]:
    import pandas as pd

    seconds = (moments.dt.tz_localize(None) - pd.Timestamp(0)).dt.total_seconds()
    return np.asarray(seconds, dtype=np.float64)
