"""Explanations of recommendations and textual user profiles, with or without an LLM.

An explanation names the history items that support a recommended item and what they share with
it: catalogue attributes (every token-sequence field but the title, e.g. genres) and
knowledge-graph neighbours (from ``.kg``/``.link``). A profile lists the user's top attribute values
with their share of the history; with an LLM backend it adds a written summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from lmrec.data.containers import Dataset, FieldType
from lmrec.llm.backends import GenerationParams, LLMBackend


@dataclass(frozen=True)
class Explanation:
    item: str
    supporting: tuple[str, ...]  # history item ids, strongest first
    shared: tuple[str, ...]  # "field: value" shared by the item and the supporting items
    relations: tuple[str, ...]  # knowledge-graph neighbours shared with supporting items
    text: str


@dataclass(frozen=True)
class Profile:
    interests: tuple[tuple[str, float], ...]  # ("class: Comedy", share of history items)
    n_items: int
    summary: str | None = None


class Explainer:
    """Built once per dataset: attribute sets and KG neighbourhoods of items, computed lazily."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        catalog = dataset.catalog
        self.fields = (
            []
            if catalog is None
            else [
                f
                for f in catalog.fields
                if f.type == FieldType.TOKEN_SEQ and f.name != catalog.title_field
            ]
        )
        self._entities: dict[str, list[int]] = {}
        self._facts: dict[str, set[str]] = {}  # item → its KG facts, computed once per item
        kg = dataset.kg
        if kg is not None:
            for item, entity in zip(kg.link_items, kg.link_entities.tolist(), strict=True):
                self._entities.setdefault(item, []).append(entity)

    def attributes(self, item: str) -> set[str]:
        catalog = self.dataset.catalog
        if catalog is None or item not in catalog.ids:
            return set()
        row = catalog.ids.index(item)
        out: set[str] = set()
        for f in self.fields:
            value = f.values[row]
            if isinstance(value, tuple):
                out.update(f"{f.name}: {v}" for v in value)
        return out

    def neighbours(self, item: str) -> set[str]:
        """``relation → entity`` facts of the item's linked entities."""
        kg = self.dataset.kg
        if kg is None:
            return set()
        if item in self._facts:
            return self._facts[item]
        out: set[str] = set()
        for entity in self._entities.get(item, []):
            for mask, other in ((kg.heads == entity, kg.tails), (kg.tails == entity, kg.heads)):
                for r, o in zip(kg.relations[mask], other[mask], strict=True):
                    out.add(f"{kg.relation_vocab.ids[r]} → {kg.entity_vocab.ids[o]}")
        self._facts[item] = out
        return out

    def explain(self, history: Sequence[str], item: str, n_support: int = 3) -> Explanation:
        attrs = self.attributes(item)
        facts = self.neighbours(item)
        scored = []
        for age, h in enumerate(reversed(history)):
            shared_a = attrs & self.attributes(h)
            shared_f = facts & self.neighbours(h) if facts else set()
            score = len(shared_a) + 2 * len(shared_f)
            if score:
                scored.append((score, -age, h, shared_a, shared_f))
        scored.sort(reverse=True)
        top = scored[:n_support]
        supporting = tuple(h for *_, h, _, _ in top)
        shared = tuple(sorted(set().union(*(a for *_, a, _ in top)))) if top else ()
        relations = tuple(sorted(set().union(*(f for *_, f in top)))) if top else ()
        title = self.dataset.title
        if supporting:
            because = ", ".join(f'"{title(h)}"' for h in supporting)
            what = "; ".join([*shared[:4], *relations[:2]])
            text = f'"{title(item)}": because you liked {because} (shared: {what})'
        else:
            text = f'"{title(item)}": popular with users whose history resembles yours'
        return Explanation(item, supporting, shared, relations, text)

    def profile(
        self, history: Sequence[str], top: int = 5, backend: LLMBackend | None = None
    ) -> Profile:
        counts: Counter[str] = Counter()
        for h in history:
            counts.update(self.attributes(h))
        n = max(len(history), 1)
        interests = tuple((value, count / n) for value, count in counts.most_common(top))
        summary = None
        if backend is not None and history:
            titles = "; ".join(self.dataset.title(h) for h in history[-30:])
            tops = ", ".join(f"{v} ({s:.0%})" for v, s in interests)
            prompt = (
                f"Items this user chose, oldest first: {titles}\nTop attributes: {tops}\n"
                "In two sentences, describe this user's taste."
            )
            reply = backend.complete([prompt], GenerationParams(max_tokens=120))[0]
            summary = reply.text.strip() or None
        return Profile(interests, len(history), summary)
