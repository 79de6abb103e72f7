"""Zero-shot semantic matching: item text and histories in one sentence-encoder space."""

from lmrec.models.zeroshot.model import ZeroShotConfig, ZeroShotTextRecommender

__all__ = ["ZeroShotConfig", "ZeroShotTextRecommender"]
