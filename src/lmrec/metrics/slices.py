"""Results broken down by how much the model had seen: the target item's training count
(``popularity``; 0 = a new item) and the user's history length (``history``).

Every evaluation reports ``warm`` (the target had training interactions) and ``new`` (it had
none) cases; ``--by popularity,history`` adds the finer cells. Each cell carries its number of
cases and the standard error of its mean, and the cells of one breakdown add up to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.errors import ConfigError
from lmrec.metrics.ranking import hit_from_ranks, ndcg_from_ranks

# (label, lowest, highest) — highest None: no upper bound
Bins = tuple[tuple[str, int, int | None], ...]
NEWNESS: Bins = (("warm", 1, None), ("new", 0, 0))
POPULARITY: Bins = (
    ("0 (new)", 0, 0),
    ("1-4", 1, 4),
    ("5-19", 5, 19),
    ("20-99", 20, 99),
    ("100+", 100, None),
)
HISTORY: Bins = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2-4", 2, 4),
    ("5-9", 5, 9),
    ("10-49", 10, 49),
    ("50+", 50, None),
)
BREAKDOWNS = {"popularity": POPULARITY, "history": HISTORY}
SLICE_K = 10


@dataclass(frozen=True)
class SliceCell:
    """NDCG@10 and HR@10 (with standard errors) of the cases in one cell."""

    label: str
    cases: int
    ndcg: float
    ndcg_se: float
    hr: float
    hr_se: float

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "cases": self.cases,
            f"ndcg@{SLICE_K}": self.ndcg,
            f"ndcg@{SLICE_K}_se": self.ndcg_se,
            f"hr@{SLICE_K}": self.hr,
            f"hr@{SLICE_K}_se": self.hr_se,
        }


def mean_se(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The mean and its standard error (0 for fewer than two values)."""
    if not len(values):
        return 0.0, 0.0
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return float(values.mean()), se


def cells(
    ranks: npt.NDArray[np.float64], values: npt.NDArray[np.int64], bins: Bins
) -> list[SliceCell]:
    """One cell per bin that holds a case, in bin order."""
    ndcg, hit = ndcg_from_ranks(ranks, SLICE_K), hit_from_ranks(ranks, SLICE_K)
    out = []
    for label, low, high in bins:
        inside = (values >= low) & (values <= (np.iinfo(np.int64).max if high is None else high))
        if inside.any():
            n_mean, n_se = mean_se(ndcg[inside].astype(np.float64))
            h_mean, h_se = mean_se(hit[inside].astype(np.float64))
            out.append(SliceCell(label, int(inside.sum()), n_mean, n_se, h_mean, h_se))
    return out


def parse_breakdowns(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"popularity,history"`` (or a list) as checked breakdown names."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(p.strip() for p in parts if p.strip())
    unknown = [n for n in names if n not in BREAKDOWNS]
    if unknown:
        raise ConfigError(f"unknown breakdown {unknown[0]!r}; choose from {', '.join(BREAKDOWNS)}")
    return names


def slice_report(
    ranks: npt.NDArray[np.float64],
    target_counts: npt.NDArray[np.int64],
    history_lengths: npt.NDArray[np.int64],
    by: Sequence[str] = (),
) -> dict[str, list[dict[str, Any]]]:
    """``{"newness": cells, "popularity": cells, "history": cells}`` (the last two when asked
    for) as JSON-ready rows; ``target_counts`` are the targets' training counts."""
    values = {"newness": target_counts, "popularity": target_counts, "history": history_lengths}
    out = {"newness": [c.to_json() for c in cells(ranks, target_counts, NEWNESS)]}
    for name in by:
        out[name] = [c.to_json() for c in cells(ranks, values[name], BREAKDOWNS[name])]
    return out
