"""Baselines of the binary preference bench (``bench/llm_lora.py``), on the same examples as the
LoRA-tuned LMs: rating and popularity priors, zero-shot text similarity, and SASRec / GRU4Rec
trained as yes/no classifiers on the same few-shot examples."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Dataset
from lmrec.llm.lora.examples import PreferenceExample, auc
from lmrec.llm.lora.preference import PreferenceData, labels


def priors(dataset: Dataset, before: float, test: Sequence[PreferenceExample]) -> dict[str, float]:
    """Test AUC of the target's mean rating and its rating count in the log before ``before``
    (the first validation example's time; these use every training-period rating, not the
    few-shot examples)."""
    log = dataset.interactions
    assert log.ratings is not None
    keep = log.timestamps < before
    n = len(log.item_vocab)
    counts = np.bincount(log.items[keep], minlength=n).astype(np.float64)
    sums = np.bincount(log.items[keep], weights=log.ratings[keep], minlength=n)
    overall = float(log.ratings[keep].mean())
    mean = np.where(counts > 0, (sums + 3 * overall) / (counts + 3), overall)  # 3 prior ratings
    rows = log.item_vocab.lookup([e.item for e in test])
    y = labels(test)
    return {"rating prior": auc(y, mean[rows]), "popularity": auc(y, counts[rows])}


def text_similarity(
    vectors: npt.NDArray[np.float32], index: dict[str, int], test: Sequence[PreferenceExample]
) -> float:
    """AUC of cos(target, mean liked) - cos(target, mean disliked) (a missing side counts 0)."""

    def side(items: tuple[str, ...], target: npt.NDArray[np.float32]) -> float:
        if not items:
            return 0.0
        centre = vectors[[index[i] for i in items]].mean(axis=0)
        return float(centre @ target / max(float(np.linalg.norm(centre)), 1e-9))

    scores = []
    for e in test:
        like = tuple(i for i, good in zip(e.history, e.liked, strict=True) if good)
        dislike = tuple(i for i, good in zip(e.history, e.liked, strict=True) if not good)
        target = vectors[index[e.item]]
        scores.append(side(like, target) - side(dislike, target))
    return auc(labels(test), scores)


def id_classifier(
    kind: str, data: PreferenceData, item_index: dict[str, int], seed: int, epochs: int = 100
) -> tuple[float, float]:
    """(test AUC, seconds) of SASRec or GRU4Rec over the 10 history ids, scoring the target by
    the dot product with its embedding plus a bias, trained with binary cross-entropy on the
    few-shot examples; the epoch is chosen by validation AUC (checked every 5 epochs)."""
    import copy

    import torch
    import torch.nn.functional as F

    from lmrec.models.sequential.networks import GRU4RecNetwork, SASRecNetwork

    torch.manual_seed(seed)
    n_items = len(item_index)
    net = (
        SASRecNetwork(n_items, 64, 2, 1, 0.2, 10)
        if kind == "sasrec"
        else GRU4RecNetwork(n_items, 64, 1, 0.2)
    )
    bias = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([*net.parameters(), bias], lr=1e-3)

    def tensors(examples: Sequence[PreferenceExample]) -> tuple[torch.Tensor, torch.Tensor]:
        hist = torch.tensor([[item_index[i] + 1 for i in e.history] for e in examples])
        return hist, torch.tensor([item_index[e.item] + 1 for e in examples])

    def logits(examples: Sequence[PreferenceExample]) -> torch.Tensor:
        hist, target = tensors(examples)
        out: torch.Tensor = (net.last_hidden(hist) * net.items(target)).sum(-1) + bias
        return out

    def valid_auc(examples: Sequence[PreferenceExample]) -> float:
        net.eval()
        with torch.no_grad():
            return auc(labels(examples), logits(examples).numpy())

    started = time.perf_counter()
    y = torch.tensor(labels(data.train), dtype=torch.float32)
    best = (float("-inf"), copy.deepcopy(net.state_dict()), bias.detach().clone())
    for epoch in range(1, epochs + 1):
        net.train()
        loss = F.binary_cross_entropy_with_logits(logits(data.train), y)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        if epoch % 5 == 0:
            metric = valid_auc(data.valid)
            if metric > best[0]:
                best = (metric, copy.deepcopy(net.state_dict()), bias.detach().clone())
    net.load_state_dict(best[1])
    with torch.no_grad():
        bias.copy_(best[2])
    return valid_auc(data.test), time.perf_counter() - started
