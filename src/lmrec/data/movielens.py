"""Official MovieLens archives (GroupLens) → RecBole atomic files.

The archives' own formats: ML-100K ``u.data`` (tab), ``u.item``/``u.user`` (``|``); ML-1M
``ratings.dat``/``movies.dat``/``users.dat`` (``::``). Text in both is Latin-1.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from lmrec.data.atomic import Column, write_atomic
from lmrec.data.containers import FieldType

T, TS, F = FieldType.TOKEN, FieldType.TOKEN_SEQ, FieldType.FLOAT
INTER_COLUMNS = [
    Column("user_id", T),
    Column("item_id", T),
    Column("rating", F),
    Column("timestamp", F),
]
USER_COLUMNS = [
    Column("user_id", T),
    Column("age", T),
    Column("gender", T),
    Column("occupation", T),
    Column("zip_code", T),
]
_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")


def split_title(raw: str) -> tuple[str, str]:
    """``"Toy Story (1995)"`` → ``("Toy Story", "1995")``; no year → ``(raw, "")``."""
    match = _YEAR.match(raw.strip())
    return (match.group(1), match.group(2)) if match else (raw.strip(), "")


def _lines(archive: zipfile.ZipFile, member: str) -> list[str]:
    return [line for line in archive.read(member).decode("latin-1").splitlines() if line.strip()]


def _member(archive: zipfile.ZipFile, name: str) -> str:
    for member in archive.namelist():
        if member == name or member.endswith("/" + name):
            return member
    raise FileNotFoundError(f"{archive.filename}: no {name} in the archive")


def convert_ml100k(archive: zipfile.ZipFile, target: Path) -> None:
    """Write ``ml-100k.inter``, ``.item`` and ``.user`` from the official archive."""
    inter = [line.split("\t") for line in _lines(archive, _member(archive, "u.data"))]
    write_atomic(
        target / "ml-100k.inter",
        INTER_COLUMNS,
        [(u, i, float(r), float(t)) for u, i, r, t in inter],
    )
    genres = [g.split("|")[0] for g in _lines(archive, _member(archive, "u.genre"))]
    items = []
    for line in _lines(archive, _member(archive, "u.item")):
        cells = line.split("|")
        title, year = split_title(cells[1])
        if not year and cells[2][-4:].isdigit():
            year = cells[2][-4:]
        flags = cells[5 : 5 + len(genres)]
        item_genres = tuple(g for g, flag in zip(genres, flags, strict=False) if flag == "1")
        items.append((cells[0], tuple(title.split(" ")), year, item_genres))
    write_atomic(
        target / "ml-100k.item",
        [
            Column("item_id", T),
            Column("movie_title", TS),
            Column("release_year", T),
            Column("class", TS),
        ],
        items,
    )
    users = [tuple(line.split("|")) for line in _lines(archive, _member(archive, "u.user"))]
    write_atomic(target / "ml-100k.user", USER_COLUMNS, users)


def convert_ml1m(archive: zipfile.ZipFile, target: Path) -> None:
    """Write ``ml-1m.inter``, ``.item`` and ``.user`` from the official archive."""
    inter = [line.split("::") for line in _lines(archive, _member(archive, "ratings.dat"))]
    write_atomic(
        target / "ml-1m.inter", INTER_COLUMNS, [(u, i, float(r), float(t)) for u, i, r, t in inter]
    )
    items = []
    for line in _lines(archive, _member(archive, "movies.dat")):
        item_id, raw_title, genres = line.split("::")
        title, year = split_title(raw_title)
        items.append((item_id, tuple(title.split(" ")), year, tuple(genres.split("|"))))
    write_atomic(
        target / "ml-1m.item",
        [
            Column("item_id", T),
            Column("movie_title", TS),
            Column("release_year", T),
            Column("genre", TS),
        ],
        items,
    )
    users = []
    for line in _lines(archive, _member(archive, "users.dat")):
        user_id, gender, age, occupation, zip_code = line.split("::")
        users.append((user_id, age, gender, occupation, zip_code))
    write_atomic(target / "ml-1m.user", USER_COLUMNS, users)
