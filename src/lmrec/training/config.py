"""Hyper-parameters of the trainer (shared by every trained model's config as its ``train`` key)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from lmrec.settings import Settings


class TrainConfig(Settings):
    """How a torch recommender is trained. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(200, ge=1, description="Maximum number of epochs.")
    batch_size: int = Field(128, ge=1, description="Sequences per batch.")
    lr: float = Field(
        3e-3,
        gt=0.0,
        description="Peak learning rate of AdamW (chosen on ML-100K validation).",
    )
    weight_decay: float = Field(0.0, ge=0.0)
    warmup_steps: int = Field(100, ge=0, description="Linear learning-rate warm-up steps.")
    schedule: Literal["constant", "cosine"] = Field(
        "constant", description="After warm-up: constant, or cosine decay to 0 at `epochs`."
    )
    windows: bool = Field(
        False,
        description="Also train on the older part of sequences longer than max_len + 1, as "
        "extra rows of at most max_len items (default: only each sequence's last window).",
    )
    bucket: int = Field(
        50,
        ge=0,
        description="Sort each run of `bucket` batches' worth of shuffled rows by length before "
        "cutting batches (less padding: Amazon Games epoch at max_len 200, 1 thread: see "
        "README); runs are shortened to leave at least 8 per epoch; 0 = plain shuffling.",
    )
    domain_balance: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="Joint training: 1 = each domain's batches weigh one on average, as when it "
        "trains alone; 0 = every target weighs the same, so the domain with longer sequences "
        "dominates (ML-1M batches 18x Amazon Games'); between: the geometric interpolation. "
        "0.75 had the best worst-domain validation ratio to the single-domain models, ML-1M + "
        "Games, 2 epochs, 3 seeds (README).",
    )
    grad_clip: float = Field(0.0, ge=0.0, description="Clip the gradient norm (0 = off).")
    loss: Literal["ce", "sampled"] = Field(
        "ce",
        description="'ce': softmax cross-entropy over all items; 'sampled': softmax over the "
        "target and `negatives` items drawn uniformly per batch (shared by all positions), "
        "with the log-ratio correction that makes it estimate the full softmax.",
    )
    negatives: int = Field(256, ge=1, description="Negatives per batch for loss='sampled'.")
    patience: int = Field(
        8, ge=0, description="Stop after this many validations without improvement (0 = never)."
    )
    eval_every: int = Field(1, ge=1, description="Validate every N epochs.")
    max_minutes: float = Field(0.0, ge=0.0, description="Stop after this wall time (0 = none).")
    seed: int = Field(0, description="Seeds initialisation, shuffling, dropout and sampling.")
    threads: int = Field(0, ge=0, description="CPU threads for torch (0 = torch's default).")
    device: str = Field("cpu", description="torch device to train on, e.g. 'cpu' or 'cuda'.")
