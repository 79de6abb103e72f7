"""Encoding a catalogue's texts with a pool of encoder actors (Ray Data ``map_batches``).

:class:`RayEncoder` is an :class:`~lmrec.text.encoders.Encoder` with the wrapped encoder's
identity, so :meth:`EmbeddingCache.encode` stores its vectors under the same keys and in the same
atomic shards as a single-process run, which then finds every text cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.text.encoders import Encoder, create_encoder


class EncoderActor:
    """One pool member: loads the encoder once, then encodes the batches it is handed."""

    def __init__(self, name: str, threads: int, batch_size: int) -> None:
        self.encoder = create_encoder(name, threads=threads, batch_size=batch_size)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        texts = [str(t) for t in batch["text"]]
        return {"position": batch["position"], "vector": self.encoder.encode(texts)}


class RayEncoder:
    """Encodes on the connected Ray cluster with ``workers`` actors of ``threads`` CPUs each."""

    def __init__(
        self, name: str = "minilm", workers: int = 2, threads: int = 1, batch_size: int = 64
    ) -> None:
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be at least 1, got {workers}, {threads}")
        self.name = name
        self.workers = workers
        self.threads = threads
        self.batch_size = batch_size
        self._local: Encoder = create_encoder(name, threads=threads, batch_size=batch_size)

    @property
    def identity(self) -> str:
        return self._local.identity

    @property
    def multilingual(self) -> bool:
        return self._local.multilingual

    def encode(self, texts: Sequence[str], progress: bool = False) -> npt.NDArray[np.float32]:
        """Rows in the order of ``texts``, whatever order the actors finish in."""
        import logging

        from tqdm.auto import tqdm

        from lmrec.distributed.cluster import require_ray

        ray = require_ray()
        if not ray.is_initialized():
            raise RuntimeError("connect first: with lmrec.distributed.cluster.ray_session(...)")
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # one bar of our own instead of Ray Data's log
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        items = [{"position": i, "text": t} for i, t in enumerate(texts)]
        blocks = max(self.workers * 4, len(texts) // (self.batch_size * 8) or 1)
        encoded = ray.data.from_items(
            items, override_num_blocks=min(blocks, len(texts))
        ).map_batches(
            EncoderActor,
            fn_constructor_args=(self.name, self.threads, self.batch_size),
            batch_size=self.batch_size * 4,
            batch_format="numpy",
            concurrency=self.workers,
            num_cpus=self.threads,
        )
        out: npt.NDArray[np.float32] | None = None
        filled = np.zeros(len(texts), dtype=bool)
        bar = tqdm(total=len(texts), desc="encode (ray)", unit="text", disable=not progress)
        for batch in encoded.iter_batches(batch_size=None, batch_format="numpy"):
            vectors = np.asarray(batch["vector"], dtype=np.float32)
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            positions = np.asarray(batch["position"], dtype=np.int64)
            out[positions] = vectors
            filled[positions] = True
            bar.update(len(positions))
        bar.close()
        if out is None or not filled.all():
            raise RuntimeError(f"Ray returned {int(filled.sum())} of {len(texts)} vectors")
        return out
