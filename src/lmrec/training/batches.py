"""Fixed-width batches from CSR sequences, with no Python loop over users.

Item indices are shifted by one (0 = padding) and rows are left-padded, so the most recent item is
in the last column (the convention of :mod:`lmrec.models.sequential.networks`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Sequences

Matrix = npt.NDArray[np.int64]
MIN_SPANS = 8  # the fewest length-sorted runs an epoch's batches are cut from (see batch_order)


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
    def lengths(self) -> npt.NDArray[np.int64]:
        """Items read by each row (its width without padding)."""
        lengths: npt.NDArray[np.int64] = (self.inputs > 0).sum(axis=1)
        return lengths

    @property
    def target_counts(self) -> npt.NDArray[np.int64]:
        """Targets of each row (its positions with a next item)."""
        counts: npt.NDArray[np.int64] = (self.targets > 0).sum(axis=1)
        return counts

    @property
    def n_targets(self) -> int:
        return int(self.target_counts.sum())

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

    def segments(self, bounds: Sequence[int]) -> npt.NDArray[np.int64]:
        """The item range each row lies in, for ranges ``bounds[s] ≤ item < bounds[s + 1]``
        (the domains of a joint model); raises ValueError on a row with items of two ranges."""
        edges = np.asarray(bounds[1:-1], dtype=np.int64)
        known = np.concatenate([self.inputs, self.targets], axis=1)
        low = np.where(known > 0, known, np.iinfo(np.int64).max).min(axis=1) - 1
        high = known.max(axis=1) - 1
        first = np.searchsorted(edges, low, side="right")
        crossing = np.flatnonzero(first != np.searchsorted(edges, high, side="right"))
        if len(crossing):
            raise ValueError(
                f"training row {int(crossing[0])} holds items {int(low[crossing[0]])} and "
                f"{int(high[crossing[0]])}, which lie in different item ranges {list(bounds)}"
            )
        segment: npt.NDArray[np.int64] = first.astype(np.int64)
        return segment

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


def batch_order(
    lengths: npt.NDArray[np.int64],
    batch_size: int,
    rng: np.random.Generator,
    bucket: int = 0,
    groups: npt.NDArray[np.int64] | None = None,
) -> list[npt.NDArray[np.int64]]:
    """The row indices of each batch of one epoch, in the order they train.

    Rows are shuffled. With ``bucket`` > 0, every run of ``bucket`` batches' worth of shuffled rows
    is sorted by length before it is cut into batches, and the batches are shuffled again: a batch
    is padded to its longest row, so this removes most padding (Amazon Games at batch 128: 7.3x
    fewer cells) while every batch still draws from a random ``bucket``-batch sample. A run is
    shortened to leave at least ``MIN_SPANS`` runs per epoch: with one run (ML-1M has 48 batches)
    every epoch would repeat nearly the same batches. With ``groups``, no batch mixes rows of two
    groups.
    """
    order = rng.permutation(len(lengths))
    parts = [order]
    if groups is not None:
        order = order[np.argsort(groups[order], kind="stable")]
        cuts = np.flatnonzero(np.diff(groups[order])) + 1
        parts = np.split(order, cuts)
    batches: list[npt.NDArray[np.int64]] = []
    for part in parts:
        n_batches = -(-len(part) // batch_size)
        # at least MIN_SPANS spans per part, so a small dataset's batches change between epochs
        span = batch_size * min(bucket, -(-n_batches // MIN_SPANS)) if bucket else len(part) or 1
        for start in range(0, len(part), span):
            chunk = part[start : start + span]
            if bucket:
                chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass(frozen=True)
class LossWeights:
    """The factor each batch's mean loss is multiplied by.

    Bucketed batches differ in size, so each is weighted by its targets over its group's mean
    targets per batch: the batches of each domain of a joint model weigh one on average, as they
    would alone. ``balance`` < 1 moves a domain's weight towards its share of all targets: one
    mean over all rows (``balance`` 0) gives ML-1M's batches (107 targets a row at max_len 200:
    weight 6.4) 18 times the weight of Amazon Games' (5.7 a row: weight 0.35), so Games barely
    trains; at 1 the 48 ML-1M batches of an epoch are swamped by Games' 395.
    """

    per_batch: npt.NDArray[np.float64]  # mean targets per batch of each group
    domain: npt.NDArray[np.float64]  # each group's factor
    bucketed: bool

    @classmethod
    def of(
        cls,
        rows: TrainingRows,
        batch_size: int,
        groups: npt.NDArray[np.int64] | None,
        bucketed: bool,
        balance: float = 1.0,
    ) -> LossWeights:
        if groups is None:
            groups = np.zeros(len(rows), dtype=np.int64)
        n_batches = np.maximum(np.ceil(np.bincount(groups) / batch_size), 1)
        per_batch = np.bincount(groups, weights=rows.target_counts) / n_batches
        overall = rows.n_targets / max(math.ceil(len(rows) / batch_size), 1)
        return cls(per_batch, (per_batch / overall) ** (1.0 - balance), bucketed)

    def __call__(self, group: int, targets: int) -> float:
        """The weight of a batch of ``group`` with ``targets`` targets."""
        weight = float(self.domain[group])
        return weight * targets / float(self.per_batch[group]) if self.bucketed else weight
