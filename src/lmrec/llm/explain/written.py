"""Explanations and profiles written by a language model, grounded in what the user did.

The model is shown the user's recent items, the recommended item and what they share, and asked
for a sentence or two. Its text is then checked: every title it names (in quotes, or any
catalogue title that appears in it) must be in the user's history or among the recommendations;
a sentence that names any other title is removed, and the removals are counted. What remains is
never an invention about which items the user chose.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lmrec.llm.ranking.parsing import normalise
from lmrec.llm.ranking.prompts import Domain
from lmrec.llm.runtime.backends import GenerationParams, LLMBackend

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_QUOTED = re.compile(r"[\"“”«]([^\"“”«»]{2,80})[\"“”»]")
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
MIN_TITLE_CHARS = 8  # shorter catalogue titles ("Heat") are ordinary words in running text


@dataclass(frozen=True)
class Written:
    """A grounded text: ``removed`` sentences named a title the user never saw."""

    text: str
    removed: int
    grounded: int  # titles named that are in the history or the recommendations
    seconds: float
    cached: bool
    error: str | None = None


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


def write(
    backend: LLMBackend,
    grounding: Grounding,
    prompt: str,
    allowed: Sequence[str],
    max_tokens: int = 80,
) -> Written:
    start = time.perf_counter()
    reply = backend.complete([prompt], GenerationParams(max_tokens=max_tokens))[0]
    seconds = time.perf_counter() - start
    if reply.error is not None:
        return Written("", 0, 0, seconds, reply.cached, reply.error)
    text, removed, grounded = grounding.check(reply.text, allowed)
    return Written(text, removed, grounded, seconds, reply.cached)


def explanation_prompt(
    history: Sequence[str], item: str, shared: Sequence[str], domain: Domain
) -> str:
    recent = "; ".join(f'"{t}"' for t in history[-8:])
    common = f" It shares {', '.join(shared[:4])} with them." if shared else ""
    return (
        f"I {domain.verb} these {domain.noun}s recently: {recent}.\n"
        f'You recommend the {domain.noun} "{item}" to me.{common}\n'
        f'In one or two short sentences, say why I might like "{item}". Name only {domain.noun}s '
        "from my list."
    )


def profile_prompt(history: Sequence[str], interests: Sequence[str], domain: Domain) -> str:
    recent = "; ".join(f'"{t}"' for t in history[-20:])
    tops = f"\nTheir most frequent attributes: {', '.join(interests)}." if interests else ""
    return (
        f"A user {domain.verb} these {domain.noun}s, oldest first: {recent}.{tops}\n"
        f"In two sentences, describe this user's taste in {domain.noun}s. Name only {domain.noun}s "
        "from the list."
    )
