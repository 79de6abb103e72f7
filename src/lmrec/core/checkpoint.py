"""Saved models: ``config.json`` (name, config, vocabularies) + ``tensors.safetensors``.

A composite model saves each member in a sub-folder of its own (:func:`save_member`), named by
its role; the registry's ``load_model`` reads it back by the model name its ``config.json`` gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.core.fitted import FittedState, ModelContext
from lmrec.core.recommender import Persistable, Recommender
from lmrec.data.containers import Sequences
from lmrec.errors import CheckpointError

ModelLoader = Callable[[Path, ModelContext], Recommender]
"""Reads a saved model from a folder, whatever its kind (the registry's ``load_model``, handed
to composite models so they load their members without importing the registry)."""


def save_state(
    directory: Path,
    state: FittedState,
    name: str,
    config: dict[str, Any],
    tensors: dict[str, npt.NDArray[Any]],
) -> None:
    """Write ``config.json`` (model name, config, vocabularies) and ``tensors.safetensors``."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    meta = {"model": name, "config": config, **state.to_json()}
    (directory / "config.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    arrays: dict[str, npt.NDArray[Any]] = {
        "history_indptr": np.asarray(state.histories.indptr),
        "history_items": np.asarray(state.histories.items),
        **{k: np.ascontiguousarray(v) for k, v in tensors.items()},
    }
    save_file(arrays, str(directory / "tensors.safetensors"))


def load_state(
    directory: str | Path, name: str
) -> tuple[FittedState, dict[str, Any], dict[str, Any]]:
    """Read what :func:`save_state` wrote; returns (state, config, tensors)."""
    directory = Path(directory)  # a str from a script works too
    from safetensors.numpy import load_file

    meta_path = directory / "config.json"
    if not meta_path.exists():
        raise CheckpointError(f"{meta_path}: no saved model here")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: not a saved model's config ({exc})") from None
    if not isinstance(meta, dict) or meta.get("model") != name:
        found = meta.get("model") if isinstance(meta, dict) else None
        raise CheckpointError(f"{meta_path}: holds model {found!r}, not {name!r}")
    tensors = load_file(str(directory / "tensors.safetensors"))
    histories = Sequences(tensors.pop("history_indptr"), tensors.pop("history_items"))
    return FittedState.from_json(meta, histories), meta["config"], tensors


def save_member(directory: Path, role: str, model: Recommender) -> None:
    """Save a composite model's member under ``directory / role``."""
    if not isinstance(model, Persistable):
        raise CheckpointError(f"{role}: {type(model).__name__} cannot be saved")
    model.save(directory / role)


def read_meta(directory: Path) -> dict[str, Any]:
    """The ``config.json`` of a saved model, as written."""
    meta: dict[str, Any] = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    return meta


def write_meta(directory: Path, extra: dict[str, Any]) -> None:
    """Add ``extra`` keys to a saved model's ``config.json``."""
    meta = {**read_meta(directory), **extra}
    (directory / "config.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
