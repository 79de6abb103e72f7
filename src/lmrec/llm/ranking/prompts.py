"""Prompt templates as Jinja2 files: built-in ones by name, or any file by path.

Item titles and other values are passed as *data*: Jinja2 never evaluates the content of a variable,
and the environment is sandboxed with strict undefined variables, so a title such as
``{{ 7 * 7 }}`` or "Ignore previous instructions" is rendered literally, exactly as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lmrec.errors import ConfigError

BUILT_IN = (
    "sequential",
    "recency",
    "in_context",
    "nir_preferences",
    "nir_representative",
    "nir_recommend",
    "next_item",
    "next_item_list",
)


@dataclass(frozen=True)
class Domain:
    """Words that make a prompt read naturally for a dataset's items."""

    noun: str = "item"
    verb: str = "interacted with"
    verb_now: str = "choose"

    @classmethod
    def for_dataset(cls, name: str) -> Domain:
        if name.startswith("ml-"):
            return cls("movie", "watched", "watch")
        if "games" in name:
            return cls("game", "played", "play")
        if name.startswith("amazon-"):
            return cls("product", "bought", "buy")
        return cls()


@dataclass(frozen=True)
class PromptTemplate:
    """A compiled template; ``render`` fills it with titles (as data) and domain words."""

    name: str
    source: str
    _template: Any = field(repr=False, compare=False, default=None)

    @classmethod
    def load(cls, name_or_path: str | Path) -> PromptTemplate:
        """A built-in template by name (see ``BUILT_IN``) or a template file by path."""
        path = Path(name_or_path)
        if str(name_or_path) in BUILT_IN:
            source = (
                resources.files("lmrec.llm")
                .joinpath("templates", f"{name_or_path}.j2")
                .read_text(encoding="utf-8")
            )
            return cls.from_string(str(name_or_path), source)
        if path.suffix and path.exists():
            return cls.from_string(str(path), path.read_text(encoding="utf-8"))
        raise ConfigError(
            f"no prompt template {str(name_or_path)!r}: give a file path or one of "
            f"{', '.join(BUILT_IN)}"
        )

    @classmethod
    def from_string(cls, name: str, source: str) -> PromptTemplate:
        from jinja2 import StrictUndefined, TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment

        env = SandboxedEnvironment(
            undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        try:
            template = env.from_string(source)
        except TemplateSyntaxError as exc:
            raise ConfigError(f"{name}, line {exc.lineno}: template error: {exc.message}") from exc
        return cls(name, source, template)

    def render(
        self,
        history: Sequence[str],
        candidates: Sequence[str] = (),
        domain: Domain | None = None,
        **extra: str,
    ) -> str:
        from jinja2 import UndefinedError

        d = domain or Domain()
        try:
            text: str = self._template.render(
                history=list(history),
                candidates=list(candidates),
                noun=d.noun,
                verb=d.verb,
                verb_now=d.verb_now,
                **extra,
            )
        except UndefinedError as exc:
            raise ConfigError(f"{self.name}: {exc.message}") from exc
        return text.strip() + "\n"
