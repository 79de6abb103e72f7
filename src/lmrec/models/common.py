"""Checkpoints of fitted models: ``config.json`` (name, config, vocabularies) + safetensors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.core.fitted import FittedState
from lmrec.data.containers import Sequences
from lmrec.data.errors import DataError


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
        raise FileNotFoundError(f"{meta_path}: no saved model here")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("model") != name:
        raise DataError(f"{meta_path}: holds model {meta.get('model')!r}, not {name!r}")
    tensors = load_file(str(directory / "tensors.safetensors"))
    histories = Sequences(tensors.pop("history_indptr"), tensors.pop("history_items"))
    return FittedState.from_json(meta, histories), meta["config"], tensors
