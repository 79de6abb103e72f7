"""A language model may only *rewrite* an evidence sentence, never add to it.

The deterministic sentence (:meth:`Explainer.from_evidence`) is true by construction. A rewrite
is shown only when it passes every check — it keeps every cited title and the recommended one,
names no other catalogue title, has no first person or assistant talk ("I'm glad", "as an AI",
a question to the user), and fits the length; otherwise the deterministic sentence is shown and
the reason is kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lmrec.llm.explain.written import Grounding
from lmrec.llm.ranking.parsing import normalise
from lmrec.llm.runtime.backends import GenerationParams, LLMBackend

MAX_CHARS = 240
# first person, the assistant's voice, hedging and questions: none of it is evidence
ASSISTANT_TALK = re.compile(
    r"\b(i|i'm|i've|i'd|i'll|im|me|my|mine|we|we're|our|us)\b|as an ai|language model|"
    r"\bglad\b|happy to|\bhope\b|\bsorry\b|\bassist|\?",
    re.IGNORECASE,
)


ECHO = re.compile(r"\brewrit|\breason:|recommendation reason|friendly sentence", re.IGNORECASE)


@dataclass(frozen=True)
class Rewrite:
    """What is shown (``text``), whether it is the model's rewrite, and why not."""

    text: str
    accepted: bool
    reason: str | None
    reply: str
    seconds: float


def rewrite_prompt(reason: str) -> str:
    return (
        "Rewrite each recommendation reason as one short, friendly sentence to the user "
        '(say "you"). Keep every title in quotes exactly as written and add no other titles, '
        "facts or opinions.\n\n"
        'Reason: "Toy Story": because you watched "Aladdin" and "Babe"\n'
        'Rewritten: You watched "Aladdin" and "Babe", so "Toy Story" could be your next one.\n\n'
        f"Reason: {reason}\n"
        "Rewritten:"
    )


# "you watched X": a clause that says the user already has the recommended item swaps the roles
HAD = re.compile(
    r"\byou(?:'ve| have)?\s+(?:already\s+)?(?:watched|bought|played|seen|saw|liked|enjoyed|"
    r"loved|interacted with|read)\b",
    re.IGNORECASE,
)
CLAUSE = re.compile(
    r"[.!?](?:\s|$)|,|;|:|—|\bso\b|\bsince\b|\bbecause\b|\bthat'?s why\b", re.IGNORECASE
)
TRAILING_ARTICLE = re.compile(r"^(.*), (the|a|an)( \(\d{4}\))?$", re.IGNORECASE)


def spellings(title: str) -> set[str]:
    """A title as catalogues write it ("Crow, The") and as sentences do ("The Crow")."""
    out = {normalise(title)}
    moved = TRAILING_ARTICLE.match(title.strip())
    if moved:
        out.add(normalise(f"{moved.group(2)} {moved.group(1)}"))
    return out


def problem(
    text: str,
    titles: Sequence[str],
    grounding: Grounding,
    max_chars: int = MAX_CHARS,
    attributes: Collection[str] = (),
    shared: Collection[str] = (),
) -> str | None:
    """Why ``text`` may not be shown as a rewrite of evidence naming ``titles`` (the recommended
    item's first, then the cited ones) and ``shared`` attribute values, or ``None``;
    ``attributes`` are every value the catalogue has (a value outside ``shared`` is a claim the
    evidence does not make)."""
    if not text:
        return "empty"
    if len(text) > max_chars:
        return f"longer than {max_chars} characters"
    if ECHO.search(text):
        return "repeats the instruction"
    if titles:
        for clause in CLAUSE.split(text):
            said = normalise(clause)
            if HAD.search(clause) and any(v in said for v in spellings(titles[0])):
                return "says you already have the recommended item"
    lowered = normalise(text)
    missing = [t for t in titles if not any(v in lowered for v in spellings(t))]
    if missing:
        return f"dropped {missing[0]!r}"
    _, removed, _ = grounding.check(text, [v for t in titles for v in spellings(t)])
    if removed:
        return "names an item outside the evidence"
    bare = text
    for title in sorted(titles, key=len, reverse=True):  # a title may hold "I" or "?"
        bare = re.sub(re.escape(title), " ", bare, flags=re.IGNORECASE)
        moved = TRAILING_ARTICLE.match(title.strip())
        if moved:
            front = f"{moved.group(2)} {moved.group(1)}"
            bare = re.sub(re.escape(front), " ", bare, flags=re.IGNORECASE)
    allowed = {normalise(v) for v in shared}
    for value in attributes:
        key = normalise(value)
        if key not in allowed and re.search(rf"\b{re.escape(key)}\b", normalise(bare)):
            return f"claims {value!r}, which the evidence does not"
    talk = ASSISTANT_TALK.search(bare)
    if talk:
        return f"assistant talk ({talk.group(0)!r})"
    return None


def rewrite(
    backend: LLMBackend,
    grounding: Grounding,
    sentence: str,
    titles: Sequence[str],
    attributes: Collection[str] = (),
    shared: Collection[str] = (),
) -> Rewrite:
    """The model's rewrite of the evidence ``sentence`` when it passes :func:`problem`, else
    the sentence itself."""
    start = time.perf_counter()
    reply = backend.complete([rewrite_prompt(sentence)], GenerationParams(max_tokens=60))[0]
    seconds = time.perf_counter() - start
    if reply.error is not None:
        return Rewrite(sentence, False, f"no reply ({reply.error})", "", seconds)
    text = reply.text.strip().splitlines()[0].strip() if reply.text.strip() else ""
    text = text.strip('"').strip() if text.count('"') % 2 else text
    why = problem(text, titles, grounding, MAX_CHARS, attributes, shared)
    return Rewrite(sentence if why else text, why is None, why, reply.text, seconds)
