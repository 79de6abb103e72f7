"""Candidate-set protocols: rank only a small per-user set of items.

:class:`Candidates` is LLMRank's recipe (19 + the target, always present); :class:`CandidateSet`
is the general one: any size, target not guaranteed, duplicates dropped, seen items competing or
masked. Rows shorter than the widest are padded with ``-1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from lmrec.data.atomic import decode_utf8
from lmrec.data.checks import id_problem
from lmrec.data.containers import Vocabulary
from lmrec.data.errors import DataFormatError
from lmrec.protocols.base import EvalCases


@dataclass(frozen=True)
class CandidateFile:
    """Per-user candidate lists in LLMRank's format: ``user_id<TAB>c1 c2 … cN`` (original ids)."""

    path: Path
    users: tuple[str, ...]
    lists: tuple[tuple[str, ...], ...]
    line_numbers: tuple[int, ...] = ()  # the file line of each list (blank lines skipped)

    @classmethod
    def read(cls, path: str | Path) -> CandidateFile:
        path = Path(path)
        users: list[str] = []
        lists: list[tuple[str, ...]] = []
        numbers: list[int] = []
        seen: dict[str, int] = {}
        if not path.is_file():
            raise DataFormatError(path, "no such candidate file")
        text = decode_utf8(path, path.read_bytes())
        for n, line in enumerate(text.split("\n"), start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            user, sep, rest = line.partition("\t")
            if not sep or not rest.strip():
                raise DataFormatError(path, "expected 'user_id<TAB>item item …'", line=n)
            problem = id_problem(user)
            if problem:
                raise DataFormatError(path, f"user id {user!r} {problem}", line=n, column=1)
            if user in seen:
                raise DataFormatError(
                    path,
                    f"user {user!r} listed twice (first on line {seen[user]})",
                    line=n,
                    column=1,
                )
            seen[user] = n
            numbers.append(n)
            users.append(user)
            lists.append(tuple(rest.split()))
        if not users:
            raise DataFormatError(path, "no candidate lists in file", line=1)
        return cls(path, tuple(users), tuple(lists), tuple(numbers))

    def indices(self, row: int, items: Vocabulary) -> npt.NDArray[np.int32]:
        """Distinct item indices of list ``row``, in the file's order (a repeated item counts
        once, at its first place: every candidate protocol ranks distinct items); an unknown item
        is an error naming its line."""
        listed = self.lists[row]
        idx = items.lookup(listed)
        if (idx < 0).any():
            bad = listed[int(np.flatnonzero(idx < 0)[0])]
            raise DataFormatError(
                self.path,
                f"candidate item {bad!r} is not in the dataset's item vocabulary",
                line=self.line_numbers[row],
            )
        _, first = np.unique(idx, return_index=True)
        return idx[np.sort(first)].astype(np.int32)

    def repeats(self, row: int) -> int:
        """How many entries of list ``row`` repeat an earlier one."""
        return len(self.lists[row]) - len(set(self.lists[row]))


@dataclass(frozen=True)
class Candidates:
    """Attach ``n_negatives`` candidates + the target (shuffled with ``seed``) to evaluation cases.

    From a file (LLMRank's recipe): take the user's list, drop the target if present, keep the first
    ``n_negatives``, add the target, shuffle. Users absent from the file are not evaluated.
    Sampled: ``n_negatives`` items drawn uniformly without replacement from the items that are
    neither the target nor in the user's history.

    Histories are cut to the most recent ``max_history`` items (LLMRank: 50).

    Leakage: none beyond the underlying split's. Candidate sets make ranking far easier than full
    ranking (random NDCG@10 is 0.2272 with 20 candidates), so figures are not comparable with full
    ranking; and the target is always present, which no deployed system can assume.
    """

    n_negatives: int = 19
    seed: int = 0
    max_history: int | None = 50
    file: CandidateFile | None = None

    @property
    def name(self) -> str:
        source = self.file.path.name if self.file else "sampled"
        return f"candidates-{self.n_negatives + 1}({source}, seed={self.seed})"

    def apply(self, cases: EvalCases, users: Vocabulary, items: Vocabulary) -> EvalCases:
        """The cases restricted to users with candidates, each carrying its candidate row."""
        if self.max_history is not None:
            cases = cases.truncate_histories(self.max_history)
        if self.file is None:
            return cases.with_candidates(self._sample(cases, len(items)))
        return self._from_file(cases, users, items)

    def _from_file(self, cases: EvalCases, users: Vocabulary, items: Vocabulary) -> EvalCases:
        assert self.file is not None
        row_of_user = {u: i for i, u in enumerate(users.decode(cases.users))}
        rows: list[int] = []
        cand = np.empty((len(self.file.users), self.n_negatives + 1), dtype=np.int32)
        rng = np.random.default_rng(self.seed)
        for line, user in enumerate(self.file.users):
            row = row_of_user.get(user)
            if row is None:
                continue
            target = int(cases.targets[row])
            idx = self.file.indices(line, items)
            negatives = idx[idx != target][: self.n_negatives]
            if len(negatives) < self.n_negatives:
                repeats = self.file.repeats(line)
                dropped = f" ({repeats} repeated entries count once)" if repeats else ""
                raise DataFormatError(
                    self.file.path,
                    f"user {user!r} has only {len(negatives)} distinct "
                    f"candidates besides the target{dropped}; need {self.n_negatives}",
                    line=self.file.line_numbers[line],
                )
            cand[len(rows)] = rng.permutation(np.append(negatives, target))
            rows.append(row)
        if not rows:
            raise DataFormatError(
                self.file.path, "no user of the evaluated split has a candidate list here", line=1
            )
        return cases.select(np.asarray(rows, dtype=np.int64)).with_candidates(cand[: len(rows)])

    def _sample(self, cases: EvalCases, n_items: int) -> npt.NDArray[np.int32]:
        rng = np.random.default_rng(self.seed)
        out = np.empty((len(cases), self.n_negatives + 1), dtype=np.int32)
        for i in range(len(cases)):
            banned = np.union1d(cases.histories[i], [cases.targets[i]])
            pool = np.setdiff1d(np.arange(n_items, dtype=np.int32), banned, assume_unique=True)
            if len(pool) < self.n_negatives:
                raise ValueError(
                    f"only {len(pool)} items available as negatives for case {i}; "
                    f"need {self.n_negatives}"
                )
            negatives = rng.choice(pool, size=self.n_negatives, replace=False)
            out[i] = rng.permutation(np.append(negatives, cases.targets[i]))
        return out


PAD = -1


@dataclass(frozen=True)
class CandidateSet:
    """Rank each user's listed candidates, as the file gives them.

    Per user: the listed items with duplicates dropped (first occurrence kept), cut to the first
    ``size`` (``0`` keeps all). With ``ensure_target`` a missing target replaces the last kept
    item (or is appended when the list is short) and the row is shuffled with ``seed``, so its
    position says nothing; otherwise the file's order stays and a user whose target is missing
    scores 0 but still counts. ``seen="mask"`` takes the user's history items out of the ranking
    (the target never); ``"compete"`` leaves them in. Users absent from the file are not evaluated.
    Histories are cut to the most recent ``max_history`` items (``None`` keeps all).
    """

    file: CandidateFile
    size: int = 0
    ensure_target: bool = False
    seen: Literal["compete", "mask"] = "compete"
    seed: int = 0
    max_history: int | None = None

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(
                f"candidate set size must be 0 (all listed) or positive, got {self.size}"
            )
        if self.seen not in ("compete", "mask"):
            raise ValueError(f"seen must be 'compete' or 'mask', got {self.seen!r}")

    @property
    def name(self) -> str:
        size = self.size or "all"
        return f"candidates({self.file.path.name}, size={size}, ensure_target={self.ensure_target})"

    def apply(self, cases: EvalCases, users: Vocabulary, items: Vocabulary) -> EvalCases:
        if self.max_history is not None:
            cases = cases.truncate_histories(self.max_history)
        row_of_user = {u: i for i, u in enumerate(users.decode(cases.users))}
        rng = np.random.default_rng(self.seed)
        rows: list[int] = []
        lists: list[npt.NDArray[np.int32]] = []
        for line, user in enumerate(self.file.users):
            row = row_of_user.get(user)
            if row is None:
                continue
            kept = self.file.indices(line, items)
            if self.size:
                kept = kept[: self.size]
            target = int(cases.targets[row])
            if self.ensure_target and target not in kept:
                full = self.size and len(kept) >= self.size
                kept = np.append(kept[:-1] if full else kept, np.int32(target))
                kept = rng.permutation(kept)
            rows.append(row)
            lists.append(kept)
        if not rows:
            raise DataFormatError(
                self.file.path, "no user of the evaluated split has a candidate list here", line=1
            )
        width = max(len(c) for c in lists)
        cand = np.full((len(rows), width), PAD, dtype=np.int32)
        for i, c in enumerate(lists):
            cand[i, : len(c)] = c
        return cases.select(np.asarray(rows, dtype=np.int64)).with_candidates(cand)


def candidate_hit_rate(cases: EvalCases) -> float | None:
    """Share of cases whose target is among their candidates (the best any re-ranker can reach);
    ``None`` under full ranking."""
    if cases.candidates is None:
        return None
    return float((cases.candidates == cases.targets[:, None]).any(axis=1).mean())
