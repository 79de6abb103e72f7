"""Leave-one-out: the protocol of SASRec, RecBole and LLMRank papers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Interactions, Sequences
from lmrec.protocols.base import EvalCases, Split


@dataclass(frozen=True)
class LeaveOneOut:
    """Per user, sort by timestamp (stable: ties keep file order); the last item is the test target,
    the second to last the validation target, everything before is training.

    Users with two interactions get a test case but no validation case; users with one interaction
    only train. The validation history is the training history; the **test history includes the
    validation item** (as in the papers).

    Leakage: the split is per user, not in time, so training rows of one user can be later than
    another user's test target — models see "the future" of the global timeline. Popularity and
    co-occurrence learned from training therefore carry information from after many test events.
    Use :class:`~lmrec.protocols.temporal.Temporal` for an honest time cut.
    """

    name: str = "loo"

    def split(self, data: Interactions) -> Split:
        order = data.chronological_order()
        seqs = data.sequences()
        n = seqs.lengths
        starts = seqs.indptr[:-1]
        rank = np.arange(len(order)) - np.repeat(starts, n)
        held_out = np.where(n >= 3, 2, np.where(n == 2, 1, 0))
        train_rows = order[rank < np.repeat(n - held_out, n)]
        test_users = np.flatnonzero(n >= 2).astype(np.int32)
        valid_users = np.flatnonzero(n >= 3).astype(np.int32)
        return Split(
            protocol=self.name,
            train=data.select(np.sort(train_rows)),
            valid=_cases(seqs, valid_users, offset=2),
            test=_cases(seqs, test_users, offset=1),
            leakage=(LeaveOneOut.__doc__ or "").split("Leakage:")[1].strip(),
        )


def _cases(seqs: Sequences, users: npt.NDArray[np.int32], offset: int) -> EvalCases:
    """For each user, target = item ``offset`` from the end, history = everything before it."""
    ends = seqs.indptr[users + 1] - offset
    targets = seqs.items[ends]
    starts = seqs.indptr[users]
    lengths = ends - starts
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    flat = seqs.items[np.arange(indptr[-1]) + np.repeat(starts - indptr[:-1], lengths)]
    return EvalCases(users, targets, Sequences(indptr, flat))
