"""The errors lmrec raises on purpose: one base class and a few kinds.

Every error a user can cause (bad data, a bad option, a model used before it was fitted, a
language-model backend that does not answer) is an :class:`LmrecError`; the command line catches
the base class and prints the message, so a command never needs a tuple of built-in exceptions.
Each kind also derives from the built-in exception code written before this module expects
(``ValueError``, ``RuntimeError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from typing import Any


class LmrecError(Exception):
    """Base class of every error lmrec reports to a user."""


class DataError(LmrecError, ValueError):
    """A data problem: a file, a column, a row or an id (see :mod:`lmrec.data.errors`)."""


class ConfigError(LmrecError, ValueError):
    """An option, a model configuration or a run specification that cannot be used."""


class NotFittedError(LmrecError, RuntimeError):
    """A model used before ``fit`` (or ``load``)."""


class CheckpointError(LmrecError, ValueError):
    """A model folder that cannot be written or read back (missing, another model, corrupt)."""


class BackendError(LmrecError, RuntimeError):
    """A language-model backend that cannot be built or does not answer."""


def field_error(prefix: str, exc: Any) -> ConfigError:
    """A :class:`ConfigError` naming each field a pydantic ``ValidationError`` reports (at most
    three), e.g. ``run.yaml: field 'protocol.temporal.cutoff_quantile': … (got 1.5)``."""
    errors = exc.errors()
    parts = [_one_field(e) for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return ConfigError(prefix + "; ".join(parts) + more)


def _one_field(error: Any) -> str:
    field = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not field:  # a check on the whole set names its field in the message
        return message
    if error["type"] == "extra_forbidden":
        return f"unknown option {field!r} (extra inputs are not permitted)"
    shown = "" if error["type"] == "missing" else f" (got {error.get('input')!r})"
    return f"field {field!r}: {message}{shown}"
