"""Hyper-parameter search spaces in YAML, checked before any trial runs.

A file looks like::

    model: sasrec
    metric: ndcg@10          # on the validation cases; the test cases are never read
    samples: 8               # trials drawn from the space
    config:                  # fixed options of every trial
      train: {epochs: 20}
    space:                   # dotted keys name nested options
      hidden_size: {choice: [32, 64]}
      train.lr: {loguniform: [0.0003, 0.01]}
      dropout: {uniform: [0.1, 0.3]}
      layers: {randint: [1, 3]}      # 1 or 2 (upper bound excluded)
    early_stopping: {grace: 2, reduction: 2}   # ASHA on per-epoch validation (trained models)

The best trial is written back as a run configuration (``model`` + ``config``) for
``lmrec train --config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lmrec.errors import ConfigError, field_error
from lmrec.settings import Settings

Kind = Literal["choice", "grid", "uniform", "loguniform", "randint"]
KINDS: tuple[str, ...] = ("choice", "grid", "uniform", "loguniform", "randint")


class Dimension(BaseModel):
    """One searched option: its dotted key, how it is drawn, and the values or bounds."""

    key: str
    kind: Kind
    values: tuple[Any, ...]

    def check(self) -> None:
        if self.kind in ("choice", "grid"):
            if not self.values:
                raise ValueError(f"{self.key}: {self.kind} needs at least one value")
            return
        if len(self.values) != 2 or not all(isinstance(v, int | float) for v in self.values):
            raise ValueError(f"{self.key}: {self.kind} needs [low, high] numbers")
        low, high = self.values
        if not low < high:
            raise ValueError(f"{self.key}: {self.kind} needs low < high, got {low}, {high}")
        if self.kind == "loguniform" and low <= 0:
            raise ValueError(f"{self.key}: loguniform needs low > 0, got {low}")
        if self.kind == "randint" and not (isinstance(low, int) and isinstance(high, int)):
            raise ValueError(f"{self.key}: randint needs integer bounds")


class EarlyStopping(Settings):
    model_config = ConfigDict(extra="forbid")

    grace: int = Field(2, ge=1, description="Epochs every trial gets before it may be stopped.")
    reduction: int = Field(2, ge=2, description="ASHA keeps 1/reduction of trials per rung.")


class SearchSpace(Settings):
    """The content of a search-space file."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Registered model name (see `lmrec models`).")
    metric: str = Field("ndcg@10", description="Validation metric to maximise, e.g. hr@10.")
    samples: int = Field(8, ge=1, description="Trials drawn (grid: per grid point).")
    seed: int = Field(0, description="Seed of the search's draws.")
    config: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, Any] = Field(default_factory=dict)
    early_stopping: EarlyStopping | None = None

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        name, sep, k = value.partition("@")
        if name not in ("hr", "ndcg", "mrr") or not sep or not k.isdigit() or int(k) < 1:
            raise ValueError(f"metric must be hr@K, ndcg@K or mrr@K, got {value!r}")
        return value

    @property
    def k(self) -> int:
        return int(self.metric.partition("@")[2])

    def dimensions(self) -> list[Dimension]:
        """The searched options; a plain value is a fixed option of every trial."""
        out = []
        for key, spec in self.space.items():
            if not isinstance(spec, Mapping):
                continue
            if len(spec) != 1 or next(iter(spec)) not in KINDS:
                raise ValueError(
                    f"space.{key}: give one of {', '.join(KINDS)} (e.g. {{choice: [1, 2]}})"
                )
            kind, values = next(iter(spec.items()))
            dim = Dimension(key=key, kind=kind, values=tuple(values))
            dim.check()
            out.append(dim)
        return out

    def fixed(self) -> dict[str, Any]:
        return {k: v for k, v in self.space.items() if not isinstance(v, Mapping)}


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"train.lr": 0.01}`` → ``{"train": {"lr": 0.01}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key}: {part!r} is set to a value and to options")
        node[leaf] = value
    return out


def trial_config(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's full model config: the fixed options, then the space's fixed and drawn values."""
    from lmrec.experiment.config_files import merge

    return merge(merge(space.config, nest(space.fixed())), nest(params))


def load_space(path: Path) -> SearchSpace:
    """Read and check a search-space file; errors name the file and the field."""
    from lmrec.experiment.config_files import read_yaml

    data = read_yaml(path)
    try:
        space = SearchSpace.model_validate(data)
        space.dimensions()
    except ValidationError as exc:
        raise field_error(f"{path}: ", exc) from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    check_trials(space, path)
    return space


def check_trials(space: SearchSpace, path: Path) -> None:
    """Every trial's config is one the model takes, checked here before any trial starts: the
    fixed options with each listed value and each bound of every searched option (a misspelt
    option or a value out of range is one error naming the file, not a trial traceback each)."""
    from lmrec.models.registry import model_spec, validate_config

    try:
        spec = model_spec(space.model)
        validate_config(spec, trial_config(space, {}))
        for dim in space.dimensions():
            for value in dim.values:
                validate_config(spec, trial_config(space, {dim.key: value}))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
