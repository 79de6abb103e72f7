"""A run, written down: dataset, protocol, split, model, config, cut-offs and seed in one typed,
validated object — loadable from YAML — and one :func:`run` that the CLI, Ray and the bench use.

A file looks like::

    dataset: ml-1m
    protocol: {name: llmrank-20}      # the dataset's LLMRank file when it has one
    model: sasrec
    config: {hidden_size: 64, train: {epochs: 100}}
    ks: [10, 20]

Every field but ``model`` and ``dataset`` has a default; unknown keys are refused, and errors
name the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lmrec.core.recommender import Recommender
from lmrec.data.containers import Dataset
from lmrec.errors import field_error
from lmrec.experiment.run import Prepared, RunResult, RunSpec, prepare, run_model
from lmrec.protocols.named import (
    LLMRankProtocol,
    NamedProtocol,
    llmrank_file,
)


def resolve_protocol(protocol: NamedProtocol, dataset: str) -> NamedProtocol:
    """LLMRank-20 without a file takes the dataset's published LLMRank file when there is one
    (its registry entry names it) and it is on disk; else candidates are sampled."""
    if not isinstance(protocol, LLMRankProtocol) or protocol.file is not None:
        return protocol
    file = llmrank_file(dataset)
    return protocol if file is None else protocol.model_copy(update={"file": file})


def prepare_spec(spec: RunSpec, dataset: Dataset) -> Prepared:
    """The split and cases of ``spec`` on a loaded ``dataset``."""
    protocol = resolve_protocol(spec.protocol, spec.dataset)
    return prepare(dataset, protocol, spec.split).first(spec.users)


def run(
    spec: RunSpec,
    data_dir: Path | None = None,
    progress: bool = False,
    prepared: Prepared | None = None,
) -> tuple[Recommender, RunResult]:
    """Load the dataset, prepare the protocol (or take ``prepared``, the same spec's split and
    cases, shared by several runs), fit the model on the training split and evaluate it
    (:func:`run_model`, whose provenance records the spec)."""
    from lmrec.data.registry import load_dataset

    if prepared is None:
        prepared = prepare_spec(spec, load_dataset(spec.dataset, data_dir))
    return run_model(prepared, spec.model, spec.config, ks=spec.ks, progress=progress, by=spec.by)


def load_run_spec(path: Path, overrides: Mapping[str, Any] | None = None) -> RunSpec:
    """A :class:`RunSpec` from YAML (``overrides`` win over the file's keys); errors name the
    file, the line for syntax errors, and the field."""
    from lmrec.experiment.config_files import merge, read_yaml

    data = merge(read_yaml(path), overrides or {})
    try:
        return RunSpec.model_validate(data)
    except ValidationError as exc:
        raise field_error(f"{path}: ", exc) from None
