"""Datasets that are not registered: a folder of RecBole atomic files, by name or by path.

``lmrec … -d mydata`` finds ``<data dir>/mydata/``, and ``-d ./mydata`` or ``-d /abs/mydata``
the folder itself; the files are named after the folder, as RecBole's ``dataset/<name>/`` are.
Two layouts are detected:

- a full log, ``<name>.inter`` (user, item, and a timestamp or the file's order);
- fixed sequences, ``<name>.test.inter`` (with ``<name>.valid.inter``), as the Amazon sets have.

``<name>.item`` (the catalogue) and ``<name>.user`` are optional; the title is the first field
named like a title, name, text or description, else the first token-sequence field.
"""

from __future__ import annotations

from pathlib import Path

from lmrec.data.containers import Dataset
from lmrec.data.errors import DatasetNotFoundError
from lmrec.data.loaders import (
    load_interactions,
    load_item_catalog,
    load_sequence_interactions,
    load_user_table,
)


def is_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or "/" in name


def dataset_folder(name: str, data_dir: Path) -> Path:
    return Path(name).expanduser() if is_path(name) else data_dir / name


def discover(name: str, data_dir: Path) -> Dataset | None:
    """The dataset in that folder, or None when there is no such folder."""
    folder = dataset_folder(name, data_dir)
    if not folder.is_dir():
        return None
    stem = folder.name
    log, test = folder / f"{stem}.inter", folder / f"{stem}.test.inter"
    if log.exists():
        interactions = load_interactions(log)
        prep = f"{log.name} as given: every row is an interaction"
    elif test.exists():
        interactions = load_sequence_interactions(test)
        prep = f"{test.name}: each user's history then target, timestamps = positions"
    else:
        raise DatasetNotFoundError(
            f"{folder} holds neither {stem}.inter (a full log) nor {stem}.test.inter (fixed "
            "sequences); RecBole atomic files are named after their folder"
        )
    items, users = folder / f"{stem}.item", folder / f"{stem}.user"
    return Dataset(
        name=stem,
        interactions=interactions,
        catalog=load_item_catalog(items) if items.exists() else None,
        users=load_user_table(users) if users.exists() else None,
        prep=prep,
    )


def discovered(data_dir: Path, registered: set[str]) -> list[str]:
    """Folder names under the data directory that hold a dataset and are not registered."""
    if not data_dir.is_dir():
        return []
    return sorted(
        d.name
        for d in data_dir.iterdir()
        if d.is_dir()
        and d.name not in registered
        and ((d / f"{d.name}.inter").exists() or (d / f"{d.name}.test.inter").exists())
    )
