"""Candidate-set protocols: rank only a small per-user set that contains the target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Vocabulary
from lmrec.data.errors import DataFormatError
from lmrec.protocols.base import EvalCases


@dataclass(frozen=True)
class CandidateFile:
    """Per-user candidate lists in LLMRank's format: ``user_id<TAB>c1 c2 … cN`` (original ids)."""

    path: Path
    users: tuple[str, ...]
    lists: tuple[tuple[str, ...], ...]

    @classmethod
    def read(cls, path: str | Path) -> CandidateFile:
        path = Path(path)
        users: list[str] = []
        lists: list[tuple[str, ...]] = []
        seen: dict[str, int] = {}
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                user, sep, rest = line.partition("\t")
                if not sep or not rest.strip():
                    raise DataFormatError(path, "expected 'user_id<TAB>item item …'", line=n)
                if user in seen:
                    raise DataFormatError(
                        path,
                        f"user {user!r} listed twice (first on line {seen[user]})",
                        line=n,
                        column=1,
                    )
                seen[user] = n
                users.append(user)
                lists.append(tuple(rest.split()))
        if not users:
            raise DataFormatError(path, "no candidate lists in file", line=1)
        return cls(path, tuple(users), tuple(lists))


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
        for line, (user, listed) in enumerate(zip(self.file.users, self.file.lists, strict=True)):
            row = row_of_user.get(user)
            if row is None:
                continue
            target = int(cases.targets[row])
            idx = items.lookup(listed)
            if (idx < 0).any():
                bad = listed[int(np.flatnonzero(idx < 0)[0])]
                raise DataFormatError(
                    self.file.path,
                    f"candidate item {bad!r} is not in the dataset's item vocabulary",
                    line=line + 1,
                )
            negatives = idx[idx != target][: self.n_negatives]
            if len(negatives) < self.n_negatives:
                raise DataFormatError(
                    self.file.path,
                    f"user {user!r} has only {len(negatives)} "
                    f"candidates besides the target; need {self.n_negatives}",
                    line=line + 1,
                )
            cand[len(rows)] = rng.permutation(np.append(negatives, target))
            rows.append(row)
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
