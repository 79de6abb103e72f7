"""The named evaluation protocols: one typed class per protocol, in one table.

``loo`` (leave-one-out, full ranking), ``llmrank-20`` (19 candidates + target, LLMRank's files or
sampled), ``candidates`` (leave-one-out target, any candidate file: any size, target not
guaranteed, seen items competing or masked), ``temporal`` (full ranking after a global
cut-off) and ``cold-items`` (leave-one-out with a share of the test targets held out as new
items). Every protocol takes ``history_limit``: the evaluated cases' histories cut to their last
N items (thin-history users). Each class holds only its own options (a discriminated union on ``name``, so a run
specification in YAML says ``protocol: {name: temporal, cutoff_quantile: 0.8}``) and says how it
splits, which candidates it scores, how it is described and which columns a table shows. The
CLI, the experiment runner and the benchmarks all look protocols up here; a new protocol is one
class and one entry in :data:`PROTOCOLS`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationError

from lmrec.data.containers import Interactions
from lmrec.data.registry import default_data_dir
from lmrec.errors import ConfigError, field_error
from lmrec.protocols.base import SplitProtocol
from lmrec.protocols.candidates import CandidateFile, Candidates, CandidateSet
from lmrec.protocols.cold_items import ColdItems
from lmrec.protocols.leave_one_out import LeaveOneOut
from lmrec.protocols.temporal import Temporal
from lmrec.settings import Settings

LLMRANK_ENV = "LMREC_LLMRANK_DIR"

FULL_RANKING_COLUMNS = ("hr@10", "ndcg@10", "mrr@10", "ndcg@20", "coverage@20")
CANDIDATE_COLUMNS = ("ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20", "hr@10")


class NamedProtocol(Settings):
    """What every protocol offers; subclasses add their own options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: ClassVar[str] = ""
    report_columns: ClassVar[tuple[str, ...]] = FULL_RANKING_COLUMNS
    name: str = ""  # each protocol's own Literal
    seed: int = Field(0, ge=0, description="Candidate sampling and shuffling.")
    history_limit: int | None = Field(
        None, ge=1, description="Cut every evaluated history to its last N items (thin users)."
    )

    def splitter(self, data: Interactions) -> SplitProtocol:
        return LeaveOneOut()

    def candidates(self) -> Candidates | CandidateSet | None:
        return None

    @property
    def exclude_history(self) -> bool | None:
        """Whether history items are masked (``None``: the evaluator's default for the shape)."""
        return None

    @property
    def candidates_file(self) -> Path | None:
        return None

    def describe(self) -> str:
        raise NotImplementedError

    def description(self) -> str:
        """:meth:`describe` and, with ``history_limit``, how the histories were cut."""
        if self.history_limit is None:
            return self.describe()
        return f"{self.describe()}; histories cut to the last {self.history_limit} item(s)"


class LeaveOneOutProtocol(NamedProtocol):
    name: Literal["loo"] = "loo"
    summary: ClassVar[str] = "leave-one-out, full ranking"

    def describe(self) -> str:
        return (
            "leave-one-out, full ranking over every item of the catalogue, "
            "items seen before the target excluded"
        )


class LLMRankProtocol(NamedProtocol):
    """``file``: LLMRank's candidate file (sampled with the seed when absent)."""

    name: Literal["llmrank-20"] = "llmrank-20"
    summary: ClassVar[str] = "LLMRank's 20 candidates (19 + target)"
    report_columns: ClassVar[tuple[str, ...]] = CANDIDATE_COLUMNS
    file: Path | None = Field(None, description="LLMRank's candidate file; None: sampled.")

    @property
    def candidates_file(self) -> Path | None:
        return self.file

    def candidates(self) -> Candidates:
        file = CandidateFile.read(self.file) if self.file else None
        return Candidates(n_negatives=19, seed=self.seed, max_history=50, file=file)

    def describe(self) -> str:
        source = self.file.name if self.file else "uniformly sampled"
        return (
            f"leave-one-out target, 19 candidates ({source}, target removed, first 19 kept) "
            f"+ target, shuffled with seed {self.seed}; history ≤ 50 items; no masking"
        )


class CandidateFileProtocol(NamedProtocol):
    """Any candidate file: the first ``size`` listed (0 = all), the target added when missing
    (``ensure_target``), history items competing or masked (``seen``)."""

    name: Literal["candidates"] = "candidates"
    summary: ClassVar[str] = "any candidate file: --candidates-size, --ensure-target, --seen"
    report_columns: ClassVar[tuple[str, ...]] = CANDIDATE_COLUMNS
    file: Path = Field(description="user<TAB>item item … lines.")
    size: int = Field(0, ge=0)
    ensure_target: bool = False
    seen: Literal["compete", "mask"] = "compete"

    @property
    def candidates_file(self) -> Path | None:
        return self.file

    def candidates(self) -> CandidateSet:
        file = CandidateFile.read(self.file)
        return CandidateSet(file, self.size, self.ensure_target, self.seen, self.seed)

    @property
    def exclude_history(self) -> bool | None:
        return self.seen == "mask"

    def describe(self) -> str:
        size = f"first {self.size}" if self.size else "all listed"
        target = (
            f"target added when missing, shuffled with seed {self.seed}"
            if self.ensure_target
            else "target not guaranteed (a missing target scores 0)"
        )
        seen = "seen items masked" if self.seen == "mask" else "seen items compete"
        return (
            f"leave-one-out target, candidates from {self.file.name} ({size}, duplicates "
            f"dropped), {target}; {seen}"
        )


class TemporalProtocol(NamedProtocol):
    """Cut-off at ``cutoff_quantile`` of the timestamps; validation at 1 − 2·(1 − cut-off)."""

    name: Literal["temporal"] = "temporal"
    summary: ClassVar[str] = "global time cut-off, full ranking"
    cutoff_quantile: float = Field(0.9, gt=0.0, lt=1.0)

    def splitter(self, data: Interactions) -> SplitProtocol:
        valid = max(0.0, 1.0 - 2.0 * (1.0 - self.cutoff_quantile))
        return Temporal.at_quantiles(data, test=self.cutoff_quantile, valid=valid or None)

    def describe(self) -> str:
        return (
            f"temporal cut-off at the {self.cutoff_quantile:.0%} timestamp quantile; target = "
            "each user's first item after it; full ranking, history items excluded"
        )


class ColdItemsProtocol(NamedProtocol):
    """Leave-one-out with ``share`` of the distinct test targets held out as new items."""

    name: Literal["cold-items"] = "cold-items"
    summary: ClassVar[str] = "leave-one-out with --cold-share of test targets as new items"
    share: float = Field(0.1, gt=0.0, lt=1.0, description="Share of test targets held out.")

    def splitter(self, data: Interactions) -> SplitProtocol:
        return ColdItems(self.share, self.seed)

    def describe(self) -> str:
        return (
            f"leave-one-out; {self.share:.0%} of the test targets (seed {self.seed}) held out as "
            "new items with every interaction removed; full ranking over the catalogue, "
            "history items excluded"
        )


PROTOCOLS: dict[str, type[NamedProtocol]] = {
    "loo": LeaveOneOutProtocol,
    "llmrank-20": LLMRankProtocol,
    "candidates": CandidateFileProtocol,
    "temporal": TemporalProtocol,
    "cold-items": ColdItemsProtocol,
}

ProtocolSpec = Annotated[
    LeaveOneOutProtocol
    | LLMRankProtocol
    | CandidateFileProtocol
    | TemporalProtocol
    | ColdItemsProtocol,
    Field(discriminator="name"),
]
"""One protocol with its own options, chosen by ``name`` (for pydantic models and YAML)."""


def protocol_help() -> str:
    """One line for a ``--protocol`` option: every name and its summary."""
    return " | ".join(f"{name} ({cls.summary})" for name, cls in PROTOCOLS.items())


def named_protocol(name: str, **options: Any) -> NamedProtocol:
    """The protocol ``name`` with ``options`` (only its own: an option another protocol reads is
    a :class:`ConfigError` naming it; ``None`` means not given)."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    cls = PROTOCOLS[name]
    options = {k: v for k, v in options.items() if v is not None}  # None: not given
    unknown = sorted(set(options) - set(cls.model_fields))
    if unknown:
        raise ConfigError(f"protocol {name!r} takes no option {', '.join(unknown)}")
    try:
        return cls.model_validate(options)
    except ValidationError as exc:
        raise field_error(f"protocol {name!r}: ", exc) from None


def llmrank_dir() -> Path:
    """LLMRank's published candidate files: ``$LMREC_LLMRANK_DIR``, else ``benchmarks/llmrank``
    beside the data directory (``../shared/benchmarks/llmrank`` for ``../shared/data``)."""
    env = os.environ.get(LLMRANK_ENV)
    if env:
        return Path(env).expanduser()
    return default_data_dir().parent / "benchmarks" / "llmrank"


def llmrank_file(dataset: str, sample: bool = False, folder: Path | None = None) -> Path | None:
    """LLMRank's published candidate file for ``dataset`` (its registry entry names it; the
    200-user sample with ``sample``) in ``folder`` (default :func:`llmrank_dir`), when the
    dataset has one and it is on disk."""
    from lmrec.data.registry import DATASETS

    entry = DATASETS.get(dataset)
    name = None if entry is None else entry.llmrank_sample if sample else entry.llmrank_file
    if name is None:
        return None
    path = (folder or llmrank_dir()) / name
    return path if path.is_file() else None
