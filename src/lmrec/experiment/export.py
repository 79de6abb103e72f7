"""Batch export of rankings for independent checking: ``user_id<TAB>item item …`` per line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Vocabulary
from lmrec.protocols.base import EvalCases


def write_rankings(
    path: Path,
    cases: EvalCases,
    top: npt.NDArray[np.int64],
    items: Vocabulary,
    users: Vocabulary,
) -> int:
    """Write one line per case (original ids, best first; ``-1`` padding dropped); returns lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
        for user, row in zip(cases.users, top, strict=True):
            ranked = items.decode(row[row >= 0])
            out.write(f"{users.ids[user]}\t{' '.join(ranked)}\n")
    os.replace(tmp, path)
    return len(cases)
