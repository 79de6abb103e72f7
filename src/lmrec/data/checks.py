"""Checks on an interaction log as it is read, so a bad file never turns into a quiet result.

Refused (a :class:`DataFormatError` naming file, line, column and value): a timestamp or rating
that is NaN or infinite, an empty user or item id, and ids that differ only by surrounding spaces
(``"7"`` and ``" 7"`` would be two users). Accepted with a :class:`DataWarning` and a count: rows
that repeat another row exactly (same user, item, time and rating), and interacted items that the
catalogue does not describe. Turn warnings into errors with ``warnings.simplefilter("error",
DataWarning)`` — the CLI's ``--strict``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.data.errors import DataFormatError


class DataWarning(UserWarning):
    """Something in a data file that lmrec accepts but the user should know about."""


Lines = int | Sequence[int]
"""Where row ``i`` is in its file: ``i + lines`` (an int: header lines + 1), or ``lines[i]`` (the
physical line of every record, for CSV files with blank lines or quoted newlines)."""


def line_of(lines: Lines, row: int) -> int:
    return row + lines if isinstance(lines, int) else int(lines[row])


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an id (user, item, key), or ``None``."""
    if not value.strip():
        return "is empty"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "holds a control character (tab, newline, NUL, …)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds invalid text (a lone surrogate)"
    return None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be a text (a title, a query): control characters other than tab,
    newline and carriage return, or invalid text (a lone surrogate); ``None`` when it can."""
    if any((ord(c) < 0x20 and c not in "\t\n\r") or ord(c) == 0x7F for c in value):
        return "holds control characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds invalid text (a lone surrogate)"
    return None


def check_finite(
    path: Path,
    values: npt.NDArray[np.float64],
    name: str,
    column: int | None,
    first_line: Lines = 2,
) -> None:
    """Refuse NaN and ±inf; the error names the first bad row's line."""
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        i = int(bad[0])
        raise DataFormatError(
            path,
            f"{name} must be a finite number, got {float(values[i])!r}"
            + (f" ({len(bad):,} such rows)" if len(bad) > 1 else ""),
            line=line_of(first_line, i),
            column=column,
            column_name=name,
        )


def check_ids(
    path: Path,
    codes: npt.NDArray[np.int32],
    ids: Sequence[str],
    name: str,
    column: int | None,
    first_line: Lines = 2,
) -> None:
    """Refuse empty ids and ids that differ only by surrounding whitespace. Works on an encoded
    column (``codes`` index ``ids``), so only the distinct values are looked at."""

    def first(unique: int) -> int:
        return line_of(first_line, int(np.argmax(codes == unique)))

    spelled: dict[str, int] = {}
    for j, raw in enumerate(ids):
        bare = raw.strip()
        if not bare:
            raise DataFormatError(
                path, f"empty {name}", line=first(j), column=column, column_name=name
            )
        problem = id_problem(raw)
        if problem:
            raise DataFormatError(
                path, f"{name} {raw!r} {problem}", line=first(j), column=column, column_name=name
            )
        other = spelled.setdefault(bare, j)
        if other != j:
            # name the later spelling first: the line where the clash appears
            late, early = (j, other) if first(j) > first(other) else (other, j)
            raise DataFormatError(
                path,
                f"{name} {ids[late]!r} and {ids[early]!r} (line {first(early)}) differ only by "
                "surrounding spaces; they would be two different ids",
                line=first(late),
                column=column,
                column_name=name,
            )


def warn_duplicate_rows(path: Path, columns: Sequence[npt.ArrayLike], first_line: Lines = 2) -> int:
    """Count rows that repeat an earlier row exactly; warn (with the first one's line) if any."""
    import pandas as pd

    frame = pd.DataFrame({i: np.asarray(c) for i, c in enumerate(columns)})
    repeated = np.flatnonzero(frame.duplicated(keep="first").to_numpy())
    if len(repeated):
        warnings.warn(
            f"{path}: {len(repeated):,} rows repeat an earlier row exactly (first on line "
            f"{line_of(first_line, int(repeated[0]))}); they are kept, each counts as an interaction",
            DataWarning,
            stacklevel=3,
        )
    return len(repeated)


def warn_uncatalogued(source: str, interacted: Sequence[str], described: Sequence[str]) -> int:
    """Count interacted items the catalogue lacks; warn (naming one) if any."""
    known = set(described)
    missing = [i for i in interacted if i not in known]
    if missing:
        warnings.warn(
            f"{source}: {len(missing):,} of {len(interacted):,} interacted items are not in the "
            f"item catalogue (e.g. {missing[0]!r}); text models see only their id",
            DataWarning,
            stacklevel=3,
        )
    return len(missing)
