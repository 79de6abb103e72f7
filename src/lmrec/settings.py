"""The base of every option set a user writes (model configs, training, run specs, search
spaces), whatever the surface: ``--set``, a YAML file, a checkpoint's config, Python.

One check for numbers: an unknown key is refused, ``true``/``false`` is not a number (pydantic
would read ``true`` as 1), and NaN or an infinity is refused where a number is expected; each
class adds its own ranges (``ge``/``gt``/``le``).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number (``int``, ``float``, optionally ``None``) and not
    also a bool."""
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(parts) and bool not in parts and all(_numeric(a) for a in parts)
    if origin is typing.Annotated:
        return _numeric(typing.get_args(annotation)[0])
    return False


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if isinstance(value, bool) and field is not None and _numeric(field.annotation):
                    raise ValueError(f"{name}: {str(value).lower()} is not a number")
        return data
