"""Fixed-width batches from CSR sequences, with no Python loop over users.

Item indices are shifted by one (0 = padding) and rows are left-padded, so the most recent item is
in the last column (the convention of :mod:`lmrec.models.networks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Sequences

Matrix = npt.NDArray[np.int64]


def pad_left(seqs: Sequences, width: int) -> Matrix:
    """``(len(seqs), width)`` matrix of the last ``width`` items of each row, shifted by one."""
    cut = seqs.truncate(width)
    out = np.zeros((len(cut), width), dtype=np.int64)
    cols = width - 1 - cut.steps_back()
    out[cut.row_ids(), cols] = cut.items.astype(np.int64) + 1
    return out


def trim(matrix: Matrix) -> Matrix:
    """Drop leading columns that are padding in every row (keeps at least one column)."""
    used = np.flatnonzero(matrix.any(axis=0))
    start = int(used[0]) if len(used) else matrix.shape[1] - 1
    return matrix[:, start:]


@dataclass(frozen=True)
class TrainingRows:
    """One training row per sequence: inputs and next-item targets (0 = no loss at that position).

    A sequence ``a_0 … a_{n-1}`` gives inputs ``a_0 … a_{n-2}`` and targets ``a_1 … a_{n-1}``:
    every position is trained at once, as in the SASRec paper (not one sample per prefix).
    """

    inputs: Matrix
    targets: Matrix

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def n_targets(self) -> int:
        return int((self.targets > 0).sum())

    @classmethod
    def from_sequences(cls, seqs: Sequences, max_len: int, windows: bool = False) -> TrainingRows:
        """Rows from every sequence with at least two items, each cut to its last ``max_len + 1``;
        with ``windows`` the older part of a longer sequence becomes further rows (every item is
        a target exactly once, each row reads at most ``max_len`` items)."""
        keep = seqs.take(np.flatnonzero(seqs.lengths >= 2))
        if windows:
            keep = split_windows(keep, max_len)
        padded = pad_left(keep, max_len + 1)
        return cls(padded[:, :-1], np.where(padded[:, :-1] > 0, padded[:, 1:], 0))

    def batch(self, rows: npt.NDArray[np.int64]) -> tuple[Matrix, Matrix]:
        """Inputs and targets of ``rows``, trimmed to the longest sequence among them."""
        inputs = trim(self.inputs[rows])
        return inputs, self.targets[rows][:, -inputs.shape[1] :]


def split_windows(seqs: Sequences, max_len: int) -> Sequences:
    """Cut each row into windows of ``max_len + 1`` items from the end, consecutive windows sharing
    one item (the last input of one is the first of the next), so each item is a target once."""
    n = seqs.lengths
    count = np.maximum(np.ceil((n - 1) / max_len), 1).astype(np.int64)
    row = np.repeat(np.arange(len(seqs)), count)
    back = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)  # 0 = last window
    ends = seqs.indptr[row + 1] - back * max_len
    starts = np.maximum(seqs.indptr[row], ends - max_len - 1)
    lengths = ends - starts
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    flat = seqs.items[np.arange(indptr[-1]) + np.repeat(starts - indptr[:-1], lengths)]
    return Sequences(indptr, flat)
