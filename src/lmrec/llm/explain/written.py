"""Which catalogue titles a text names, and whether each is allowed: the title check of a
language model's rewrite (:mod:`lmrec.llm.explain.rewrite`). Every title named (in quotes, or
any catalogue title that appears in it) must be one the evidence cites; a sentence that names
any other title is counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lmrec.llm.ranking.parsing import normalise

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_QUOTED = re.compile(r"[\"“”«]([^\"“”«»]{2,80})[\"“”»]")
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
MIN_TITLE_CHARS = 8  # shorter catalogue titles ("Heat") are ordinary words in running text


def _key(title: str) -> str:
    return normalise(_YEAR.sub("", title))


class Grounding:
    """Finds the titles a text names and whether each is allowed."""

    def __init__(self, catalogue: Iterable[str]) -> None:
        keys = {_key(t) for t in catalogue}
        self._catalogue = sorted((k for k in keys if len(k) >= MIN_TITLE_CHARS), key=len)

    def check(self, text: str, allowed: Iterable[str]) -> tuple[str, int, int]:
        """The text without ungrounded sentences, how many were removed and titles grounded."""
        from rapidfuzz import fuzz, process

        ok = sorted({_key(t) for t in allowed})
        kept: list[str] = []
        removed = grounded = 0
        for sentence in _SENTENCE.split(text.strip()):
            lowered = normalise(sentence)
            named = {_key(q) for q in _QUOTED.findall(sentence)}
            named |= {k for k in self._catalogue if re.search(rf"\b{re.escape(k)}\b", lowered)}
            bad = [
                n
                for n in named
                if n not in ok
                and (process.extractOne(n, ok, scorer=fuzz.WRatio) or ("", 0.0))[1] < 90
            ]
            if bad:
                removed += 1
            elif sentence:
                kept.append(sentence)
                grounded += len(named)
        return " ".join(kept).strip(), removed, grounded
