"""Phrasings of the yes/no preference task: the same example written several ways.

A phrasing fixes the instruction, how the history is laid out (liked then disliked, disliked
then liked, or one list in time order with a tag per item), where the target goes, and the two
answer words. Training on several phrasings and evaluating on others that training never saw
measures whether an adapter learned the task or one template. The first phrasing, ``tallrec``,
is the one lmrec's examples are written in (TALLRec's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from lmrec.llm.lora.examples import INSTRUCTION, PreferenceExample

Layout = Literal["liked-first", "disliked-first", "tagged", "target-first"]


@dataclass(frozen=True)
class Phrasing:
    """One way to write the question: an instruction, a layout and the (yes, no) words."""

    name: str
    instruction: str
    layout: Layout
    answers: tuple[str, str]
    liked: str = "Liked"
    disliked: str = "Disliked"
    target: str = "Target movie"

    def render(self, example: PreferenceExample) -> PreferenceExample:
        """The example rewritten in this phrasing (its label and ids unchanged)."""
        if not example.target_title or len(example.titles) != len(example.liked):
            raise ValueError("only examples made from a dataset (with titles) can be rephrased")
        liked = [t for t, ok in zip(example.titles, example.liked, strict=True) if ok]
        disliked = [t for t, ok in zip(example.titles, example.liked, strict=True) if not ok]
        target = f'{self.target}: "{example.target_title}"'
        if self.layout == "tagged":
            lines = [
                f"- {t} ({self.liked if ok else self.disliked})"
                for t, ok in zip(example.titles, example.liked, strict=True)
            ]
            text = "\n".join(["History, oldest first:", *lines, target])
        else:
            parts = [
                f"{self.liked}: {_quoted(liked)}",
                f"{self.disliked}: {_quoted(disliked)}",
            ]
            if self.layout == "disliked-first":
                parts.reverse()
            text = "\n".join(
                [target, *parts] if self.layout == "target-first" else [*parts, target]
            )
        return replace(example, instruction=self.instruction, input=text, answers=self.answers)


def _quoted(titles: Sequence[str]) -> str:
    return ", ".join(f'"{t}"' for t in titles) if titles else "none"


PHRASINGS: dict[str, Phrasing] = {
    p.name: p
    for p in (
        Phrasing("tallrec", INSTRUCTION, "liked-first", ("Yes", "No")),
        Phrasing(
            "enjoy",
            "Here is what a viewer thought of some films. Will the viewer enjoy the film named "
            'last? Reply "True" or "False".',
            "disliked-first",
            ("True", "False"),
            liked="Enjoyed",
            disliked="Did not enjoy",
            target="Film",
        ),
        Phrasing(
            "tagged",
            "A user's ratings are listed in the order they were given. Predict whether the user "
            'will rate the target highly. Answer "Good" or "Bad".',
            "tagged",
            ("Good", "Bad"),
            liked="rated highly",
            disliked="rated low",
        ),
        Phrasing(
            "question",
            "Question: given the movies below that this person liked and disliked, will they "
            "like the target movie? Answer yes or no.",
            "target-first",
            ("yes", "no"),
        ),
        Phrasing(
            "fan",
            'A movie fan told us which films they loved and which they did not. Reply "Like" if '
            'they will love the candidate film and "Dislike" if not.',
            "liked-first",
            ("Like", "Dislike"),
            liked="Loved",
            disliked="Did not love",
            target="Candidate film",
        ),
    )
}
TRAINING = ("tallrec", "enjoy", "tagged")  # the bench trains on these ...
HELD_OUT = ("question", "fan")  # ... and also evaluates on these, which training never sees


def phrasings(names: Sequence[str]) -> list[Phrasing]:
    """The phrasings called ``names`` (an unknown name is a ValueError listing the known)."""
    unknown = [n for n in names if n not in PHRASINGS]
    if unknown:
        raise ValueError(f"unknown phrasing(s) {unknown}; known: {', '.join(PHRASINGS)}")
    return [PHRASINGS[n] for n in names]


def rotate(
    examples: Sequence[PreferenceExample], chosen: Sequence[Phrasing], seed: int
) -> tuple[PreferenceExample, ...]:
    """Each example in one of ``chosen``, every phrasing used about equally (seeded order)."""
    turns = np.random.default_rng(seed).permutation(len(examples)) % len(chosen)
    return tuple(chosen[int(k)].render(e) for k, e in zip(turns, examples, strict=True))
