"""A user's profile: the attribute values of their history with counts, in one deterministic
sentence ("Of your 120 movies, 82 are Comedy, 30 Drama and 12 Action"); a language model may only
rewrite that sentence, under the checks of :mod:`lmrec.llm.explain.rewrite` — it must keep every
value named, may add no title, no other attribute value and no number, and no assistant talk;
otherwise the sentence is shown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace

from lmrec.llm.explain.rewrite import Rewrite, rewrite
from lmrec.llm.explain.written import Grounding
from lmrec.llm.ranking.prompts import Domain
from lmrec.llm.runtime.backends import LLMBackend

NAMED = 3  # the sentence names this many values (the profile keeps ``top``)


@dataclass(frozen=True)
class Profile:
    """The ``top`` attribute values of a history with their counts; ``rewrite`` when a language
    model was asked (its ``text`` is what is shown: the rewrite, or the sentence when refused)."""

    counts: tuple[tuple[str, int], ...]  # ("class: Comedy", history items carrying it)
    n_items: int
    domain: Domain = field(default_factory=Domain)
    rewrite: Rewrite | None = None

    @property
    def interests(self) -> tuple[tuple[str, float], ...]:
        """Each value with its share of the history items."""
        n = max(self.n_items, 1)
        return tuple((value, count / n) for value, count in self.counts)

    @property
    def values(self) -> tuple[str, ...]:
        """The values the sentence names (without their field)."""
        return tuple(value.split(": ", 1)[-1] for value, _ in self.counts[:NAMED])

    @property
    def text(self) -> str:
        """The deterministic sentence, true by construction."""
        noun = self.domain.noun
        if not self.counts:
            return f"none of your {self.n_items} {noun}s has a listed attribute"
        counts, values = self.counted(), self.values
        parts = [f"{counts[0]} are {values[0]}"]
        parts += [f"{c} {v}" for c, v in zip(counts[1:], values[1:], strict=True)]
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
        return f"Of your {self.n_items} {noun}s, {listed}"

    @property
    def shown(self) -> str:
        """The accepted rewrite, else the sentence."""
        return self.rewrite.text if self.rewrite is not None else self.text

    def counted(self) -> tuple[int, ...]:
        return tuple(count for _, count in self.counts[:NAMED])

    def to_json(self) -> dict[str, object]:
        return {
            "n_items": self.n_items,
            "interests": [
                {"value": v, "count": c, "share": c / max(self.n_items, 1)} for v, c in self.counts
            ],
            "text": self.shown,
            "source": "evidence" if self.rewrite is None or not self.rewrite.accepted else "model",
        }


def interests_of(
    history: Iterable[str], attributes: Callable[[str], set[str]], top: int
) -> tuple[tuple[str, int], ...]:
    """The ``top`` most frequent attribute values over the history's items, with counts (ties in
    first-seen order)."""
    counts: Counter[str] = Counter()
    for item in history:
        counts.update(sorted(attributes(item)))
    return tuple(counts.most_common(top))


def profile_prompt(sentence: str) -> str:
    return (
        "Rewrite each summary of a user's taste as one short, friendly sentence to the user "
        '(say "you"). Keep every genre or category exactly as written and add no titles, '
        "facts or opinions.\n\n"
        "Summary: Of your 40 movies, 20 are Western, 12 Musical and 8 Film-Noir\n"
        "Rewritten: You watch Western most, then Musical and Film-Noir.\n\n"
        f"Summary: {sentence}\n"
        "Rewritten:"
    )


def rewritten_profile(
    profile: Profile, backend: LLMBackend, grounding: Grounding, attributes: Collection[str]
) -> Profile:
    """``profile`` with a language model's rewrite of its sentence (accepted only when it keeps
    the named values and adds nothing: no title, no other value, no number, no assistant talk)."""
    sentence = profile.text
    values = profile.values
    found: Rewrite = rewrite(
        backend,
        grounding,
        sentence,
        (),
        attributes,
        values,
        prompt=profile_prompt(sentence),
        kept=values,
    )
    if found.accepted:
        pairs = dict(zip(values, profile.counted(), strict=True))
        wrong = mispaired(found.text, pairs, profile.n_items)
        if wrong:
            found = replace(found, text=sentence, accepted=False, reason=wrong)
    return replace(profile, rewrite=found)


def mispaired(text: str, counts: dict[str, int], total: int) -> str | None:
    """Why the numbers of ``text`` do not belong to the values they stand next to, or ``None``:
    each number other than ``total`` must be the count of the value named nearest to it, and the
    values must come in the sentence's order (most frequent first: "X most" is a claim)."""
    lowered = text.casefold()
    places = {
        value: [m.start() for m in re.finditer(rf"\b{re.escape(value.casefold())}\b", lowered)]
        for value in counts
    }
    firsts = [min(found) for found in places.values() if found]
    if firsts != sorted(firsts):
        return "names the values out of their order"
    for number in re.finditer(r"\d+", lowered):
        n = int(number.group())
        if n == total:
            continue
        distance = {
            value: min(abs(p - number.start()) for p in found)
            for value, found in places.items()
            if found
        }
        if not distance:
            return f"the number {n} stands by no value"
        nearest = min(distance, key=lambda v: distance[v])
        if counts[nearest] != n:
            return f"gives {nearest!r} {n} items, not {counts[nearest]}"
    return None
