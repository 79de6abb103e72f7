"""Named datasets: where their files live, how to load them, and how to obtain them.

The data directory is ``LMREC_DATA_DIR`` when set, else a per-user cache directory. Each dataset
lives in ``<data dir>/<name>/`` as RecBole atomic files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from lmrec.data.containers import Dataset
from lmrec.data.errors import DataError, DatasetNotFoundError
from lmrec.data.joint import JOINER, join, joint_names
from lmrec.data.loaders import (
    load_interactions,
    load_item_catalog,
    load_knowledge_graph,
    load_sequence_interactions,
    load_user_table,
)
from lmrec.data.movielens import convert_ml1m, convert_ml100k

ENV_VAR = "LMREC_DATA_DIR"


@dataclass(frozen=True)
class Download:
    """An official archive: URL, its MD5 as published, and a converter to atomic files."""

    url: str
    md5: str
    convert: Callable[[zipfile.ZipFile, Path], None]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    files: tuple[str, ...]
    source: str
    load: Callable[[Path], Dataset]
    download: Download | None = None
    llmrank_file: str | None = None  # LLMRank's published 20-candidate file for all users
    llmrank_sample: str | None = None  # LLMRank's file for its 200 sampled users


def default_data_dir() -> Path:
    """``$LMREC_DATA_DIR``, else the user cache directory (e.g. ``~/.cache/lmrec/data``)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lmrec")) / "data"


def _optional(path: Path) -> Path | None:
    return path if path.exists() else None


def _load_movielens(name: str) -> Callable[[Path], Dataset]:
    def load(folder: Path) -> Dataset:
        users = _optional(folder / f"{name}.user")
        kg, link = folder / f"{name}.kg", folder / f"{name}.link"
        return Dataset(
            name=name,
            interactions=load_interactions(folder / f"{name}.inter"),
            catalog=load_item_catalog(folder / f"{name}.item", title_field="movie_title"),
            users=load_user_table(users) if users else None,
            kg=load_knowledge_graph(kg, link) if kg.exists() and link.exists() else None,
            prep="every rating is an interaction (no rating threshold, no k-core filter)",
        )

    return load


def _load_amazon(name: str, prep: str) -> Callable[[Path], Dataset]:
    """An Amazon set in UniSRec's layout: fixed valid/test sequence files, an item text file, and
    (where present) ``.user``: user id → Amazon reviewer id, which joins people across domains."""

    def load(folder: Path) -> Dataset:
        users = folder / f"{name}.user"
        return Dataset(
            name=name,
            interactions=load_sequence_interactions(folder / f"{name}.test.inter"),
            catalog=load_item_catalog(folder / f"{name}.item", title_field="title"),
            users=load_user_table(users) if users.exists() else None,
            prep=prep,
        )

    return load


_UNISREC_PREP = (
    "5-core {what} as processed for {by}; each user's test row (history, {cap}, then target) "
    "in order, timestamps = positions, so leave-one-out reproduces the fixed valid/test files"
)


GROUPLENS = "https://files.grouplens.org/datasets/movielens"
DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(
    {
        "ml-100k": DatasetSpec(
            "ml-100k",
            "MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies",
            ("ml-100k.inter", "ml-100k.item"),
            "https://grouplens.org/datasets/movielens/100k/",
            _load_movielens("ml-100k"),
            Download(
                f"{GROUPLENS}/ml-100k.zip", "0e33842e24a9c977be4e0107933c0723", convert_ml100k
            ),
        ),
        "ml-1m": DatasetSpec(
            "ml-1m",
            "MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 rated movies",
            ("ml-1m.inter", "ml-1m.item"),
            "https://grouplens.org/datasets/movielens/1m/",
            _load_movielens("ml-1m"),
            Download(f"{GROUPLENS}/ml-1m.zip", "c4d9eecfca2ab87c1945afe126590906", convert_ml1m),
            llmrank_file="ml-1m-full.random",
            llmrank_sample="ml-1m-200.random",
        ),
        "amazon-games": DatasetSpec(
            "amazon-games",
            "Amazon Reviews 2018 Video Games, 5-core: 50,546 users, 16,859 items",
            ("amazon-games.item", "amazon-games.valid.inter", "amazon-games.test.inter"),
            "https://nijianmo.github.io/amazon/ (processed as in UniSRec: github.com/RUCAIBox/UniSRec)",
            _load_amazon(
                "amazon-games",
                _UNISREC_PREP.format(
                    what="Amazon 2018 Video Games", by="UniSRec", cap="at most 50 items"
                )
                + " (LLMRank uses the same copy)",
            ),
            llmrank_file="games-6k.random",
            llmrank_sample="games-200.random",
        ),
        "amazon-scientific": DatasetSpec(
            "amazon-scientific",
            "Amazon Reviews 2018 Industrial & Scientific, 5-core (UniSRec's downstream set): "
            "8,442 users, 4,385 items; item text is 'title. categories. brand.'",
            (
                "amazon-scientific.item",
                "amazon-scientific.valid.inter",
                "amazon-scientific.test.inter",
            ),
            "https://nijianmo.github.io/amazon/ (processed as in UniSRec: github.com/RUCAIBox/UniSRec)",
            _load_amazon(
                "amazon-scientific",
                _UNISREC_PREP.format(
                    what="Amazon 2018 Industrial & Scientific", by="UniSRec", cap="at most 50 items"
                ),
            ),
        ),
        "amazon-office": DatasetSpec(
            "amazon-office",
            "Amazon Reviews 2014 Office Products, 5-core: 4,905 users, 2,420 items; item text is "
            "'title category brand'",
            ("amazon-office.item", "amazon-office.valid.inter", "amazon-office.test.inter"),
            "https://jmcauley.ucsd.edu/data/amazon/ (5-core as in ReChorus' Office_Products)",
            _load_amazon(
                "amazon-office",
                _UNISREC_PREP.format(
                    what="Amazon 2014 Office Products", by="ReChorus", cap="no cap"
                ),
            ),
        ),
    }
)


def available_datasets() -> tuple[str, ...]:
    return tuple(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return DATASETS[name]


def dataset_dir(name: str, data_dir: Path | None = None) -> Path:
    return (data_dir or default_data_dir()) / get_spec(name).name


def missing_files(name: str, data_dir: Path | None = None) -> list[Path]:
    folder = dataset_dir(name, data_dir)
    return [folder / f for f in get_spec(name).files if not (folder / f).exists()]


def load_dataset(name: str, data_dir: Path | None = None, download: bool = True) -> Dataset:
    """Load a named dataset, downloading it from its official source first when missing;
    ``"a+b"`` is the joint dataset of a and b (:func:`lmrec.data.joint.join`). A name that is
    not registered is a folder of atomic files under the data directory, or a path to one
    (:mod:`lmrec.data.discover`)."""
    from lmrec.data.discover import dataset_folder, discover

    root = data_dir or default_data_dir()
    if JOINER in name:
        names = joint_names(name)
        for part in names:  # an unknown name fails before anything loads
            if part not in DATASETS and not dataset_folder(part, root).is_dir():
                get_spec(part)
        return join([load_dataset(n, data_dir, download) for n in names])
    if name not in DATASETS:
        found = discover(name, root)
        if found is None:
            raise DataError(
                f"unknown dataset {name!r}: not registered ({', '.join(DATASETS)}) and no folder "
                f"{dataset_folder(name, root)} of RecBole atomic files"
            )
        return _checked(found)
    spec = get_spec(name)
    folder = dataset_dir(name, data_dir)
    if missing_files(name, data_dir):
        if download and spec.download is not None:
            fetch(spec, folder)
        else:
            raise DatasetNotFoundError(_where_to_put(spec, folder, reason=None))
    return _checked(spec.load(folder))


def _checked(dataset: Dataset) -> Dataset:
    """The dataset, after warning about interacted items its catalogue does not describe, with
    every catalogue item in its item universe (:mod:`lmrec.data.universe`)."""
    from lmrec.data.checks import warn_uncatalogued
    from lmrec.data.universe import with_catalogue_items

    if dataset.catalog is not None:
        interacted = dataset.interactions.item_vocab.ids
        warn_uncatalogued(dataset.name, interacted, dataset.catalog.ids.ids)
    return with_catalogue_items(dataset)


def _where_to_put(spec: DatasetSpec, folder: Path, reason: str | None) -> str:
    lines = [f"dataset {spec.name!r} is not in {folder}"]
    if reason:
        lines.append(f"download failed: {reason}")
    lines.append(f"put these RecBole atomic files there: {', '.join(spec.files)}")
    lines.append(f"(source: {spec.source}; or point {ENV_VAR} at a folder that has {spec.name}/)")
    return "\n".join(lines)


def fetch(spec: DatasetSpec, folder: Path, timeout: float = 60.0) -> None:
    """Download ``spec``'s archive, verify its MD5, and convert it into ``folder``.

    Network failures raise :class:`DatasetNotFoundError` telling where to put the files by hand;
    a checksum mismatch raises :class:`DataError` and leaves nothing behind.
    """
    from tqdm.auto import tqdm

    download = spec.download
    if download is None:
        raise DatasetNotFoundError(_where_to_put(spec, folder, reason="no official archive"))
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        archive = Path(tmp) / "archive.zip"
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with (
                urllib.request.urlopen(download.url, timeout=timeout) as response,
                archive.open("wb") as out,
            ):
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    desc=f"download {folder.name}",
                    disable=total is None,
                ) as bar:
                    while chunk := response.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = f"{download.url} is not reachable ({exc})"
            raise DatasetNotFoundError(_where_to_put(spec, folder, reason)) from exc
        if digest.hexdigest() != download.md5:
            raise DataError(
                f"{download.url}: MD5 {digest.hexdigest()} does not match the published "
                f"{download.md5}; refusing to use it"
            )
        staging = Path(tmp) / "out"
        staging.mkdir()
        with zipfile.ZipFile(archive) as zf:
            download.convert(zf, staging)
        for produced in staging.iterdir():
            shutil.move(str(produced), folder / produced.name)
