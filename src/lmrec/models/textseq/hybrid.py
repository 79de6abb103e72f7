"""``hybrid``: one model for warm items, new items and thin histories.

TextSeqRec with item-ID rows where an item has training interactions and its text alone where it
has none (``id_fallback``); items without interactions are left out of the training softmax
(``new_item_negatives: false``) and ID rows are dropped at random in training (``id_dropout``), so
the text part learns to rank an item on its own; the training-free text prior carries thin
histories. A new item's text-only score still sits on another scale than a warm item's text + ID
score, so one offset is added to every new item's score, chosen on the validation cases: each
case is scored as it is (a warm target) and as if its target were new (its ID row removed), and
the offset maximises NDCG@10 on the mix ``(1 - new_share)`` warm + ``new_share`` new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions
from lmrec.metrics.evaluate import score_cases, target_ranks
from lmrec.metrics.ranking import ndcg_from_ranks
from lmrec.models.textseq.model import TextSeqRec
from lmrec.protocols.base import EvalCases

if TYPE_CHECKING:
    from lmrec.training.network import SequenceNetwork

HYBRID_DEFAULTS = {
    "ids": True,
    "fusion": "add",
    "prior": True,
    "id_fallback": True,
    "id_dropout": 0.2,
    "new_item_negatives": False,
}
# candidate offsets, in standard deviations of a validation score row
# validation cases the offset is chosen on: at most 4,000, and at most 20M scores per matrix
# (two matrices of cases x items are held), so memory stays linear in the catalogue
MAX_CASES, MAX_SCORES = 4_000, 20_000_000
OFFSET_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


class HybridRec(TextSeqRec):
    """TextSeqRec at both ends (see the module docstring); ``new_item_offset`` is fitted."""

    name: ClassVar[str] = "hybrid"
    new_item_offset: float = 0.0

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> HybridRec:
        super().fit(train, valid)
        self.new_item_offset = 0.0
        if valid is not None and len(valid) and self.config.id_fallback:
            self.new_item_offset = self.choose_offset(valid)
        return self

    def score(self, batch: QueryBatch, chunk: int = 512) -> npt.NDArray[np.float32]:
        scores = super().score(batch, chunk)
        if self.new_item_offset:
            scores[:, ~self.fitted_state().seen] += np.float32(self.new_item_offset)
        return scores

    def text_only_scores(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        """Scores with every item's ID row left out (each item as if it were new)."""
        net = self.network()
        net.text_only = True  # type: ignore[assignment]
        try:
            return super().score(batch)
        finally:
            net.text_only = False  # type: ignore[assignment]

    def choose_offset(self, valid: EvalCases) -> float:
        """The offset of :data:`OFFSET_GRID` (× the score spread) with the best NDCG@10 on the
        validation mix of warm and simulated-new targets."""
        n_items = len(self.fitted_state().item_vocab)
        valid = valid.select(np.arange(min(len(valid), MAX_CASES, MAX_SCORES // n_items)))
        # the offset is still 0: the scores as they are, history masked (never the target)
        warm = score_cases(self, valid, 0, len(valid), exclude_history=True)
        rows = np.arange(len(valid))
        targets = np.asarray(valid.targets, dtype=np.int64)
        new_target = self.text_only_scores(QueryBatch(valid.users, valid.histories))[rows, targets]
        unseen = ~self.fitted_state().seen
        spread = float(np.std(warm[np.isfinite(warm)])) or 1.0
        share = self.config.new_share
        best, best_value = 0.0, -1.0
        for step in OFFSET_GRID:
            offset = np.float32(step * spread)
            shifted: npt.NDArray[np.float32] = np.where(unseen[None, :], warm + offset, warm)
            as_warm = target_ranks(shifted, valid.targets)
            shifted[rows, targets] = new_target + offset  # the same cases, their target new
            as_new = target_ranks(shifted, valid.targets)
            value = (1 - share) * ndcg_from_ranks(as_warm, 10).mean() + share * ndcg_from_ranks(
                as_new, 10
            ).mean()
            if value > best_value + 1e-9:
                best, best_value = float(offset), float(value)
        return best

    def extra_tensors(self) -> dict[str, npt.NDArray[Any]]:
        offset = np.array([self.new_item_offset], dtype=np.float32)
        return {**super().extra_tensors(), "new_item_offset": offset}

    def restore_network(self, n_items: int, tensors: dict[str, Any]) -> SequenceNetwork:
        self.new_item_offset = float(np.asarray(tensors["new_item_offset"])[0])
        return super().restore_network(n_items, tensors)
