"""ID-based sequence models trained with the softmax trainer: SASRec and GRU4Rec."""

from lmrec.models.sequential.model import (
    GRU4Rec,
    GRU4RecConfig,
    SASRec,
    SASRecConfig,
    SequenceModel,
)

__all__ = ["GRU4Rec", "GRU4RecConfig", "SASRec", "SASRecConfig", "SequenceModel"]
