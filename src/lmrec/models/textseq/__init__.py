"""TextSeqRec: one sequence model over language-model item representations (in-domain,
transfer, few-shot, joint and distilled modes, each a configuration)."""

from lmrec.models.textseq.config import TextSeqArchitecture, TextSeqRecConfig
from lmrec.models.textseq.model import TextSeqRec, freeze

__all__ = ["TextSeqArchitecture", "TextSeqRec", "TextSeqRecConfig", "freeze"]
