"""The named evaluation protocols, in one table: how each is built, described and reported.

``loo`` (leave-one-out, full ranking), ``llmrank-20`` (19 candidates + target, LLMRank's files or
sampled), ``candidates`` (leave-one-out target, any candidate file: any size, target not
guaranteed, seen items competing or masked) and ``temporal`` (full ranking after a global
cut-off). The CLI, the experiment runner
and the benchmarks all look protocols up here; nothing else switches on a protocol's name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from lmrec.data.containers import Interactions
from lmrec.data.registry import default_data_dir
from lmrec.protocols.base import SplitProtocol
from lmrec.protocols.candidates import CandidateFile, Candidates, CandidateSet
from lmrec.protocols.leave_one_out import LeaveOneOut
from lmrec.protocols.temporal import Temporal

ProtocolName = Literal["loo", "llmrank-20", "candidates", "temporal"]
LLMRANK_ENV = "LMREC_LLMRANK_DIR"

FULL_RANKING_COLUMNS = ("hr@10", "ndcg@10", "mrr@10", "ndcg@20", "coverage@20")
CANDIDATE_COLUMNS = ("ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20", "hr@10")


@dataclass(frozen=True)
class NamedProtocol:
    """One row of the table: a splitter, an optional candidate protocol, a description and the
    metric columns a results table shows for it."""

    name: ProtocolName
    summary: str
    splitter: Callable[[ProtocolChoice, Interactions], SplitProtocol]
    candidates: Callable[[ProtocolChoice], Candidates | CandidateSet | None]
    describe: Callable[[ProtocolChoice], str]
    report_columns: tuple[str, ...]


def _leave_one_out(choice: ProtocolChoice, data: Interactions) -> SplitProtocol:
    return LeaveOneOut()


def _temporal(choice: ProtocolChoice, data: Interactions) -> SplitProtocol:
    valid = max(0.0, 1.0 - 2.0 * (1.0 - choice.cutoff_quantile))
    return Temporal.at_quantiles(data, test=choice.cutoff_quantile, valid=valid or None)


def _no_candidates(choice: ProtocolChoice) -> Candidates | None:
    return None


def _llmrank_candidates(choice: ProtocolChoice) -> Candidates | None:
    """From the file when given, else sampled with the seed."""
    file = CandidateFile.read(choice.candidates_file) if choice.candidates_file else None
    return Candidates(n_negatives=19, seed=choice.seed, max_history=50, file=file)


def _candidate_set(choice: ProtocolChoice) -> CandidateSet:
    if choice.candidates_file is None:
        raise ValueError("protocol 'candidates' needs --candidates FILE (user<TAB>item item …)")
    file = CandidateFile.read(choice.candidates_file)
    return CandidateSet(
        file, choice.candidates_size, choice.ensure_target, choice.seen, choice.seed
    )


def _describe_candidate_set(choice: ProtocolChoice) -> str:
    name = choice.candidates_file.name if choice.candidates_file else "?"
    size = f"first {choice.candidates_size}" if choice.candidates_size else "all listed"
    target = (
        f"target added when missing, shuffled with seed {choice.seed}"
        if choice.ensure_target
        else "target not guaranteed (a missing target scores 0)"
    )
    seen = "seen items masked" if choice.seen == "mask" else "seen items compete"
    return f"leave-one-out target, candidates from {name} ({size}, duplicates dropped), {target}; {seen}"


def _describe_loo(choice: ProtocolChoice) -> str:
    return (
        "leave-one-out, full ranking over all items of the training vocabulary, "
        "items seen before the target excluded"
    )


def _describe_llmrank(choice: ProtocolChoice) -> str:
    source = choice.candidates_file.name if choice.candidates_file else "uniformly sampled"
    return (
        f"leave-one-out target, 19 candidates ({source}, target removed, first 19 kept) "
        f"+ target, shuffled with seed {choice.seed}; history ≤ 50 items; no masking"
    )


def _describe_temporal(choice: ProtocolChoice) -> str:
    return (
        f"temporal cut-off at the {choice.cutoff_quantile:.0%} timestamp quantile; target = "
        "each user's first item after it; full ranking, history items excluded"
    )


NAMED: Mapping[str, NamedProtocol] = MappingProxyType(
    {
        p.name: p
        for p in (
            NamedProtocol(
                "loo",
                "leave-one-out, full ranking",
                _leave_one_out,
                _no_candidates,
                _describe_loo,
                FULL_RANKING_COLUMNS,
            ),
            NamedProtocol(
                "llmrank-20",
                "LLMRank's 20 candidates (19 + target)",
                _leave_one_out,
                _llmrank_candidates,
                _describe_llmrank,
                CANDIDATE_COLUMNS,
            ),
            NamedProtocol(
                "candidates",
                "any candidate file: --candidates-size, --ensure-target, --seen",
                _leave_one_out,
                _candidate_set,
                _describe_candidate_set,
                CANDIDATE_COLUMNS,
            ),
            NamedProtocol(
                "temporal",
                "global time cut-off, full ranking",
                _temporal,
                _no_candidates,
                _describe_temporal,
                FULL_RANKING_COLUMNS,
            ),
        )
    }
)


def protocol_help() -> str:
    """One line for a ``--protocol`` option: every name and its summary."""
    return " | ".join(f"{p.name} ({p.summary})" for p in NAMED.values())


@dataclass(frozen=True)
class ProtocolChoice:
    """A named protocol with its options: ``candidates_file`` (llmrank-20; sampled when absent),
    ``seed`` (candidate sampling and shuffling) and ``cutoff_quantile`` (temporal: cut-off at
    that quantile of timestamps; validation at 1 − 2·(1 − cut-off)); for ``candidates`` also
    ``candidates_size`` (0 = all listed), ``ensure_target`` and ``seen`` (compete | mask)."""

    name: str = "loo"
    candidates_file: Path | None = None
    seed: int = 0
    cutoff_quantile: float = 0.9
    candidates_size: int = 0
    ensure_target: bool = False
    seen: Literal["compete", "mask"] = "compete"

    def __post_init__(self) -> None:
        if self.name not in NAMED:
            raise ValueError(f"unknown protocol {self.name!r}; choose one of {', '.join(NAMED)}")
        if not 0.0 < self.cutoff_quantile < 1.0:
            raise ValueError(f"cutoff quantile must be in (0, 1), got {self.cutoff_quantile}")

    @property
    def spec(self) -> NamedProtocol:
        return NAMED[self.name]

    def splitter(self, data: Interactions) -> SplitProtocol:
        return self.spec.splitter(self, data)

    def candidates(self) -> Candidates | CandidateSet | None:
        return self.spec.candidates(self)

    @property
    def exclude_history(self) -> bool | None:
        """Whether history items are masked (``None``: the evaluator's default for the shape)."""
        return self.seen == "mask" if self.name == "candidates" else None

    def describe(self) -> str:
        return self.spec.describe(self)

    @property
    def report_columns(self) -> tuple[str, ...]:
        return self.spec.report_columns


def llmrank_dir() -> Path:
    """LLMRank's published candidate files: ``$LMREC_LLMRANK_DIR``, else ``benchmarks/llmrank``
    beside the data directory (``../shared/benchmarks/llmrank`` for ``../shared/data``)."""
    env = os.environ.get(LLMRANK_ENV)
    if env:
        return Path(env).expanduser()
    return default_data_dir().parent / "benchmarks" / "llmrank"
