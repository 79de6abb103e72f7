"""Cold items: leave-one-out with a seeded share of the test targets held out as new items."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Interactions, Sequences
from lmrec.data.errors import DataError
from lmrec.protocols.base import EvalCases, Split
from lmrec.protocols.leave_one_out import LeaveOneOut


@dataclass(frozen=True)
class ColdItems:
    """Leave-one-out, then a seeded ``share`` of the distinct test targets becomes *new items*:
    every interaction with them is removed from training, from validation (cases whose target is
    one are dropped) and from every history; test cases keep their targets, so the cases whose
    target is held out are new-item cases and the others warm cases of the same run. A case
    whose history is empty after the removal is dropped.

    Leakage: leave-one-out's (the split is per user, not in time). A held-out item's catalogue
    text is visible to every model — that is all a new item has; its interactions are not. The
    held-out items are drawn among test targets, so they are items someone wanted next, as
    items in a live catalogue are.
    """

    share: float = 0.1
    seed: int = 0
    name: str = "cold-items"

    def held_out(self, test_targets: npt.NDArray[np.int32], n_items: int) -> npt.NDArray[np.bool_]:
        """One flag per item: True for the items held out (``share`` of distinct targets)."""
        if not 0.0 < self.share < 1.0:
            raise DataError(f"cold-items: share must be between 0 and 1, got {self.share}")
        targets = np.unique(test_targets)
        n = max(1, round(self.share * len(targets)))
        chosen = np.random.default_rng(self.seed).choice(targets, size=n, replace=False)
        flags = np.zeros(n_items, dtype=bool)
        flags[chosen] = True
        return flags

    def split(self, data: Interactions) -> Split:
        base = LeaveOneOut().split(data)
        if not len(base.test):
            raise DataError("cold-items: no user has two interactions, so there are no test cases")
        cold = self.held_out(base.test.targets, data.n_items)
        train = base.train.select(~cold[base.train.items])
        valid = _without(base.valid.select(~cold[base.valid.targets]), cold)
        test = _without(base.test, cold)
        return Split(
            self.name,
            train,
            valid,
            test,
            (ColdItems.__doc__ or "").split("Leakage:")[1].strip(),
        )


def _without(cases: EvalCases, cold: npt.NDArray[np.bool_]) -> EvalCases:
    """The cases with held-out items removed from their histories; empty histories dropped."""
    hist = cases.histories
    keep = ~cold[hist.items]
    counts = np.bincount(hist.row_ids()[keep], minlength=len(hist)).astype(np.int64)
    indptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(counts)])
    pruned = EvalCases(cases.users, cases.targets, Sequences(indptr, hist.items[keep]))
    return pruned.select(counts > 0)
