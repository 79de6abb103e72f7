"""Knowledge distillation (Hinton et al., 2015): a student learns the teacher's next-item
distribution along with the labels.

The teacher's distribution is either recomputed at every step (exact, but each student step then
pays for a teacher forward pass) or, with ``top_k``, computed once before training for every
target position of the training rows and kept as the teacher's ``top_k`` items and their
renormalised probabilities. The training rows are the same every epoch, so the cache serves
them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from lmrec.training.batches import TrainingRows

if TYPE_CHECKING:
    import torch

    from lmrec.training.network import SequenceNetwork


@dataclass(frozen=True)
class Distillation:
    """The loss is ``(1 - weight) · CE(labels) + weight · T² · KL(teacher ‖ student)`` on logits
    divided by ``temperature``; ``top_k > 0`` keeps only the teacher's ``top_k`` items (computed
    once, see :class:`SoftTargets`), where the KL is taken up to the teacher's constant entropy."""

    teacher: SequenceNetwork
    weight: float = 0.5
    temperature: float = 1.0
    top_k: int = 0


@dataclass(frozen=True)
class SoftTargets:
    """The teacher's ``k`` most likely items and their probabilities (renormalised over the
    ``k``) at every position of the training rows; zeros where a position has no target."""

    items: npt.NDArray[np.int32]  # (rows, width, k), 0-based item index
    probs: npt.NDArray[np.float16]  # (rows, width, k)

    @classmethod
    def compute(
        cls,
        distill: Distillation,
        rows: TrainingRows,
        batch_size: int,
        device: torch.device,
        progress: bool = False,
    ) -> SoftTargets:
        """Run the teacher once over every training row (in batches, without gradients)."""
        import torch
        from tqdm.auto import tqdm

        if distill.top_k < 1:
            raise ValueError(f"top_k must be ≥ 1 to cache soft targets (got {distill.top_k})")
        n, width = rows.inputs.shape
        k = distill.top_k
        items = np.zeros((n, width, k), dtype=np.int32)
        probs = np.zeros((n, width, k), dtype=np.float16)
        teacher = distill.teacher.to(device).eval()
        starts = range(0, n, batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="teacher", unit="batch", disable=not progress):
                inputs = torch.from_numpy(rows.inputs[start : start + batch_size]).to(device)
                mask = rows.targets[start : start + batch_size] > 0
                scores = teacher.scores(inputs, torch.from_numpy(mask).to(device))
                top, index = (scores / distill.temperature).topk(min(k, scores.shape[1]), dim=-1)
                # (positions, k) back into the (rows, width, k) layout of the batch
                items[start : start + batch_size][mask, : index.shape[1]] = index.cpu().numpy()
                probs[start : start + batch_size][mask, : top.shape[1]] = (
                    torch.softmax(top, dim=-1).cpu().numpy()
                )
        return cls(items, probs)

    def batch(
        self, rows: npt.NDArray[np.int64], width: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows' ``(rows, width, k)`` items and probabilities, right-aligned as
        :meth:`TrainingRows.batch` trims its inputs."""
        import torch

        items = torch.from_numpy(self.items[rows][:, -width:]).to(device)
        probs = torch.from_numpy(self.probs[rows][:, -width:]).to(device)
        return items.long(), probs.float()


def distillation_term(
    logits: torch.Tensor,
    inputs: torch.Tensor,
    where: torch.Tensor,
    distill: Distillation,
    soft: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """``T² · KL(teacher ‖ student)`` averaged over the selected positions (``logits`` are the
    student's there): against cached ``soft`` targets when given, else the teacher's full
    distribution computed now."""
    import torch
    import torch.nn.functional as F

    temp = distill.temperature
    log_student = F.log_softmax(logits / temp, dim=-1)
    if soft is not None:
        items, probs = soft[0][where], soft[1][where]
        # cross-entropy to the cached top-k distribution = KL + the teacher's (constant) entropy
        kl = -(probs * log_student.gather(1, items)).sum(1).mean()
    else:
        with torch.no_grad():
            teacher = distill.teacher.scores(inputs, where)
        kl = F.kl_div(
            log_student,
            F.log_softmax(teacher / temp, dim=-1),
            log_target=True,
            reduction="batchmean",
        )
    return temp * temp * kl


def distilled_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    inputs: torch.Tensor,
    where: torch.Tensor,
    distill: Distillation,
    soft: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """``(1 - weight) · CE(target) + weight · T² · KL(teacher ‖ student)`` at the selected
    positions; consumes ``logits`` (see :func:`softmax_cross_entropy`). At temperature 1 with
    cached ``soft`` targets the teacher's top-k is a second, soft target of the same softmax, so
    the whole loss takes one pass over the logits."""
    from lmrec.training.softmax_loss import softmax_cross_entropy

    if soft is not None and distill.temperature == 1.0:
        return softmax_cross_entropy(
            logits, target, (soft[0][where], soft[1][where]), distill.weight
        )
    kl = distillation_term(logits, inputs, where, distill, soft)  # before the loss consumes them
    return (1.0 - distill.weight) * softmax_cross_entropy(logits, target) + distill.weight * kl
