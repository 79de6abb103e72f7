"""The in-place softmax cross-entropy matches torch's, and refuses what would make it wrong."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmrec.training.config import TrainConfig
from lmrec.training.distill import Distillation
from lmrec.training.softmax_loss import softmax_cross_entropy
from lmrec.training.trainer import next_item_loss


def leaves(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(37, 8, generator=g, dtype=torch.float64, requires_grad=True)
    table = torch.randn(11, 8, generator=g, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(11, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(11, (37,), generator=g)
    return h, table, bias, target


def test_loss_and_gradients_equal_torch_cross_entropy() -> None:
    h, table, bias, target = leaves(0)
    want = F.cross_entropy(h @ table.T + bias, target)
    want_grads = torch.autograd.grad(want * 3.0, (h, table, bias))
    logits = h @ table.T + bias
    got = softmax_cross_entropy(logits, target)
    # the logits were consumed: they hold the log-probabilities now
    torch.testing.assert_close(logits, torch.log_softmax(h @ table.T + bias, dim=1).detach())
    got_grads = torch.autograd.grad(got * 3.0, (h, table, bias))
    torch.testing.assert_close(got, want)
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_a_graph_that_still_needs_the_logits_fails_loudly() -> None:
    h, table, _, target = leaves(1)
    logits = h @ table.T
    other = logits.pow(2).sum()  # pow saves its input, which the loss then overwrites
    loss = softmax_cross_entropy(logits, target) + other
    with pytest.raises(RuntimeError, match="inplace"):
        loss.backward()  # type: ignore[no-untyped-call]


def test_bad_shapes_are_named() -> None:
    h, table, _, target = leaves(2)
    with pytest.raises(ValueError, match=r"\(rows, classes\).*\(37, 11\).*\(36,\)"):
        softmax_cross_entropy(h @ table.T, target[:-1])
    with pytest.raises(ValueError, match="at least one row"):
        softmax_cross_entropy(torch.zeros(0, 11), torch.zeros(0, dtype=torch.long))


def test_distillation_loss_blends_the_kl_with_the_label_loss() -> None:
    """The KL term reads the logits before the label loss consumes them."""
    from lmrec.models.sequential.networks import SASRecNetwork

    torch.manual_seed(0)
    student = SASRecNetwork(12, 8, 1, 1, 0.0, 6).eval()
    teacher = SASRecNetwork(12, 8, 2, 2, 0.0, 6).eval()
    inputs = torch.tensor([[0, 3, 5, 7], [2, 4, 6, 8]])
    targets = torch.tensor([[0, 5, 7, 9], [4, 6, 8, 10]])
    where = targets > 0
    distill = Distillation(teacher, weight=0.25, temperature=2.0)
    got = next_item_loss(student, inputs, targets, TrainConfig(), torch.Generator(), distill)
    logits = student.scores(inputs, where)
    with torch.no_grad():
        soft = torch.log_softmax(teacher.scores(inputs, where) / 2.0, dim=-1)
    kl = F.kl_div(torch.log_softmax(logits / 2.0, -1), soft, log_target=True, reduction="batchmean")
    want = 0.75 * F.cross_entropy(logits, targets[where] - 1) + 0.25 * 4.0 * kl
    torch.testing.assert_close(got, want)
    grads = torch.autograd.grad(got, list(student.parameters()), allow_unused=True)
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_soft_targets_blend_the_label_loss_with_their_cross_entropy() -> None:
    h, table, bias, target = leaves(3)
    g = torch.Generator().manual_seed(4)
    items = torch.randint(11, (37, 5), generator=g)
    items[:, 0] = target  # a teacher's top-k usually holds the label: the weights add up
    probs = torch.softmax(torch.randn(37, 5, generator=g, dtype=torch.float64), dim=1)
    logits = h @ table.T + bias
    log_probs = torch.log_softmax(logits, dim=1)
    soft_ce = -(probs * log_probs.gather(1, items)).sum(1).mean()
    want = 0.7 * F.cross_entropy(logits, target) + 0.3 * soft_ce
    want_grads = torch.autograd.grad(want, (h, table, bias))
    got = softmax_cross_entropy(h @ table.T + bias, target, (items, probs), 0.3)
    got_grads = torch.autograd.grad(got, (h, table, bias))
    torch.testing.assert_close(got, want)
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match=r"both be \(37, k\).*\(37, 5\).*\(37, 4\)"):
        softmax_cross_entropy(h @ table.T, target, (items, probs[:, :4]), 0.3)
