"""One evaluation run, end to end: dataset → protocol → model → metrics with provenance.

This is the library function behind ``lmrec evaluate`` and ``lmrec recommend --all-users``; the
CLI only parses arguments and prints.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.data.containers import Dataset, Interactions
from lmrec.metrics.evaluate import Evaluation, evaluate
from lmrec.models.base import Recommender
from lmrec.models.common import ModelContext
from lmrec.models.registry import create_model, fit_model
from lmrec.protocols.base import EvalCases, Split
from lmrec.protocols.candidates import CandidateFile, Candidates
from lmrec.protocols.leave_one_out import LeaveOneOut
from lmrec.protocols.temporal import Temporal

PROTOCOLS = ("loo", "llmrank-20", "temporal")


@dataclass(frozen=True)
class ProtocolChoice:
    """A named protocol: ``loo`` (full ranking), ``llmrank-20`` (19 candidates + target) or
    ``temporal`` (full ranking after a global cut-off at the ``cutoff_quantile`` of timestamps;
    validation at the midpoint quantile between it and 1 − 2·(1 − cut-off))."""

    name: str = "loo"
    candidates_file: Path | None = None
    seed: int = 0
    cutoff_quantile: float = 0.9

    def __post_init__(self) -> None:
        if self.name not in PROTOCOLS:
            raise ValueError(
                f"unknown protocol {self.name!r}; choose one of {', '.join(PROTOCOLS)}"
            )
        if not 0.0 < self.cutoff_quantile < 1.0:
            raise ValueError(f"cutoff quantile must be in (0, 1), got {self.cutoff_quantile}")

    def splitter(self, data: Interactions) -> LeaveOneOut | Temporal:
        if self.name != "temporal":
            return LeaveOneOut()
        valid = max(0.0, 1.0 - 2.0 * (1.0 - self.cutoff_quantile))
        return Temporal.at_quantiles(data, test=self.cutoff_quantile, valid=valid or None)

    def candidates(self) -> Candidates | None:
        """The candidate protocol: from the file when given, else sampled with the seed."""
        if self.name != "llmrank-20":
            return None
        file = CandidateFile.read(self.candidates_file) if self.candidates_file else None
        return Candidates(n_negatives=19, seed=self.seed, max_history=50, file=file)

    def describe(self) -> str:
        if self.name == "temporal":
            return (
                f"temporal cut-off at the {self.cutoff_quantile:.0%} timestamp quantile; target = "
                "each user's first item after it; full ranking, history items excluded"
            )
        if self.name == "loo":
            return (
                "leave-one-out, full ranking over all items of the training vocabulary, "
                "items seen before the target excluded"
            )
        source = self.candidates_file.name if self.candidates_file else "uniformly sampled"
        return (
            f"leave-one-out target, 19 candidates ({source}, target removed, first 19 kept) "
            f"+ target, shuffled with seed {self.seed}; history ≤ 50 items; no masking"
        )


@dataclass(frozen=True)
class Prepared:
    """A split and the cases to evaluate on, for one dataset and protocol."""

    dataset: Dataset
    split: Split
    cases: EvalCases
    protocol: ProtocolChoice
    split_name: str


def prepare(dataset: Dataset, protocol: ProtocolChoice, split_name: str = "test") -> Prepared:
    split = protocol.splitter(dataset.interactions).split(dataset.interactions)
    cases = split.cases(split_name)
    cand = protocol.candidates()
    if cand is not None:
        inter = dataset.interactions
        cases = cand.apply(cases, inter.user_vocab, inter.item_vocab)
    return Prepared(dataset, split, cases, protocol, split_name)


@dataclass(frozen=True)
class RunResult:
    model: str
    config: Mapping[str, Any]
    evaluation: Evaluation
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"metrics": self.evaluation.as_dict(), "provenance": dict(self.provenance)}


def context_for(dataset: Dataset, progress: bool = False) -> ModelContext:
    """What models may read besides interactions: the dataset's name and catalogue."""
    return ModelContext(dataset.name, dataset.catalog, progress=progress)


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
) -> tuple[Recommender, RunResult]:
    """Fit ``model_name`` on the split's training data and evaluate it on the prepared cases."""
    model = create_model(model_name, config, context_for(prepared.dataset, progress))
    # early stopping reads the validation cases, never the test cases
    fit_model(model, prepared.split.train, prepared.split.valid)
    popularity = prepared.split.train.item_counts()
    evaluation = evaluate(model, prepared.cases, ks=ks, popularity=popularity, progress=progress)
    model_config = getattr(model, "config", None)
    config_dump = model_config.model_dump() if model_config is not None else {}
    provenance = {
        "dataset": prepared.dataset.name,
        "data_prep": prepared.dataset.prep,
        "interactions": len(prepared.dataset.interactions),
        "protocol": prepared.protocol.name,
        "protocol_description": prepared.protocol.describe(),
        "candidates_file": str(prepared.protocol.candidates_file or ""),
        "split": prepared.split_name,
        "leakage": prepared.split.leakage,
        "users_evaluated": len(np.unique(prepared.cases.users)),
        "cases": len(prepared.cases),
        "exclude_history": evaluation.exclude_history,
        "tie_break": "ascending item id",
        "seed": prepared.protocol.seed,
        "model": model_name,
        "model_config": config_dump,
        "versions": versions(),
    }
    report = getattr(model, "report", None)
    if report is not None:
        provenance["training"] = report.to_json()
    label = model_name
    if config_dump.get("popularity_weight"):
        label += " + popularity"  # target interactions used: not zero-shot any more
    provenance["label"] = label
    return model, RunResult(label, config_dump, evaluation, provenance)
