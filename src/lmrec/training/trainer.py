"""The trainer: epochs, validation after each, early stopping, best-checkpoint restore.

It knows nothing about a particular model: it trains any
:class:`~lmrec.training.network.SequenceNetwork` on :class:`TrainingRows` with a next-item softmax
loss, and asks a ``validate`` callback (usually NDCG@10 on the validation cases) how good it is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from lmrec.errors import ConfigError, DataError
from lmrec.training.batches import LossWeights, TrainingRows, batch_order
from lmrec.training.config import TrainConfig
from lmrec.training.distill import Distillation, SoftTargets, distilled_loss
from lmrec.training.validation import EarlyStopping

if TYPE_CHECKING:
    import torch

    from lmrec.training.network import SequenceNetwork


@dataclass(frozen=True)
class EpochLog:
    """One epoch: mean training loss, validation metric, training and validation seconds."""

    epoch: int
    loss: float
    metric: float | None
    seconds: float
    valid_seconds: float = 0.0


@dataclass(frozen=True)
class TrainReport:
    """What happened during training: one log per epoch, the epoch restored, the wall time."""

    epochs: tuple[EpochLog, ...]
    best_epoch: int
    best_metric: float | None
    seconds: float
    stopped: str
    extra: dict[str, Any] = field(default_factory=dict)
    metric_name: str = "ndcg@10"  # what the validation metric is

    def to_json(self) -> dict[str, Any]:
        return {
            "epochs_run": len(self.epochs),
            "best_epoch": self.best_epoch,
            f"best_validation_{self.metric_name}": self.best_metric,
            "seconds": round(self.seconds, 1),
            "train_seconds_per_epoch": round(
                sum(e.seconds for e in self.epochs) / max(len(self.epochs), 1), 2
            ),
            "stopped": self.stopped,
            "log": [
                {
                    "epoch": e.epoch,
                    "loss": round(e.loss, 5),
                    "valid": e.metric,
                    "train_s": round(e.seconds, 2),
                    "valid_s": round(e.valid_seconds, 2),
                }
                for e in self.epochs
            ],
            **self.extra,
        }


def next_item_loss(
    net: SequenceNetwork,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    distill: Distillation | None = None,
    soft: tuple[torch.Tensor, torch.Tensor] | None = None,
    items: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Mean softmax cross-entropy of the next item over positions with a target (blended with the
    teacher's KL divergence when ``distill`` is given, against the cached ``soft`` targets of
    these rows when given). With ``items = (start, stop)`` the softmax runs over that item range
    only (every target of the batch lies in it)."""
    import torch
    import torch.nn.functional as F

    from lmrec.training.softmax_loss import softmax_cross_entropy

    where = targets > 0
    t = targets[where] - 1 - (items[0] if items else 0)
    if config.loss == "ce":
        logits = net.scores(inputs, where, items=items)
        excluded = net.softmax_excluded(items)
        if excluded is not None:
            logits.masked_fill_(excluded[None, :], float("-inf"))
        if distill is None:
            return softmax_cross_entropy(logits, t)
        return distilled_loss(logits, t, inputs, where, distill, soft)
    if distill is not None:
        raise ConfigError("distillation needs train.loss='ce' (the teacher's full distribution)")
    h = net(inputs)[where]
    table = net.item_table(items)
    n_items = table.shape[0]
    negatives = torch.randint(
        n_items, (config.negatives,), generator=generator, device=table.device
    )
    positive = (h * table[t]).sum(-1, keepdim=True)
    # Uniform sampling: each negative stands for (n_items - 1) / negatives items of the full softmax.
    negative = h @ table[negatives].T + math.log(max(n_items - 1, 1) / config.negatives)
    negative = negative.masked_fill(negatives[None, :] == t[:, None], float("-inf"))
    logits = torch.cat([positive, negative], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(t))


def lr_factor(step: int, config: TrainConfig, total_steps: int) -> float:
    """Multiplier of the peak learning rate at ``step``: linear warm-up, then constant or cosine."""
    warmup = config.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(total_steps - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass
class _Run:
    """What one call of :meth:`Trainer.fit` sets up once and every epoch reads."""

    net: SequenceNetwork
    rows: TrainingRows
    device: torch.device
    rng: np.random.Generator
    generator: torch.Generator
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    groups: np.ndarray | None
    ranges: list[tuple[int, int]]
    weights: LossWeights
    lengths: np.ndarray
    counts: np.ndarray
    distill: Distillation | None
    soft: SoftTargets | None


class Trainer:
    """Trains one network with AdamW; deterministic for a given seed and thread count."""

    def __init__(
        self,
        config: TrainConfig,
        progress: bool = False,
        on_epoch: Callable[[int, float | None], None] | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        self.on_epoch = on_epoch  # told (epoch, validation metric or None) after each epoch

    def fit(
        self,
        net: SequenceNetwork,
        rows: TrainingRows,
        validate: Callable[[], float] | None = None,
        distill: Distillation | None = None,
        segments: Sequence[int] = (),
    ) -> TrainReport:
        """Train the parameters of ``net`` that require gradients (frozen ones stay as they are).

        ``segments`` (item-range bounds, e.g. ``[0, n_movies, n_movies + n_games]``) make a
        joint model's batches come from one range each and score only that range's items.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        started = time.perf_counter()
        run = self._set_up(net, rows, distill, segments)
        logs: list[EpochLog] = []
        stopping = EarlyStopping(cfg.patience)
        stopped = "epochs"
        bar = tqdm(range(1, cfg.epochs + 1), desc="train", unit="epoch", disable=not self.progress)
        for epoch in bar:
            t0 = time.perf_counter()
            loss = self._epoch(run)
            trained = time.perf_counter() - t0
            metric = None
            if validate is not None and epoch % cfg.eval_every == 0:
                net.eval()
                metric = float(validate())
                stopping.update(epoch, metric, net)
            logs.append(EpochLog(epoch, loss, metric, trained, time.perf_counter() - t0 - trained))
            bar.set_postfix(loss=f"{loss:.4f}", valid=metric)
            if self.on_epoch is not None:
                self.on_epoch(epoch, metric)
            if stopping.should_stop:
                stopped = f"no validation gain for {cfg.patience} validations"
                break
            if cfg.max_minutes and time.perf_counter() - started > cfg.max_minutes * 60:
                stopped = f"time budget of {cfg.max_minutes:g} min"
                break
        bar.close()
        net.eval()
        stopping.restore(net)
        validated = stopping.best_metric is not None
        return TrainReport(
            tuple(logs),
            stopping.best_epoch if validated else len(logs),
            stopping.best_metric,
            time.perf_counter() - started,
            stopped,
        )

    def _set_up(
        self,
        net: SequenceNetwork,
        rows: TrainingRows,
        distill: Distillation | None,
        segments: Sequence[int],
    ) -> _Run:
        """Threads, seeds, device, optimiser, schedule, batch groups and loss weights."""
        import torch

        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if len(rows) == 0:
            raise DataError("no training sequence has two or more items")
        torch.manual_seed(cfg.seed)
        device = torch.device(cfg.device)
        net.to(device)
        rng = np.random.default_rng(cfg.seed)
        generator = torch.Generator(device).manual_seed(cfg.seed + 1)
        params = [p for p in net.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the network has no trainable parameter")
        if distill is not None:
            distill.teacher.to(device).eval()
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        total_steps = cfg.epochs * math.ceil(len(rows) / cfg.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, cfg, total_steps)
        )
        groups = rows.segments(segments) if len(segments) > 2 else None
        if groups is not None and distill is not None:
            raise ConfigError("distillation into a model trained on item segments is not supported")
        soft = None
        if distill is not None and distill.top_k:
            soft = SoftTargets.compute(distill, rows, cfg.batch_size, device, self.progress)
        weights = LossWeights.of(rows, cfg.batch_size, groups, cfg.bucket > 0, cfg.domain_balance)
        return _Run(
            net,
            rows,
            device,
            rng,
            generator,
            params,
            optimizer,
            scheduler,
            groups,
            list(pairwise(segments)),
            weights,
            rows.lengths,
            rows.target_counts,
            distill,
            soft,
        )

    def _epoch(self, run: _Run) -> float:
        """One pass over the batches; returns the mean (weighted) training loss."""
        import torch

        cfg = self.config
        run.net.train()
        total, steps = 0.0, 0
        for chosen in batch_order(run.lengths, cfg.batch_size, run.rng, cfg.bucket, run.groups):
            inputs, targets = run.rows.batch(chosen)
            group = 0 if run.groups is None else int(run.groups[chosen[0]])
            soft = run.soft
            loss = next_item_loss(
                run.net,
                torch.from_numpy(inputs).to(run.device),
                torch.from_numpy(targets).to(run.device),
                cfg,
                run.generator,
                run.distill,
                soft.batch(chosen, inputs.shape[1], run.device) if soft is not None else None,
                None if run.groups is None else run.ranges[group],
            )
            loss = loss * run.weights(group, int(run.counts[chosen].sum()))
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(run.params, cfg.grad_clip)
            run.optimizer.step()
            run.scheduler.step()
            total += loss.item()
            steps += 1
        return total / max(steps, 1)
