"""The commands' console and their one way to stop with an error."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(width=None if Console().is_terminal else 110)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error; raise the returned exit (code 2)."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)
