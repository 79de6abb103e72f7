"""The same person in several domains of a joint dataset.

A joint dataset (:mod:`lmrec.data.joint`) keeps one user per domain (``amazon-games/7``,
``amazon-scientific/31``). Where the domains' user tables share a field that identifies a person
(the Amazon sets' ``reviewer_id``), :class:`People` links those users, and
:func:`merge_histories` turns one person's per-domain histories into one profile.

Histories are merged with the other domains first, in the joint dataset's domain order, and the
domain being recommended for last: its items are treated as the most recent. The Amazon sets keep
each domain's order but no timestamps, so a true time order across domains cannot be recovered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lmrec.data.containers import Dataset
from lmrec.data.errors import DataError
from lmrec.data.joint import LINK_FIELD, SEPARATOR, prefixed


def domain_of(joint_id: str) -> str:
    """The dataset prefix of a joint user or item id (``amazon-games/7`` → ``amazon-games``)."""
    name, sep, rest = joint_id.partition(SEPARATOR)
    if not sep or not rest:
        raise DataError(f"{joint_id!r} is not a joint id ('dataset{SEPARATOR}id')")
    return name


def merge_histories(histories: Mapping[str, Sequence[str]], domain: str) -> tuple[str, ...]:
    """One history of joint item ids from per-domain histories of original ids (oldest first):
    every other domain in the mapping's order, then ``domain``'s own (most recent last)."""
    others = [d for d in histories if d != domain]
    merged: list[str] = []
    for name in [*others, domain]:
        merged += prefixed(name, list(histories.get(name, ())))
    return tuple(merged)


@dataclass(frozen=True)
class People:
    """Joint user ids of one person across domains, joined on a user field."""

    field: str
    accounts: Mapping[str, tuple[str, ...]]  # joint user id → the person's joint user ids

    @classmethod
    def of(cls, dataset: Dataset, field: str = LINK_FIELD) -> People:
        """Links of a joint dataset's users (users without a value stay alone)."""
        table = dataset.users
        if table is None or field not in table.field_names:
            raise DataError(
                f"{dataset.name}: no user field {field!r} to join people on (a joint dataset "
                f"of domains whose .user files carry {field!r}, e.g. amazon-games+amazon-scientific)"
            )
        by_person: dict[str, list[str]] = {}
        for user, value in zip(table.ids.ids, table.field(field).values, strict=True):
            if value:
                by_person.setdefault(str(value), []).append(user)
        accounts = {u: tuple(group) for group in by_person.values() for u in group}
        return cls(field, accounts)

    def linked(self, user: str) -> tuple[str, ...]:
        """Every joint user id of ``user``'s person, ``user`` included (alone if unlinked)."""
        return self.accounts.get(user, (user,))

    def across(self, first: str, second: str) -> list[tuple[str, str]]:
        """``(user in first, user in second)`` for every person with an account in both domains,
        ordered by the first account's id."""
        pairs: list[tuple[str, str]] = []
        for user, group in self.accounts.items():
            if domain_of(user) != first:
                continue
            other = [u for u in group if domain_of(u) == second]
            if other:
                pairs.append((user, other[0]))
        return sorted(pairs)

    def merged_history(
        self, dataset: Dataset, user: str, domain: str | None = None
    ) -> tuple[str, ...]:
        """The person's merged history (joint item ids), ``domain``'s items last (default: the
        domain of ``user``)."""
        inter = dataset.interactions
        if user not in inter.user_vocab:
            raise DataError(f"unknown user {user!r} in {dataset.name}")
        sequences = inter.sequences()
        own: dict[str, list[str]] = {}
        for account in self.linked(user):
            if account in inter.user_vocab:
                items = inter.item_vocab.decode(sequences[inter.user_vocab.index(account)])
                own[domain_of(account)] = [i.partition(SEPARATOR)[2] for i in items]
        return merge_histories(own, domain or domain_of(user))
