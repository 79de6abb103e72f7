"""How an item is written in a prompt: its catalogue title, or a format over its fields, with
articles moved back to the front ("Usual Suspects, The" → "The Usual Suspects")."""

from __future__ import annotations

import re
import string
from collections.abc import Callable

from lmrec.data.containers import Field, ItemCatalog
from lmrec.errors import ConfigError

# MovieLens writes a leading article after the title, before any parenthesised alternative title
_ARTICLE = re.compile(
    r"^(?P<body>.+?), (?P<article>The|A|An|La|Le|Les|Il|El|Das|Der|Die|Lo|Los|Las)"
    r"(?P<rest> \(.*\))?$"
)


def natural_title(title: str) -> str:
    """``title`` with a trailing article moved to the front; other titles unchanged."""
    m = _ARTICLE.match(title)
    if m is None:
        return title
    return f"{m['article']} {m['body']}{m['rest'] or ''}"


def format_fields(title_format: str) -> list[str]:
    """The field names ``title_format`` uses (``{name}`` placeholders), in order."""
    try:
        parsed = list(string.Formatter().parse(title_format))
    except ValueError as exc:
        raise ConfigError(f"title_format {title_format!r}: {exc}") from exc
    names = [name for _, name, spec, conv in parsed if name is not None]
    if any(not n or not n.isidentifier() for n in names):
        raise ConfigError(
            f"title_format {title_format!r}: each placeholder names a field, e.g. "
            "'{movie_title} ({release_year})'"
        )
    return names


def listed(field: Field, row: int) -> str:
    """A field's value as prompt text: a sequence (genres, tags) as a comma-separated list."""
    value = field.values[row]
    return ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def title_function(
    catalog: ItemCatalog | None, title_format: str | None = None, natural: bool = False
) -> Callable[[str], str]:
    """item id → the text a prompt shows for it. ``title_format`` fills ``{field}`` placeholders
    from the catalogue (a ConfigError names a field it lacks); an item without an entry shows
    its id; a sequence field other than the title reads as a list ("Comedy, Drama").
    ``natural`` moves a trailing article of the title field to the front."""
    if catalog is None:
        if title_format is not None:
            raise ConfigError("title_format needs an item catalogue (the dataset has none)")
        return natural_title if natural else str
    fix = natural_title if natural else (lambda t: t)
    if title_format is None:
        return lambda item: fix(catalog.title(item))
    names = format_fields(title_format)
    missing = [n for n in names if n not in catalog.field_names]
    if missing:
        raise ConfigError(
            f"title_format {title_format!r}: no item field {', '.join(map(repr, missing))}; "
            f"the catalogue has {', '.join(catalog.field_names)}"
        )
    fields = {n: catalog.field(n) for n in names}

    def title(item: str) -> str:
        if item not in catalog.ids:
            return item
        row = catalog.ids.index(item)
        values = {n: listed(f, row) for n, f in fields.items()}
        if catalog.title_field in values:
            values[catalog.title_field] = fix(fields[catalog.title_field].text(row))
        return title_format.format(**values)

    return title
