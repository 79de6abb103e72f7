"""``python -m lmrec``: the command line."""

from lmrec.cli import app

app(prog_name="lmrec")
