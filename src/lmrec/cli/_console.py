"""The commands' console, their one way to stop with an error, and their one way to show text
that comes from data (titles, ids, messages quoting a file): as written, never as markup."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

# highlight=False: rich's repr highlighter is quadratic in a long word (a 100 KB title took 59 s)
console = Console(width=None if Console().is_terminal else 110, highlight=False)

SHOWN_CHARS = 200


def shown(text: object, limit: int = SHOWN_CHARS) -> str:
    """``text`` for a console line or table cell: cut to ``limit`` characters (with '…'), with
    rich markup escaped (a title like '[/]' is printed, not parsed), and no control characters."""
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    value = "".join(c if c.isprintable() or c == " " else "\ufffd" for c in value)
    return escape(value)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error; raise the returned exit (code 2)."""
    console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code=2)
