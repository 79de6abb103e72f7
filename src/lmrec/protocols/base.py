"""What every evaluation protocol produces: a :class:`Split` of train data and evaluation cases."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Interactions, Sequences, frozen_array
from lmrec.data.errors import DataError


@dataclass(frozen=True)
class EvalCases:
    """One evaluation step per row: user index, held-out target item, the history the model sees.

    ``candidates`` is ``None`` for full ranking (every item of the vocabulary competes) or an
    ``(n_cases, C)`` array of item indices, rows padded with ``-1``; a row need not contain its
    target (that case then scores 0).
    """

    users: npt.NDArray[np.int32]
    targets: npt.NDArray[np.int32]
    histories: Sequences
    candidates: npt.NDArray[np.int32] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", frozen_array(self.users, np.int32))
        object.__setattr__(self, "targets", frozen_array(self.targets, np.int32))
        if self.candidates is not None:
            object.__setattr__(self, "candidates", frozen_array(self.candidates, np.int32))
            if self.candidates.ndim != 2 or len(self.candidates) != len(self.users):
                raise DataError("EvalCases.candidates must be (n_cases, C)")
            if len(self.candidates) and self.candidates.min() < -1:
                raise DataError("EvalCases.candidates holds an index below -1 (the padding)")
        if not len(self.users) == len(self.targets) == len(self.histories):
            raise DataError("EvalCases arrays must have the same length")

    def __len__(self) -> int:
        return len(self.users)

    def select(self, rows: npt.ArrayLike) -> EvalCases:
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return EvalCases(
            self.users[rows],
            self.targets[rows],
            self.histories.take(rows),
            None if self.candidates is None else self.candidates[rows],
        )

    def with_candidates(self, candidates: npt.NDArray[np.int32]) -> EvalCases:
        return replace(self, candidates=candidates)

    def truncate_histories(self, max_len: int) -> EvalCases:
        return replace(self, histories=self.histories.truncate(max_len))


@dataclass(frozen=True)
class Split:
    """Training interactions plus validation and test cases, and how they were made."""

    protocol: str
    train: Interactions
    valid: EvalCases
    test: EvalCases
    leakage: str

    def cases(self, split: str) -> EvalCases:
        if split == "valid":
            return self.valid
        if split == "test":
            return self.test
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")


class SplitProtocol(Protocol):
    """A protocol turns an interaction log into a :class:`Split`."""

    @property
    def name(self) -> str: ...

    def split(self, data: Interactions) -> Split: ...
