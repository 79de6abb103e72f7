"""Temporal split: one global time cut-off."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmrec.data.containers import Interactions, Sequences
from lmrec.data.errors import DataError
from lmrec.protocols.base import EvalCases, Split


@dataclass(frozen=True)
class Temporal:
    """Train on everything before ``test_cutoff``; each user's first interaction at or after it is
    that user's test target, with the user's pre-cut-off items as history.

    With ``valid_cutoff`` (< ``test_cutoff``), validation cases are built the same way at that
    earlier cut-off from pre-test data. Cut-offs may be given as quantiles of the timestamps with
    :meth:`at_quantiles`. Users with no interaction before the cut-off ("cold" users) are evaluated
    with an empty history only when ``include_cold_users`` is set.

    Leakage: none across time — training ends before every test event. The item universe is the
    whole catalogue's (an item first seen after the cut-off is in it, with no training
    interaction: a new item, which results report apart), which reveals only that it exists.
    """

    test_cutoff: float
    valid_cutoff: float | None = None
    include_cold_users: bool = False
    name: str = "temporal"

    @classmethod
    def at_quantiles(
        cls,
        data: Interactions,
        test: float = 0.9,
        valid: float | None = None,
        include_cold_users: bool = False,
    ) -> Temporal:
        ts = data.timestamps
        return cls(
            float(np.quantile(ts, test)),
            None if valid is None else float(np.quantile(ts, valid)),
            include_cold_users,
        )

    def split(self, data: Interactions) -> Split:
        if self.valid_cutoff is not None and self.valid_cutoff >= self.test_cutoff:
            raise DataError("Temporal.valid_cutoff must be earlier than test_cutoff")
        train = data.select(np.flatnonzero(data.timestamps < self.test_cutoff))
        valid_cut = self.valid_cutoff if self.valid_cutoff is not None else -np.inf
        valid = self._cases(train, valid_cut) if self.valid_cutoff is not None else _empty()
        return Split(
            self.name,
            train,
            valid,
            self._cases(data, self.test_cutoff),
            (Temporal.__doc__ or "").split("Leakage:")[1].strip(),
        )

    def _cases(self, data: Interactions, cutoff: float) -> EvalCases:
        order = data.chronological_order()
        users, items, ts = data.users[order], data.items[order], data.timestamps[order]
        after = ts >= cutoff
        first_after = after & np.concatenate([[True], (users[1:] != users[:-1]) | ~after[:-1]])
        target_rows = np.flatnonzero(first_after)
        case_users = users[target_rows]
        before = ~after
        counts = np.bincount(users[before], minlength=data.n_users)
        keep = np.ones(len(target_rows), dtype=bool)
        if not self.include_cold_users:
            keep = counts[case_users] > 0
        target_rows, case_users = target_rows[keep], case_users[keep]
        hist_by_user = Sequences(np.concatenate([[0], np.cumsum(counts)]), items[before])
        return EvalCases(case_users, items[target_rows], hist_by_user.take(case_users))


def _empty() -> EvalCases:
    return EvalCases(np.empty(0, np.int32), np.empty(0, np.int32), Sequences.from_lists([]))
