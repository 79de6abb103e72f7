"""Saved models: ``config.json`` (name, config, vocabularies) + ``tensors.safetensors``.

A composite model saves each member in a sub-folder of its own (:func:`save_member`), named by
its role; the registry's ``load_model`` reads it back by the model name its ``config.json`` gives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.core.fitted import FittedState, ModelContext
from lmrec.core.recommender import Persistable, Recommender
from lmrec.data.containers import Sequences
from lmrec.errors import CheckpointError

CHECKPOINT_FILE = "config.json"  # every saved model's folder has one, naming the model

ModelLoader = Callable[[Path, ModelContext], Recommender]
"""Reads a saved model from a folder, whatever its kind (the registry's ``load_model``, handed
to composite models so they load their members without importing the registry)."""


def save_state(
    directory: Path,
    state: FittedState,
    name: str,
    config: dict[str, Any],
    tensors: dict[str, npt.NDArray[Any]],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``config.json`` (model name, config, vocabularies and any ``extra`` keys) and
    ``tensors.safetensors``."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    meta = {
        "model": name,
        "config": config,
        "trained_at": time.time(),
        **state.to_json(),
        **(extra or {}),
    }
    text = json.dumps(meta, ensure_ascii=False)
    (directory / CHECKPOINT_FILE).write_text(text, encoding="utf-8")
    arrays: dict[str, npt.NDArray[Any]] = {
        "history_indptr": np.asarray(state.histories.indptr),
        "history_items": np.asarray(state.histories.items),
        **{k: np.ascontiguousarray(v) for k, v in tensors.items()},
    }
    save_file(arrays, str(directory / "tensors.safetensors"))


def read_meta(directory: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a saved model (a :class:`CheckpointError` when it is missing, not
    JSON, or names no model)."""
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no saved model here (write one with `lmrec train ... -o {directory}`)"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a saved model's config ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), str):
        raise CheckpointError(f"{path}: not a saved model's config (no 'model' field)")
    return meta


def load_state(
    directory: str | Path, name: str, meta: dict[str, Any] | None = None
) -> tuple[FittedState, dict[str, Any], dict[str, Any]]:
    """Read what :func:`save_state` wrote; returns (state, config, tensors). ``meta``: the
    folder's :func:`read_meta`, when the caller read it already for its ``extra`` keys."""
    directory = Path(directory)  # a str from a script works too
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    meta = meta or read_meta(directory)
    if meta["model"] != name:
        found = meta["model"]
        raise CheckpointError(f"{directory / CHECKPOINT_FILE}: holds model {found!r}, not {name!r}")
    try:
        tensors = load_file(str(directory / "tensors.safetensors"))
    except (SafetensorError, OSError, ValueError) as exc:  # missing, truncated or not tensors
        raise CheckpointError(
            f"{directory / 'tensors.safetensors'}: unreadable ({exc}); write the model again "
            "with `lmrec train -o`"
        ) from None
    histories = Sequences(tensors.pop("history_indptr"), tensors.pop("history_items"))
    return FittedState.from_json(meta, histories), meta["config"], tensors


def save_model(model: Recommender, directory: Path) -> None:
    """Write a fitted model to ``directory`` (read back by the registry's ``load_model``)."""
    if not isinstance(model, Persistable):
        raise CheckpointError(f"{type(model).__name__} cannot be saved")
    model.save(Path(directory))


def save_member(directory: Path, role: str, model: Recommender) -> None:
    """Save a composite model's member under ``directory / role``."""
    save_model(model, directory / role)
