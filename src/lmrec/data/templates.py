"""Item text templates: ``"{movie_title} ({release_year}). Genres: {genre}"`` over catalogue fields."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from lmrec.data.containers import FieldType, ItemCatalog
from lmrec.data.errors import DataError

DEFAULT_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {
        "ml-100k": "{movie_title} ({release_year}). Genres: {class}",
        "ml-1m": "{movie_title} ({release_year}). Genres: {genre}",
        "amazon-games": "{title}",
    }
)


@dataclass(frozen=True)
class ItemTextTemplate:
    """A ``str.format``-style template whose placeholders are catalogue field names.

    Sequence fields render space-joined; an item missing from the catalogue renders as its id.
    Placeholders may not carry format specs or conversions (values are inserted as plain text).
    """

    template: str

    def fields(self) -> tuple[str, ...]:
        names: list[str] = []
        for _, name, spec, conversion in string.Formatter().parse(self.template):
            if name is None:
                continue
            if not name.isidentifier() or spec or conversion:
                raise DataError(f"template placeholder {{{name}}} must be a plain field name")
            names.append(name)
        return tuple(names)

    def check(self, catalog: ItemCatalog) -> None:
        missing = [f for f in self.fields() if f not in catalog.field_names]
        if missing:
            raise DataError(
                f"template {self.template!r} uses unknown field(s) {', '.join(missing)}; "
                f"the catalogue has: {', '.join(catalog.field_names)}"
            )

    def render(self, catalog: ItemCatalog, item_ids: Sequence[str]) -> list[str]:
        """Text of every item in ``item_ids``."""
        self.check(catalog)
        fields = {name: catalog.field(name) for name in self.fields()}
        out: list[str] = []
        for item in item_ids:
            if item not in catalog.ids:
                out.append(item)
                continue
            row = catalog.ids.index(item)
            values = {name: f.text(row) for name, f in fields.items()}
            out.append(self.template.format_map(values).strip())
        return out


def item_template(
    dataset: str, catalog: ItemCatalog, template: str | None = None
) -> ItemTextTemplate:
    """``template`` when one is given, else the dataset's :func:`default_template`."""
    return ItemTextTemplate(template) if template else default_template(dataset, catalog)


def default_template(dataset: str, catalog: ItemCatalog) -> ItemTextTemplate:
    """The bundled template for a known dataset; else the title field followed by the other text
    fields (``token`` and ``token_seq``), joined by ". "; else every field."""
    if dataset in DEFAULT_TEMPLATES:
        return ItemTextTemplate(DEFAULT_TEMPLATES[dataset])
    text = [f.name for f in catalog.fields if f.type in (FieldType.TOKEN, FieldType.TOKEN_SEQ)]
    if catalog.title_field is not None:
        text = [catalog.title_field, *(n for n in text if n != catalog.title_field)]
    names = text or list(catalog.field_names)
    return ItemTextTemplate(". ".join("{" + name + "}" for name in names))
