"""The ``lmrec`` command line: resolves options, loads data, calls the library, prints.

Each group of commands lives in its own module and registers itself on :data:`app`; what they
share (console, options, load / prepare / report) is in :mod:`lmrec.cli._common`.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lmrec.cli import data, demo, evaluate, items, llm, llm_local, run, serve, train, tune


class Commands(TyperGroup):
    """Every command's :class:`~lmrec.errors.LmrecError` is printed as one line (exit code 2),
    never a traceback; anything else is a bug and keeps its traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context type is private
        from lmrec.errors import LmrecError

        try:
            return super().invoke(ctx)
        except LmrecError as exc:
            from lmrec.cli._common import fail

            raise fail(str(exc)) from None


app = typer.Typer(
    cls=Commands,
    add_completion=False,
    no_args_is_help=True,
    help="lmrec: language-model-powered recommendation.",
)


@app.callback()
def main(
    ctx: typer.Context,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Refuse data that only earns a warning (rows repeated exactly, interacted "
            "items missing from the catalogue).",
        ),
    ] = False,
) -> None:
    """lmrec: language-model-powered recommendation."""
    from lmrec.cli._common import console
    from lmrec.data.checks import DataWarning

    ctx.with_resource(warnings.catch_warnings())  # filters are restored when the command ends
    warnings.simplefilter("error" if strict else "always", DataWarning)
    shown = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, DataWarning):
            console.print(f"[yellow]warning:[/] {message}", highlight=False)
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = show


for module in (data, items, evaluate, run, train, tune, llm, llm_local, serve, demo):
    module.register(app)

__all__ = ["app"]
