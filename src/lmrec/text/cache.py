"""An on-disk embedding cache keyed by (encoder identity, SHA-256 of the text).

Layout: ``<root>/<sha256(identity)[:16]>/`` holds ``identity.txt`` and shard files
``<content hash>.safetensors`` with ``keys`` (n × 32 uint8 digests) and ``vectors`` (n × d float32).
Shards are written to a temporary file and renamed, so a reader never sees a half-written shard and
two concurrent runs at worst write the same shard twice (same name, same content).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.text.encoders import Encoder


@dataclass(frozen=True)
class CacheStats:
    """``hits``: texts served from the cache; ``encoded``: distinct texts the encoder computed."""

    hits: int
    encoded: int


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def default_cache_dir() -> Path:
    env = os.environ.get("LMREC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lmrec")) / "embeddings"


class EmbeddingCache:
    """Embeddings of texts under one encoder, persisted across runs."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()
        self._loaded: dict[str, dict[bytes, npt.NDArray[np.float32]]] = {}

    def folder(self, identity: str) -> Path:
        return self.root / hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]

    def load(self, identity: str) -> dict[bytes, npt.NDArray[np.float32]]:
        """Every cached vector of ``identity``; read from disk once per cache object."""
        if identity not in self._loaded:
            self._loaded[identity] = self._read(identity)
        return self._loaded[identity]

    def _read(self, identity: str) -> dict[bytes, npt.NDArray[np.float32]]:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        folder = self.folder(identity)
        found: dict[bytes, npt.NDArray[np.float32]] = {}
        if not folder.is_dir():
            return found
        for shard in sorted(folder.glob("*.safetensors")):
            try:
                tensors = load_file(str(shard))
            except (SafetensorError, OSError, ValueError) as exc:
                raise OSError(
                    f"{shard}: unreadable embedding cache shard ({exc}); delete it"
                ) from exc
            for key, vector in zip(tensors["keys"], tensors["vectors"], strict=True):
                found[key.tobytes()] = vector
        return found

    def save(self, identity: str, keys: Sequence[bytes], vectors: npt.NDArray[np.float32]) -> Path:
        from safetensors.numpy import save_file

        folder = self.folder(identity)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "identity.txt").write_text(identity + "\n", encoding="utf-8")
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32)
        digest = hashlib.sha256(key_array.tobytes() + vectors.tobytes()).hexdigest()[:24]
        target = folder / f"{digest}.safetensors"
        fd, tmp = tempfile.mkstemp(prefix=".shard.", dir=folder)
        os.close(fd)
        try:
            save_file({"keys": key_array, "vectors": np.ascontiguousarray(vectors)}, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def encode(
        self, encoder: Encoder, texts: Sequence[str], progress: bool = False
    ) -> tuple[npt.NDArray[np.float32], CacheStats]:
        """Vectors for ``texts`` (row i ↔ texts[i]); only texts never seen before are encoded."""
        known = self.load(encoder.identity)
        keys = [text_key(t) for t in texts]
        todo: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in known:
                todo.setdefault(key, text)
        if todo:
            new = encoder.encode(list(todo.values()), progress=progress)
            self.save(encoder.identity, list(todo), new)
            known.update(zip(todo, new, strict=True))
        if not texts:
            return np.empty((0, 0), dtype=np.float32), CacheStats(0, 0)
        vectors = np.stack([known[k] for k in keys]).astype(np.float32)
        served = sum(1 for k in keys if k not in todo)
        return vectors, CacheStats(hits=served, encoded=len(todo))
