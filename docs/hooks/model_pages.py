"""MkDocs hook: one page per registered model, its options generated from the pydantic config.

The pages are ``models/<name>.md``, listed in the nav's "Models" section in registry order (after
what ``mkdocs.yml`` puts there), so a new registry row gets its page and its nav entry with no
edit outside the model's file and the registry.
"""

from __future__ import annotations

import re
import typing
from typing import Any

from mkdocs.structure.files import File, Files
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


def _type_name(annotation: Any) -> str:
    """``int``, ``Literal['add', 'init']``, ``TrainConfig``: no module prefixes."""
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*)", "", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "(see below)" if isinstance(value, BaseModel) else f"`{value!r}`"
    if field.default is PydanticUndefined:
        return "required"
    return f"`{field.default!r}`"


def _markdown(text: str) -> str:
    """Docstring markup (reST roles and double back-quotes) as Markdown code."""
    text = re.sub(r":\w+:`~?([\w.]+)`", lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    return text.replace("``", "`")


def _escape(text: str) -> str:
    return _markdown(text).replace("|", "\\|").replace("\n", " ")


def _nested(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _nested(arg)
        if found is not None:
            return found
    return None


def options_table(config: type[BaseModel], prefix: str = "") -> list[str]:
    """Markdown rows ``| key | type | default | description |``; nested configs expanded."""
    rows: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in config.model_fields.items():
        key = f"{prefix}{name}"
        rows.append(
            f"| `{key}` | {_escape(_type_name(field.annotation))} | {_default(field)} | "
            f"{_escape(field.description or '')} |"
        )
        inner = _nested(field.annotation)
        if inner is not None and inner is not config:
            nested.append((f"{key}.", inner))
    for inner_prefix, inner in nested:
        rows.extend(options_table(inner, inner_prefix))
    return rows


def model_page(spec: Any) -> str:
    config: type[BaseModel] = spec.config
    doc = _markdown(" ".join((config.__doc__ or "").split()))
    kind = (
        "trained with the torch trainer (minutes, not seconds)"
        if spec.learns_weights
        else "needs an LLM backend (an endpoint or a local model) in its config"
        if spec.needs_backend
        else "built from other registered models (its members are saved and loaded by name)"
        if spec.members is not None
        else "fitted in seconds, no torch"
    )
    lines = [
        f"# `{spec.name}`",
        "",
        f"{spec.description[0].upper()}{spec.description[1:]}.",
        "",
        f"*Kind:* {kind}. *Config class:* `{config.__module__}.{config.__name__}`.",
        "",
    ]
    if doc:
        lines += [doc, ""]
    if spec.defaults:
        shown = ", ".join(f"`{k}={v!r}`" for k, v in spec.defaults.items())
        lines += [f"Registered with the defaults {shown}.", ""]
    lines += [
        "```bash",
        f"lmrec evaluate -d ml-100k -m {spec.name}          # add --set KEY=VALUE per option",
        "```",
        "",
        "## Options",
        "",
        "Unknown keys are refused. Nested keys are set with dots (`--set train.epochs=20`).",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
        *options_table(config),
        "",
    ]
    return "\n".join(lines)


def on_config(config: Any) -> Any:
    from lmrec.models.registry import model_specs

    for entry in config["nav"]:
        if isinstance(entry, dict) and "Models" in entry:
            entry["Models"] = [
                *entry["Models"],
                *({name: f"models/{name}.md"} for name in model_specs()),
            ]
            return config
    raise ValueError("mkdocs.yml: the nav has no 'Models' section for the model pages")


def on_files(files: Files, config: Any) -> Files:
    from lmrec.models.registry import model_specs

    for spec in model_specs().values():
        files.append(File.generated(config, f"models/{spec.name}.md", content=model_page(spec)))
    return files
