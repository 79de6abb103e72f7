"""Run configurations in YAML: which model, and its (nested) configuration.

A file looks like::

    model: sasrec
    config:
      hidden_size: 64
      train:
        epochs: 100
        lr: 0.003

The ``config`` mapping is validated by the model's pydantic config when the model is built, so an
unknown key fails there with the key's path; this module checks the file's own shape and reports
YAML syntax errors with the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lmrec.data.errors import DataError


class RunConfig(BaseModel):
    """The content of a run-configuration file."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="Registered model name (see `lmrec models`).")
    config: dict[str, Any] = Field(default_factory=dict, description="The model's options.")


def load_run_config(path: Path) -> RunConfig:
    """Read and check a YAML run configuration; errors name the file (and line, for syntax)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read config file ({exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DataError(f"{path}{where}: invalid YAML: {problem}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping with keys 'model' and 'config'")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{path}: field {field!r}: {first['msg']}") from exc


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: nested mappings are merged key by key, other values in ``override`` win."""
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = merge(current, value)
        else:
            out[key] = value
    return out


def parse_settings(pairs: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a nested mapping: ``train.epochs=5`` → ``{"train": {"epochs": 5}}``.
    Values are JSON when they parse as JSON (numbers, booleans, lists), else strings."""
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"--set {pair!r}: {part!r} is already set to a value")
            node = child
        try:
            node[leaf] = json.loads(value)
        except json.JSONDecodeError:
            node[leaf] = value
    return config
