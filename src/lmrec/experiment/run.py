"""One evaluation run, end to end: dataset → protocol → model → metrics with provenance.

This is the library function behind ``lmrec evaluate``, ``lmrec train``, ``lmrec llm-rank`` and
``lmrec recommend --all-users``; the CLI only parses arguments and prints.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator

from lmrec.core.coverage import unscorable_count
from lmrec.core.fitted import ModelContext
from lmrec.core.recommender import Configured, Labelled, Recommender, ReportsTraining
from lmrec.data.containers import Dataset
from lmrec.errors import ConfigError
from lmrec.metrics.evaluate import Evaluation, evaluate
from lmrec.metrics.slices import slice_report
from lmrec.models.registry import create_model
from lmrec.protocols.base import EvalCases, Split
from lmrec.protocols.candidates import candidate_hit_rate
from lmrec.protocols.named import LeaveOneOutProtocol, NamedProtocol, ProtocolSpec
from lmrec.settings import Settings


@dataclass(frozen=True)
class Prepared:
    """A split and the cases to evaluate on, for one dataset and protocol."""

    dataset: Dataset
    split: Split
    cases: EvalCases
    protocol: NamedProtocol
    split_name: str
    users: int = 0  # evaluate the first N cases only (0 = all), as :meth:`first` set it

    def first(self, n: int) -> Prepared:
        """The same run on the first ``n`` cases only (``0`` = all)."""
        if n < 0:
            raise ConfigError(f"the number of cases to evaluate must be 0 (all) or more, got {n}")
        if not n or n >= len(self.cases):
            return self
        cases = self.cases.select(range(n))
        return Prepared(self.dataset, self.split, cases, self.protocol, self.split_name, n)


class RunSpec(Settings):
    """One evaluation run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="A registered dataset, a folder of atomic files, or 'a+b'.")
    model: str = Field(description="A registered model (`lmrec models`).")
    config: dict[str, Any] = Field(default_factory=dict, description="The model's options.")
    protocol: ProtocolSpec = Field(default_factory=LeaveOneOutProtocol)
    split: Literal["valid", "test"] = "test"
    ks: tuple[int, ...] = Field((1, 5, 10, 20), min_length=1, description="Metric cut-offs.")
    users: int = Field(0, ge=0, description="Evaluate the first N cases only (0 = all).")
    by: tuple[Literal["popularity", "history"], ...] = Field(
        (), description="Break results down by the target's training count and history length."
    )

    @field_validator("ks")
    @classmethod
    def _positive(cls, ks: tuple[int, ...]) -> tuple[int, ...]:
        if any(k < 1 for k in ks):
            raise ValueError(f"every cut-off must be at least 1, got {list(ks)}")
        return ks


def spec_for(
    prepared: Prepared,
    model: str,
    config: Mapping[str, Any] | None = None,
    ks: Sequence[int] = (1, 5, 10, 20),
    by: Sequence[str] = (),
) -> RunSpec:
    """The specification of a run of ``model`` on ``prepared`` cases (its dataset, protocol,
    split and number of cases)."""
    return RunSpec(
        dataset=prepared.dataset.name,
        model=model,
        config=dict(config or {}),
        protocol=prepared.protocol,
        split=prepared.split_name,
        ks=tuple(ks),
        users=prepared.users,
        by=tuple(by),  # checked by the model
    )


def prepare(dataset: Dataset, protocol: NamedProtocol, split_name: str = "test") -> Prepared:
    split = protocol.splitter(dataset.interactions).split(dataset.interactions)
    cases = split.cases(split_name)
    cand = protocol.candidates()
    if cand is not None:
        inter = dataset.interactions
        cases = cand.apply(cases, inter.user_vocab, inter.item_vocab)
    if protocol.history_limit is not None:
        cases = cases.truncate_histories(protocol.history_limit)
    return Prepared(dataset, split, cases, protocol, split_name)


@dataclass(frozen=True)
class RunResult:
    model: str
    config: Mapping[str, Any]
    evaluation: Evaluation
    provenance: Mapping[str, Any] = field(default_factory=dict)
    slices: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {"metrics": self.evaluation.as_dict(), "provenance": dict(self.provenance)}
        return {**out, "slices": dict(self.slices)} if self.slices else out


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("lmrec", "numpy", "scipy", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_model(
    prepared: Prepared,
    model_name: str,
    config: Mapping[str, Any] | None = None,
    ks: Sequence[int] = (1, 5, 10, 20),
    progress: bool = False,
    by: Sequence[str] = (),
) -> tuple[Recommender, RunResult]:
    """Fit ``model_name`` on the split's training data and evaluate it on the prepared cases
    (``by``: breakdowns of :mod:`lmrec.metrics.slices` besides warm/new)."""
    model = create_model(model_name, config, ModelContext.for_dataset(prepared.dataset, progress))
    # early stopping reads the validation cases, never the test cases
    model.fit(prepared.split.train, prepared.split.valid)
    popularity = prepared.split.train.item_counts()
    evaluation = evaluate(
        model,
        prepared.cases,
        ks=ks,
        exclude_history=prepared.protocol.exclude_history,
        popularity=popularity,
        progress=progress,
    )
    spec = spec_for(prepared, model_name, config, ks, by)
    return model, describe_run(prepared, spec, model, evaluation)


def model_facts(model_name: str, model: Recommender) -> dict[str, Any]:
    """What a run reports about a fitted model: its label, config and training report (plain
    data, so a remote worker can send it back)."""
    facts: dict[str, Any] = {
        "label": model.run_label(model_name) if isinstance(model, Labelled) else model_name,
        "model_config": model.config.model_dump() if isinstance(model, Configured) else {},
        "items": len(model.item_vocab),
        "unscorable_items": unscorable_count(model),
    }
    if isinstance(model, ReportsTraining) and model.report is not None:
        facts["training"] = model.report.to_json()
    return facts


def describe_run(
    prepared: Prepared, spec: RunSpec, model: Recommender, evaluation: Evaluation
) -> RunResult:
    """The result of a fitted and evaluated model: its label, config and provenance."""
    return describe_facts(prepared, spec, model_facts(spec.model, model), evaluation)


def describe_facts(
    prepared: Prepared, spec: RunSpec, facts: Mapping[str, Any], evaluation: Evaluation
) -> RunResult:
    """A run's result from :func:`model_facts` and the evaluation; the provenance records the
    run specification (``run_spec``) with everything else."""
    model_name = spec.model
    provenance: dict[str, Any] = {
        "dataset": prepared.dataset.name,
        "data_prep": prepared.dataset.prep,
        "interactions": len(prepared.dataset.interactions),
        "protocol": prepared.protocol.name,
        "protocol_description": prepared.protocol.description(),
        "candidates_file": str(prepared.protocol.candidates_file or ""),
        "split": prepared.split_name,
        "leakage": prepared.split.leakage,
        "users_evaluated": len(np.unique(prepared.cases.users)),
        "candidate_hit_rate": candidate_hit_rate(prepared.cases),
        "cases": len(prepared.cases),
        "history_limit": prepared.protocol.history_limit,
        "items": facts.get("items"),
        "unscorable_items": facts.get("unscorable_items", 0),
        "exclude_history": evaluation.exclude_history,
        "tie_break": "ascending item id",
        "seed": prepared.protocol.seed,
        "model": model_name,
        "model_config": facts["model_config"],
        "run_spec": spec.model_dump(mode="json"),
        "versions": versions(),
    }
    if "training" in facts:
        provenance["training"] = facts["training"]
    provenance["label"] = facts["label"]
    slices = slice_report(
        evaluation.ranks,
        prepared.split.train.item_counts()[prepared.cases.targets],
        prepared.cases.histories.lengths,
        spec.by,
    )
    return RunResult(facts["label"], facts["model_config"], evaluation, provenance, slices)
