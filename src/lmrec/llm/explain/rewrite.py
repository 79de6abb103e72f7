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


LABEL = re.compile(r"^\s*(?:reason|rewritten)\s*:\s*", re.IGNORECASE)
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
    """The few-shot rewrite request. Its example names the recommended title first: with the
    watched titles first, SmolLM2 often put the recommended one among them (refused: 103 of 200
    replies); this order and reading past a "Reason:" label raised acceptance from 8 to 12 of 30."""
    return (
        "Rewrite each recommendation reason as one short, friendly sentence to the user "
        '(say "you"). Keep every title in quotes exactly as written and add no other titles, '
        "facts or opinions.\n\n"
        'Reason: "Toy Story": because you watched "Aladdin" and "Babe"\n'
        'Rewritten: "Toy Story" could be your next one, since you watched "Aladdin" and "Babe".'
        f"\n\nReason: {reason}\n"
        "Rewritten:"
    )


# "you watched X": a clause that says the user already has the recommended item swaps the roles
HAD = re.compile(
    r"\byou(?:'ve| have)?\s+(?:already\s+)?(?:watched|bought|played|seen|saw|liked|enjoyed|"
    r"loved|interacted with|read|chose)\b",
    re.IGNORECASE,
)
CLAUSE = re.compile(
    r"[.!?](?:\s|$)|,|;|:|—|\bso\b|\bsince\b|\bbecause\b|\bthat'?s why\b", re.IGNORECASE
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
TRAILING_ARTICLE = re.compile(r"^(.*), (the|a|an)( \(\d{4}\))?$", re.IGNORECASE)


def spellings(title: str) -> set[str]:
    """A title as catalogues write it ("Crow, The") and as sentences do ("The Crow")."""
    out = {normalise(title)}
    moved = TRAILING_ARTICLE.match(title.strip())
    if moved:
        out.add(normalise(f"{moved.group(2)} {moved.group(1)}"))
    return out


def _mark(n: int) -> str:
    return f"\ue000{n}\ue001"  # private-use characters: never in a reply, no comma inside


def _marked(text: str, titles: Sequence[str]) -> str:
    """``text`` with every spelling of ``titles[n]`` replaced by a mark of ``n`` (longest
    titles first, so a title inside another is not cut out of it)."""
    order = sorted(range(len(titles)), key=lambda n: len(titles[n]), reverse=True)
    for n in order:
        title = titles[n].strip()
        forms = [title]
        moved = TRAILING_ARTICLE.match(title)
        if moved:
            forms.append(f"{moved.group(2)} {moved.group(1)}")
        for form in forms:
            text = re.sub(re.escape(form), _mark(n), text, flags=re.IGNORECASE)
    return text


def problem(
    text: str,
    titles: Sequence[str],
    grounding: Grounding,
    max_chars: int = MAX_CHARS,
    attributes: Collection[str] = (),
    shared: Collection[str] = (),
    source: str = "",
    kept: Sequence[str] = (),
) -> str | None:
    """Why ``text`` may not be shown as a rewrite of evidence naming ``titles`` (the recommended
    item's first, then the cited ones) and ``shared`` attribute values, or ``None``;
    ``attributes`` are every value the catalogue has (a value outside ``shared`` is a claim the
    evidence does not make); ``kept`` values must all be named; a number the ``source``
    sentence does not hold (outside titles) is a claim too."""
    if not text:
        return "empty"
    if len(text) > max_chars:
        return f"longer than {max_chars} characters"
    if ECHO.search(text):
        return "repeats the instruction"
    marked = _marked(text, titles)  # titles out of the way of clause and word checks
    if titles:
        for clause in CLAUSE.split(marked):
            if HAD.search(clause) and _mark(0) in clause:
                return "says you already have the recommended item"
    lowered = normalise(text)
    missing = [t for t in titles if not any(v in lowered for v in spellings(t))]
    if missing:
        return f"dropped {missing[0]!r}"
    _, removed, _ = grounding.check(text, [v for t in titles for v in spellings(t)])
    if removed:
        return "names an item outside the evidence"
    bare = re.sub("\ue000\\d+\ue001", " ", marked)  # a title may hold "I", "?" or a number
    said = normalise(bare)
    dropped = [v for v in kept if not re.search(rf"\b{re.escape(normalise(v))}\b", said)]
    if dropped:
        return f"dropped {dropped[0]!r}"
    numbers = set(NUMBER.findall(source))
    for number in NUMBER.findall(bare):
        if number not in numbers:
            return f"claims the number {number}, which the evidence does not hold"
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
    prompt: str | None = None,
    kept: Sequence[str] = (),
) -> Rewrite:
    """The model's rewrite of the evidence ``sentence`` (asked with ``prompt``, by default
    :func:`rewrite_prompt`) when it passes :func:`problem`, else the sentence itself."""
    start = time.perf_counter()
    asked = rewrite_prompt(sentence) if prompt is None else prompt
    reply = backend.complete([asked], GenerationParams(max_tokens=60))[0]
    seconds = time.perf_counter() - start
    if reply.error is not None:
        return Rewrite(sentence, False, f"no reply ({reply.error})", "", seconds)
    text = reply.text.strip().splitlines()[0].strip() if reply.text.strip() else ""
    text = LABEL.sub("", text)  # a label of the prompt's format is not part of the sentence
    text = text.strip('"').strip() if text.count('"') % 2 else text
    bare_source = re.sub(r'"[^"]*"', " ", sentence)  # numbers inside titles are not claims
    why = problem(text, titles, grounding, MAX_CHARS, attributes, shared, bare_source, kept)
    return Rewrite(sentence if why else text, why is None, why, reply.text, seconds)
