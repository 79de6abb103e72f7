"""Run configurations in YAML: which model and its (nested) configuration, and optionally the
rest of a run specification (dataset, protocol, split, cut-offs; see
:mod:`lmrec.experiment.spec`).

A file looks like::

    model: sasrec
    config:
      hidden_size: 64
      train:
        epochs: 100
        lr: 0.003
    protocol: {name: temporal, cutoff_quantile: 0.8}   # optional

The ``config`` mapping is validated by the model's pydantic config when the model is built, so an
unknown key fails there with the key's path; this module checks the file's own shape and reports
YAML syntax errors with the file and line. Options given on the command line win over the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from lmrec.errors import ConfigError, field_error
from lmrec.protocols.named import ProtocolSpec
from lmrec.settings import Settings


class RunConfig(Settings):
    """The content of a run-configuration file: a run specification whose every key may be left
    to the command line."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="Registered model name (see `lmrec models`).")
    config: dict[str, Any] = Field(default_factory=dict, description="The model's options.")
    dataset: str | None = Field(None, description="Dataset name or folder.")
    protocol: ProtocolSpec | None = Field(None, description="{name: loo | llmrank-20 | …}.")
    split: Literal["valid", "test"] | None = None
    ks: tuple[int, ...] | None = Field(None, min_length=1, description="Metric cut-offs.")
    users: int | None = Field(None, ge=0, description="The first N cases only (0 = all).")


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; errors name the file (and the line, for syntax)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with keys such as 'model' and 'config'")
    return data


def load_run_config(path: Path) -> RunConfig:
    """Read and check a YAML run configuration; errors name the file (and line, for syntax)."""
    data = read_yaml(path)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise field_error(f"{path}: ", exc) from None


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
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {pair!r}: {part!r} is already set to a value")
            node = child
        try:
            node[leaf] = json.loads(value)
        except json.JSONDecodeError:
            node[leaf] = value
    return config
