"""What the service's engine takes and returns: limits, queries and results (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lmrec.service.batching import ScoreJob

if TYPE_CHECKING:
    from lmrec.service.live import LiveModel


@dataclass(frozen=True)
class ServiceLimits:
    """Bounds on what one request may ask for (each violation is a 4xx naming the field)."""

    max_k: int = 100
    max_history: int = 500
    max_text: int = 20
    max_text_chars: int = 2_000
    max_exclude: int = 1_000
    history_window: int = 200  # /users and "why?" show and explain the last this many items;
    # recommendations always read (and exclude) the whole history
    max_body_bytes: int = 256 * 1024
    max_search: int = 50
    rating_range: tuple[float, float] = (0.0, 5.0)
    max_pending: int = 256  # scoring requests queued or running; more get 503 + Retry-After
    deadline: float = 5.0  # seconds a scoring request may take before it is answered 503
    text_workers: int = 2  # threads for text encoding and explanations (never the whole pool)


@dataclass(frozen=True)
class RecommendQuery:
    """What ``/recommend`` asks: a stored user, an ad-hoc history of item ids, or free text."""

    user_id: str | None = None
    history: list[str] | None = None
    text: list[str] | None = None
    k: int | None = None  # None: 10, or max_k when that is smaller
    exclude: list[str] = field(default_factory=list)
    exclude_history: bool = True
    explain: bool = False
    domain: str | None = None  # a joint model: recommend only this domain's items


@dataclass(frozen=True)
class Recommended:
    item_id: str
    title: str
    score: float
    explanation: str | None = None
    evidence: dict[str, Any] | None = None  # the model's evidence behind ``explanation``


@dataclass(frozen=True)
class RecommendResult:
    user_id: str | None
    items: tuple[Recommended, ...]
    history_length: int
    model: str
    model_version: str = ""  # the live model's version (changes with every swapped checkpoint)


@dataclass(frozen=True)
class Pending:
    """A recommendation under way: either its scoring ``job`` or, already, its ``result``."""

    user_id: str | None
    history: list[str]
    explain: bool
    job: ScoreJob | None = None
    result: RecommendResult | None = None
    live: LiveModel | None = None  # the model snapshot the job was queued on


@dataclass(frozen=True)
class UserView:
    user_id: str
    history: tuple[tuple[str, str], ...]  # (item id, title), oldest first, at most the window
    n_interactions: int
    interests: tuple[tuple[str, float], ...]
    counts: tuple[int, ...] = ()  # history items carrying each interest
    profile: str = ""  # the deterministic profile sentence


@dataclass(frozen=True)
class WhyView:
    item_id: str
    text: str
    source: str  # the language model whose rewrite is shown, or "evidence"
    seconds: float
    removed: int  # 1: the language model's rewrite was refused (the evidence sentence is shown)
    evidence: dict[str, Any] | None = None  # cited items, score drops, counterfactual set
