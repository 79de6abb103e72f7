"""Explanations of recommendations and textual user profiles, with or without an LLM.

An explanation names the history items that support a recommended item and what they share with
it: catalogue attributes (every token-sequence field but the title, e.g. genres) and
knowledge-graph neighbours (from ``.kg``/``.link``). Entities without a readable name (Freebase
ids such as ``m.0kprd8``) are shown by their relation only ("the same actor"). Where nothing
is shared and item text vectors are given (:class:`ItemVectors`), the history items whose text
is closest support the item; on a joint dataset, those of another domain are named with it. A
profile lists the user's top attribute values with their counts (:mod:`lmrec.llm.explain.profile`).
:meth:`Explainer.from_evidence` names the history items that drive the model's own score
(:mod:`lmrec.core.evidence`); a language model may only rewrite its sentences, under the checks of
:mod:`lmrec.llm.explain.rewrite`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lmrec.core.recommender import ItemEmbeddings, Recommender
from lmrec.data.containers import Dataset, FieldType
from lmrec.llm.explain.profile import Profile, interests_of, rewritten_profile
from lmrec.llm.explain.rewrite import Rewrite
from lmrec.llm.explain.written import Grounding
from lmrec.llm.ranking.prompts import Domain
from lmrec.llm.runtime.backends import LLMBackend

if TYPE_CHECKING:
    from lmrec.core.evidence import Evidence

MIN_COSINE = 0.3  # a history item less similar than this is not a reason by text


def _domain(item: str) -> str:
    """The domain prefix of a joint item id ("" for a single dataset's id)."""
    name, sep, _ = item.partition("/")
    return name if sep else ""


class ItemVectors:
    """Unit-normalised text vectors of items (rows in ``ids`` order), for similarity support."""

    def __init__(self, ids: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        if len(ids) != len(vectors):
            raise ValueError(f"{len(vectors)} vectors for {len(ids)} items")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.rows = {item: row for row, item in enumerate(ids)}
        self.vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def closest(self, item: str, history: Sequence[str], n: int) -> list[tuple[str, float]]:
        """Up to ``n`` distinct history items most similar to ``item`` (cosine at least
        :data:`MIN_COSINE`: an item with no similarity is not a reason)."""
        if item not in self.rows:
            return []
        known = list(dict.fromkeys(h for h in history if h in self.rows and h != item))
        if not known:
            return []
        sims = self.vectors[[self.rows[h] for h in known]] @ self.vectors[self.rows[item]]
        order = np.argsort(-sims, kind="stable")[:n]
        return [(known[i], float(sims[i])) for i in order if sims[i] >= MIN_COSINE]


_OPAQUE = re.compile(r"^[mg]\.[0-9a-z_]+$|^Q\d+$")  # Freebase / Wikidata ids
_GENERIC = {"film", "films_in_this_genre", "film_of", "award"}


def readable_fact(relation: str, entity: str) -> str:
    """``relation → entity`` when the entity has a name, else the kind of link it is."""
    if not _OPAQUE.match(entity):
        return f"{relation} → {entity}"
    parts = [p for p in relation.split(".") if p not in _GENERIC]
    return f"the same {(parts[-1] if parts else relation).replace('_', ' ')}"


@dataclass(frozen=True)
class Explanation:
    item: str
    supporting: tuple[str, ...]  # history item ids, strongest first
    shared: tuple[str, ...]  # "field: value" shared by the item and the supporting items
    relations: tuple[str, ...]  # knowledge-graph neighbours shared with supporting items
    text: str
    similarity: tuple[float, ...] = ()  # text cosines of the supporting items, when text chose them
    contributions: tuple[float, ...] = ()  # score drops without each supporting item (evidence)
    evidence: Evidence | None = None  # the occlusion it was built from (from_evidence only)

    def to_json(self) -> dict[str, Any]:
        """The text and, when the model's evidence chose the items, that evidence."""
        return {
            "text": self.text,
            "supporting": list(self.supporting),
            "evidence": None if self.evidence is None else self.evidence.to_json(),
        }


class Explainer:
    """Built once per dataset: attribute sets and KG neighbourhoods of items, computed lazily."""

    def __init__(
        self, dataset: Dataset, vectors: ItemVectors | None = None, title_chars: int = 0
    ) -> None:
        self.dataset = dataset
        self.vectors = vectors
        self.title_chars = title_chars  # > 0: titles in explanations are shortened to this
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
        self.domain = Domain.for_dataset(dataset.name)
        self._grounding: Grounding | None = None
        self._entities: dict[str, list[int]] = {}
        self._facts: dict[str, set[str]] = {}  # item → its KG facts, computed once per item
        kg = dataset.kg
        if kg is not None:
            for item, entity in zip(kg.link_items, kg.link_entities.tolist(), strict=True):
                self._entities.setdefault(item, []).append(entity)

    @classmethod
    def for_model(cls, dataset: Dataset, model: Recommender, title_chars: int = 0) -> Explainer:
        """An explainer that falls back on ``model``'s item text vectors when it has them
        (:class:`~lmrec.core.recommender.ItemEmbeddings`)."""
        vectors = None
        if isinstance(model, ItemEmbeddings) and len(model.item_embeddings):
            vectors = ItemVectors(model.item_vocab.ids, model.item_embeddings)
        return cls(dataset, vectors, title_chars)

    def short_title(self, item: str) -> str:
        """The item's title, shortened to ``title_chars`` when that is set."""
        title = self.dataset.title(item)
        if self.title_chars and len(title) > self.title_chars:
            import textwrap

            return textwrap.shorten(title, self.title_chars, placeholder="…")
        return title

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
        if not scored and self.vectors is not None:
            return self.explain_by_text(history, item, n_support)
        top = scored[:n_support]
        supporting = tuple(h for *_, h, _, _ in top)
        shared = tuple(sorted(set().union(*(a for *_, a, _ in top)))) if top else ()
        raw = sorted(set().union(*(f for *_, f in top))) if top else []
        # shared on the raw facts (the same actor entity), shown in words
        relations = tuple(dict.fromkeys(readable_fact(*f.split(" → ", 1)) for f in raw))
        title = self.short_title
        if supporting:
            because = ", ".join(f'"{title(h)}"' for h in supporting)
            what = "; ".join([*shared[:4], *relations[:2]])
            text = f'"{title(item)}": because you liked {because} (shared: {what})'
        else:
            text = f'"{title(item)}": popular with users whose history resembles yours'
        return Explanation(item, supporting, shared, relations, text)

    def from_evidence(
        self,
        model: Recommender,
        history: Sequence[str],
        item: str,
        k: int = 10,
        most: int = 3,
        domain: str | None = None,
    ) -> Explanation:
        """The history items that drive *this model's* score for ``item``
        (:func:`lmrec.core.evidence.occlusion`), in one deterministic sentence: "because you
        watched A and B — both Comedy". An attribute is named only when every cited item and
        the recommended item carry it; nothing else is said, so the sentence is true by
        construction. On a joint model, ``domain`` is where the item was recommended; cited
        items of other domains are named with theirs."""
        from lmrec.core.evidence import occlusion

        evidence = occlusion(model, history, item, k, domain=domain)
        cited = evidence.cited(most)
        title = self.short_title
        if not cited:
            text = f'"{title(item)}": no item of your history raises its score; it is popular'
            return Explanation(item, (), (), (), text, evidence=evidence)
        shared = self.attributes(item).intersection(*(self.attributes(c) for c in cited))
        values = sorted(v.split(": ", 1)[-1] for v in shared)
        own = _domain(item)
        names = [
            f'"{title(c)}"' + (f" ({_domain(c)})" if _domain(c) and _domain(c) != own else "")
            for c in cited
        ]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
        text = f'"{title(item)}": because you {self.verb(cited)} {listed}'
        if values:
            quantifier = "" if len(cited) == 1 else "both " if len(cited) == 2 else "all "
            text += f" — {quantifier}{', '.join(values[:4])}"
        weights = dict(evidence.contributions)
        drops = tuple(weights[c] for c in cited)
        return Explanation(
            item, cited, tuple(sorted(shared)), (), text, contributions=drops, evidence=evidence
        )

    def verb(self, items: Sequence[str]) -> str:
        """What the user did with ``items``: their domain's verb on a joint dataset when they
        share one domain ("played", "bought"), else the dataset's."""
        domains = {_domain(i) for i in items}
        if len(domains) == 1 and "" not in domains:
            return Domain.for_dataset(domains.pop()).verb
        return "chose" if len(domains) > 1 else self.domain.verb

    def rewritten(
        self,
        model: Recommender,
        history: Sequence[str],
        item: str,
        backend: LLMBackend,
        k: int = 10,
        domain: str | None = None,
    ) -> tuple[Explanation, Rewrite]:
        """The evidence sentence and a language model's rewrite of it, shown only when it passes
        every check (:mod:`lmrec.llm.explain.rewrite`)."""
        from lmrec.llm.explain.rewrite import rewrite

        found = self.from_evidence(model, history, item, k, domain=domain)
        if not found.supporting:
            return found, Rewrite(found.text, False, "no evidence to rewrite", "", 0.0)
        titles = [self.short_title(item), *(self.short_title(c) for c in found.supporting)]
        shared = [v.split(": ", 1)[-1] for v in found.shared]
        return found, rewrite(backend, self.grounding(), found.text, titles, self.values, shared)

    @cached_property
    def values(self) -> frozenset[str]:
        """Every attribute value of the catalogue (genres, brands …), for rewrite checks
        (computed once per explainer)."""
        return frozenset(
            str(v) for f in self.fields for row in f.values if isinstance(row, tuple) for v in row
        )

    def explain_by_text(self, history: Sequence[str], item: str, n_support: int) -> Explanation:
        """Support by text similarity: the history items whose text vectors are closest to the
        item's. On a joint dataset, a supporting item of another domain is named with it."""
        assert self.vectors is not None
        found = self.vectors.closest(item, history[-50:], n_support)
        title = self.short_title
        if not found:
            text = f'"{title(item)}": popular with users whose history resembles yours'
            return Explanation(item, (), (), (), text)
        own = _domain(item)

        def named(h: str) -> str:
            where = _domain(h)
            return f'"{title(h)}"' + (f" ({where})" if where and where != own else "")

        because = ", ".join(named(h) for h, _ in found)
        cosines = ", ".join(f"{c:.2f}" for _, c in found)
        text = f'"{title(item)}": because you liked {because} (similar text, cosine {cosines})'
        supporting, sims = zip(*found, strict=True)
        return Explanation(item, tuple(supporting), (), (), text, tuple(sims))

    def profile(
        self, history: Sequence[str], top: int = 5, backend: LLMBackend | None = None
    ) -> Profile:
        """The user's most frequent attribute values with their counts, in one deterministic
        sentence; with ``backend`` also a language model's rewrite of that sentence, shown only
        when it passes the same checks as explanations (:mod:`lmrec.llm.explain.profile`)."""
        found = Profile(interests_of(history, self.attributes, top), len(history), self.domain)
        if backend is None or not found.interests:
            return found
        return rewritten_profile(found, backend, self.grounding(), self.values)

    def grounding(self) -> Grounding:
        if self._grounding is None:
            catalog = self.dataset.catalog
            vocab = catalog.ids if catalog is not None else self.dataset.interactions.item_vocab
            ids = vocab.ids
            self._grounding = Grounding(self.dataset.title(i) for i in ids)
        return self._grounding
