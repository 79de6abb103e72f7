"""The configuration of ``llm-lora`` (both tasks), shared by the model and the binary job."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from lmrec.llm.lora.tuning import LoraSettings


class LlmLoraConfig(LoraSettings):
    """LoRA on a local LM, for re-ranking (``task=rerank``) or binary preference (``binary``)."""

    task: Literal["rerank", "binary"] = "rerank"
    retriever: str = Field("itemknn-seq", description="rerank: a registered model (candidates).")
    retriever_config: dict[str, Any] = Field(default_factory=dict)
    depth: int = Field(20, ge=2, le=26, description="rerank: lettered candidates per query.")
    max_history: int = Field(10, ge=1, description="Most recent history items in a prompt.")
    train_positions: int = Field(
        5,
        ge=1,
        description="rerank: the last N items of each training sequence become training cases "
        "(retrieved by a retriever fitted without them).",
    )
    max_cases: int = Field(
        0, ge=0, description="rerank: at most this many training cases, drawn with seed (0: all)."
    )
    fuse: bool = Field(
        True,
        description="rerank: fuse the LM's scores with the retriever's, the weight (0 allowed) "
        "chosen on held-out cases; false: the LM's order alone.",
    )
    fusion_margin: float = Field(
        2.0,
        ge=0.0,
        description="rerank: a held-out gain under this many bootstrap SEs counts as noise "
        "(weight 0: the retriever alone).",
    )
    shots: int = Field(64, ge=1, description="binary: training examples drawn (with seed).")
    threshold: float = Field(3.0, description="binary: a rating above this is 'liked'.")
    valid_examples: int = Field(128, ge=2, description="binary: validation examples drawn.")
    test_examples: int = Field(1000, ge=2, description="binary: test examples drawn (seed 0).")
    phrasings: list[str] = Field(
        default_factory=lambda: ["tallrec"],
        min_length=1,
        description="binary: phrasings the training examples are written in, in turn "
        "(tallrec, enjoy, tagged, question, fan); the test examples use the first.",
    )

    @field_validator("phrasings")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        from lmrec.llm.lora.phrasing import phrasings

        phrasings(names)  # an unknown name: ValueError listing the known ones
        if len(set(names)) != len(names):
            raise ValueError(f"phrasings repeat a name: {names}")
        return names
