"""The configuration of ``llm-lora`` (both tasks), shared by the model and the binary job."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lmrec.llm.lora.tuning import LoraSettings


class LlmLoraConfig(LoraSettings):
    """LoRA on a local LM, for re-ranking (``task=rerank``) or binary preference (``binary``)."""

    task: Literal["rerank", "binary"] = "rerank"
    retriever: str = Field("itemknn-seq", description="rerank: a registered model (candidates).")
    retriever_config: dict[str, Any] = Field(default_factory=dict)
    depth: int = Field(20, ge=2, le=26, description="rerank: lettered candidates per query.")
    max_history: int = Field(10, ge=1, description="Most recent history items in a prompt.")
    valid_share: float = Field(
        0.2,
        gt=0.0,
        lt=1.0,
        description="rerank: share of the training cases held out to pick the epoch.",
    )
    shots: int = Field(64, ge=1, description="binary: training examples drawn (with seed).")
    threshold: float = Field(3.0, description="binary: a rating above this is 'liked'.")
    valid_examples: int = Field(128, ge=2, description="binary: validation examples drawn.")
    test_examples: int = Field(1000, ge=2, description="binary: test examples drawn (seed 0).")
