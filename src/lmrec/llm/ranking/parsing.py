"""Turn whatever an LLM wrote into an ordering of the candidates it was shown. Never raises.

Accepted shapes, tried in this order:

1. JSON anywhere in the text: a list of titles or of 1-based candidate numbers, or an object with
   such a list under any key (``{"ranking": [...]}``);
2. one item per line: numbered (``1. Title``, ``1) Title``, ``[3] Title``), bulleted, or plain.

Each piece is matched to a candidate by an exact (normalised) title, a fuzzy title match
(rapidfuzz ``WRatio`` ≥ ``min_score``), or, when it has no title, its bracketed number (``[3]``).
A title decides over the number beside it: ``[4] Some Other Title`` is not candidate 4. Unmatched pieces are
hallucinations and are dropped, repeated candidates count once, and candidates the LLM never
named follow in the order they were given (the retriever's order).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBERED = re.compile(r"^\s*(?:[-*•]\s*)?(?:\(?(\d{1,3})[.):\]]\s+|\[(\d{1,3})\]\s*)?(.*?)\s*$")
_BRACKET = re.compile(r"^\[(\d{1,3})\]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ParsedRanking:
    """Candidate positions (0-based, into the list shown), best first, and what was dropped."""

    order: tuple[int, ...]
    named: int  # how many positions came from the text (the rest completed the list)
    hallucinated: tuple[str, ...]
    duplicates: int


def normalise(title: str) -> str:
    return _SPACES.sub(" ", title.casefold().strip(" \t\"'`*.,;:")).strip()


def _json_items(text: str) -> list[object] | None:
    for opener, closer in (("[", "]"), ("{", "}")):
        start, end = text.find(opener), text.rfind(closer)
        if start < 0 or end <= start:
            continue
        try:
            data = json.loads(text[start : end + 1])
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), None)
        if isinstance(data, list):
            return list(data)
    return None


def _pieces(text: str) -> list[tuple[int | None, str]]:
    """(explicit 1-based index or None, title text) per item the LLM wrote."""
    items = _json_items(text)
    if items is not None:
        out: list[tuple[int | None, str]] = []
        for item in items:
            if isinstance(item, bool):
                continue
            if isinstance(item, int):
                out.append((item, ""))
            elif isinstance(item, str):
                out.append((int(item), "") if item.strip().isdigit() else (None, item))
            elif isinstance(item, dict):
                title = item.get("title") or item.get("item") or item.get("name")
                if isinstance(title, str):
                    out.append((None, title))
        return out
    out = []
    for line in text.splitlines():
        match = _NUMBERED.match(line)
        if match is None:
            continue
        bracket = _BRACKET.match(match.group(3))
        index = match.group(2) or (bracket.group(1) if bracket else None)
        title = _BRACKET.sub("", match.group(3)).strip()
        if title or index:
            out.append((int(index) if index else None, title))
    return out


def parse_ranking(
    text: str | None,
    candidates: Sequence[str],
    min_score: float = 85.0,
    index_base: int = 1,
) -> ParsedRanking:
    """Map ``text`` onto ``candidates`` (titles in the order shown). Always returns a full order.

    A bare number (``[3]`` or JSON ``3``) is a candidate number when the prompt numbered them
    (``index_base`` = the first number shown); a numbered line's leading ``1.`` is only its rank,
    so its title decides.
    """
    from rapidfuzz import fuzz, process

    exact: dict[str, list[int]] = {}
    for i, t in enumerate(candidates):
        exact.setdefault(normalise(t), []).append(i)
    normalised = [normalise(t) for t in candidates]
    chosen: list[int] = []
    hallucinated: list[str] = []
    duplicates = 0
    for index, title in _pieces(text or ""):
        position: int | None = None
        if title:
            key = normalise(title)
            matches = exact.get(key, [])
            if index is not None and index - index_base in matches:
                position = index - index_base  # same title twice: the number decides
            elif matches:  # same title twice, no number: the first one not yet named
                position = next((m for m in matches if m not in chosen), matches[0])
            if position is None and key:
                best = process.extractOne(key, normalised, scorer=fuzz.WRatio)
                if best is not None and best[1] >= min_score:
                    position = int(best[2])
        if position is None and index is not None and not title:
            # a bare number names a candidate; a number beside a title that matches none is an
            # invented item (an echo such as "[4] Dance with Dragons" is not candidate 4)
            candidate = index - index_base
            position = candidate if 0 <= candidate < len(candidates) else None
        if position is None:
            if title or index is not None:
                hallucinated.append(title or str(index))
            continue
        if position in chosen:
            duplicates += 1
            continue
        chosen.append(position)
    named = len(chosen)
    chosen += [i for i in range(len(candidates)) if i not in set(chosen)]
    return ParsedRanking(tuple(chosen), named, tuple(hallucinated), duplicates)
