"""Command-line options that shape a protocol: candidate sets, cold items, history cuts and
result breakdowns."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import typer

from lmrec.errors import ConfigError


def finite(value: float | None) -> float | None:
    """A float option's callback: NaN and infinities are not numbers here (ranges let NaN by)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


@dataclass(frozen=True)
class ColdOptions:
    """``-p cold-items``'s share of held-out test targets, and any protocol's history cut."""

    share: float | None = None
    history_limit: int | None = None


ColdShareOpt = Annotated[
    float | None,
    typer.Option(
        "--cold-share",
        min=0.0,
        max=1.0,
        callback=finite,
        help="-p cold-items: share of test targets held out as new items (0.1).",
    ),
]
HistoryLimitOpt = Annotated[
    int | None,
    typer.Option(
        "--history-limit",
        min=1,
        help="Cut every evaluated history to its last N items (how good for thin histories).",
    ),
]
ByOpt = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Break NDCG@10/HR@10 down by popularity (target's training count) and/or history "
        "(history length), e.g. --by popularity,history. Warm vs new items always.",
    ),
]


@dataclass(frozen=True)
class CandidateSetOptions:
    """``-p candidates``: how many listed items to keep, whether the target is added, and whether
    the user's seen items compete."""

    size: int = 0
    ensure_target: bool = False
    seen: Literal["compete", "mask"] = "compete"


CandidatesSizeOpt = Annotated[
    int,
    typer.Option(
        "--candidates-size", min=0, help="-p candidates: keep the first N listed (0 = all)."
    ),
]
EnsureTargetOpt = Annotated[
    bool,
    typer.Option(
        "--ensure-target/--no-ensure-target",
        help="-p candidates: add the target when it is missing (default: a miss scores 0).",
    ),
]
SeenOpt = Annotated[
    str, typer.Option("--seen", help="-p candidates: history items compete | mask.")
]


def candidate_set_options(size: int, ensure_target: bool, seen: str) -> CandidateSetOptions:
    if seen not in ("compete", "mask"):
        raise ConfigError(f"--seen must be compete or mask, got {seen!r}")
    if size < 0:
        raise ConfigError(f"--candidates-size must be 0 (all) or positive, got {size}")
    return CandidateSetOptions(size, ensure_target, "mask" if seen == "mask" else "compete")
