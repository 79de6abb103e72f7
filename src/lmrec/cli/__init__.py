"""The ``lmrec`` command line: resolves options, loads data, calls the library, prints.

Each group of commands lives in its own module and registers itself on :data:`app`; what they
share (console, options, load / prepare / report) is in :mod:`lmrec.cli._common`.
"""

from __future__ import annotations

import typer

from lmrec.cli import data, demo, evaluate, llm, llm_local, serve, train

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="lmrec: language-model-powered recommendation."
)
for module in (data, evaluate, train, llm, llm_local, serve, demo):
    module.register(app)

__all__ = ["app"]
