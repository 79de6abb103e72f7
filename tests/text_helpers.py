"""A small deterministic encoder for tests of model logic (real encoders are tested in test_text)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Field, FieldType, ItemCatalog, Vocabulary
from lmrec.text.encoders import normalise


class TrigramEncoder:
    """Hashes character trigrams into 64 buckets: similar strings get similar vectors."""

    identity = "test:trigram-64"
    multilingual = True

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str], progress: bool = False) -> npt.NDArray[np.float32]:
        self.calls += len(texts)
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for i in range(len(padded) - 2):
                bucket = hashlib.md5(padded[i : i + 3].encode()).digest()[0] % 64
                out[row, bucket] += 1.0
        out[:, 0] += 1e-3
        return normalise(out)


def tiny_catalog() -> ItemCatalog:
    ids = ("10", "20", "30", "40", "50", "60")
    titles = ("Star Wars", "Star Trek", "Love Actually", "Notting Hill", "Alien", "Aliens")
    genres = (("Sci-Fi",), ("Sci-Fi",), ("Romance",), ("Romance",), ("Horror",), ("Horror",))
    return ItemCatalog(
        Vocabulary("item", ids),
        (Field("title", FieldType.TOKEN, titles), Field("genre", FieldType.TOKEN_SEQ, genres)),
        title_field="title",
    )
