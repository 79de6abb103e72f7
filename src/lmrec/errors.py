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
    """A :class:`ConfigError` naming the first field a pydantic ``ValidationError`` reports,
    e.g. ``run.yaml: field 'protocol.temporal.cutoff_quantile': …``."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    return ConfigError(f"{prefix}field {field!r}: {first['msg']}")
