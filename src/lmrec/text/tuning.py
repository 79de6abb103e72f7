"""Tune a sentence encoder on next-item prediction, so item texts land near the items that follow
them in people's histories.

The recipe (our own; the idea of Recformer's sequence–item objective, KDD 2023, and BLaIR's
contrastive tuning, 2024): a training case is a history's last ``history`` item texts and the
item that came next. The encoder embeds every text of a batch; a history becomes the
recency-weighted mean of its items' vectors (the pooling :class:`~lmrec.models.zeroshot.model.
ZeroShotTextRecommender` uses), and an InfoNCE loss pulls it towards its next item's vector and
away from the batch's other next items (in-batch negatives; a negative with the same text as the
positive is one column with it) and from ``negatives`` items drawn by popularity. Only the top
``train_layers`` Transformer layers learn; the rest stay frozen. Validation (held-out next items
ranked among ``valid_negatives`` items drawn once, MRR) every ``eval_every`` steps picks the
checkpoint. The result is a sentence-transformers directory any text model loads by path.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field

from lmrec.settings import Settings

CHUNK = 32  # texts per encoder call inside a step (sorted by length)


class EncoderTuningConfig(Settings):
    """How the encoder is tuned (the defaults fit 2 CPU cores in ~20 minutes)."""

    base: str = Field("minilm", description="The encoder to start from: a name or a directory.")
    history: int = Field(5, ge=1, description="History items per training case (most recent).")
    decay: float = Field(0.9, gt=0.0, le=1.0, description="Pooling weight decay**steps back.")
    batch_size: int = Field(32, ge=2, description="Training cases per step.")
    negatives: int = Field(32, ge=0, description="Extra popularity-sampled negatives per step.")
    lr: float = Field(3e-5, gt=0.0, description="AdamW learning rate.")
    temperature: float = Field(0.05, gt=0.0, description="InfoNCE temperature.")
    train_layers: int = Field(2, ge=0, description="Top Transformer layers that learn.")
    max_tokens: int = Field(64, ge=8, description="Tokens read per item text.")
    minutes: float = Field(20.0, gt=0.0, description="Wall-time budget of the tuning.")
    max_steps: int = Field(0, ge=0, description="Stop after this many steps (0 = the budget).")
    eval_every: int = Field(50, ge=1, description="Validate every this many steps.")
    valid_cases: int = Field(300, ge=1, description="Held-out next items used to validate.")
    valid_negatives: int = Field(
        500, ge=1, description="Items drawn once; each held-out next item is ranked among them."
    )
    threads: int = Field(2, ge=1, description="CPU threads for torch.")
    seed: int = 0


@dataclass(frozen=True)
class TuningCase:
    """One training or validation case: history item texts (oldest first) and the next one."""

    history: tuple[str, ...]
    target: str


@dataclass
class TuningReport:
    """What the tuning did: losses per step, validation MRR per check, the step kept."""

    steps: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    valid: list[tuple[int, float]] = field(default_factory=list)  # (step, MRR); step 0 = base
    best_step: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "seconds": self.seconds,
            "first_losses": self.losses[:10],
            "last_losses": self.losses[-10:],
            "valid_mrr": self.valid,
            "best_step": self.best_step,
        }


def cases_from_sequences(
    sequences: Sequence[Sequence[str]], history: int, every_position: bool = True
) -> list[TuningCase]:
    """Training cases from item-text sequences: every position after the first (or only the
    last) with the ``history`` texts before it."""
    out: list[TuningCase] = []
    for seq in sequences:
        ends = range(1, len(seq)) if every_position else range(max(len(seq) - 1, 1), len(seq))
        out += [TuningCase(tuple(seq[max(0, t - history) : t]), seq[t]) for t in ends]
    return out


class _Trainer:
    """The encoder, its optimiser and the batch computations (torch imported on use)."""

    def __init__(self, config: EncoderTuningConfig) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        from lmrec.text.encoders import resolve_sentence_transformer

        torch.manual_seed(config.seed)
        torch.set_num_threads(config.threads)
        self.config = config
        self.model = SentenceTransformer(resolve_sentence_transformer(config.base), device="cpu")
        self.max_length = self.model.max_seq_length  # restored before saving
        self.model.max_seq_length = config.max_tokens
        for p in self.model.parameters():
            p.requires_grad = False
        transformer: Any = self.model[0]
        layers = list(transformer.auto_model.encoder.layer)
        trained = layers[len(layers) - config.train_layers :] if config.train_layers else []
        self.params = [p for layer in trained for p in layer.parameters()]
        for p in self.params:
            p.requires_grad = True
        self.optimiser = torch.optim.AdamW(self.params, lr=config.lr) if self.params else None

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit vectors of ``texts`` (with gradients where layers learn). Texts run in chunks of
        similar length, so a chunk pads to its own longest text rather than the batch's (a batch
        mixes 10-token and 70-token texts: this about halves the tokens the encoder runs)."""
        import torch

        prepare = getattr(self.model, "preprocess", None) or self.model.tokenize
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        for start in range(0, len(order), CHUNK):
            chunk = [texts[i] for i in order[start : start + CHUNK]]
            parts.append(self.model(prepare(chunk))["sentence_embedding"])
        out = torch.cat(parts)[torch.argsort(torch.tensor(order))]
        return torch.nn.functional.normalize(out, dim=-1)

    def pooled(self, cases: Sequence[TuningCase], vectors: Any, row: dict[str, int]) -> Any:
        """Each case's history as the recency-weighted mean of its item vectors (unit length)."""
        import torch

        users = []
        for case in cases:
            n = len(case.history)
            weights = torch.tensor([self.config.decay ** (n - 1 - i) for i in range(n)])
            rows = vectors[[row[t] for t in case.history]]
            users.append((weights[:, None] * rows).sum(dim=0))
        return torch.nn.functional.normalize(torch.stack(users), dim=-1)

    def step(self, cases: Sequence[TuningCase], negatives: Sequence[str]) -> float:
        import torch

        texts = list(
            dict.fromkeys([*(t for c in cases for t in (*c.history, c.target)), *negatives])
        )
        row = {t: i for i, t in enumerate(texts)}
        vectors = self.embed(texts)
        users = self.pooled(cases, vectors, row)
        targets = [row[c.target] for c in cases]
        # one column per distinct text: a case whose target text another case shares never
        # meets it as a negative
        columns = list(dict.fromkeys(targets + [row[n] for n in negatives]))
        logits = users @ vectors[columns].T / self.config.temperature
        column = {c: j for j, c in enumerate(columns)}
        wanted = torch.tensor([column[t] for t in targets])
        loss = torch.nn.functional.cross_entropy(logits, wanted)
        assert self.optimiser is not None
        self.optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimiser.step()
        return float(loss.detach())

    def mrr(self, cases: Sequence[TuningCase], pool: Sequence[str], seed: int) -> float:
        """Mean reciprocal rank of each held-out next item among ``valid_negatives`` items drawn
        once from ``pool`` and shared by every case (the same draw at every check: one encoding
        of the drawn items per check, not one per case)."""
        import torch

        rng = np.random.default_rng(seed)
        size = min(self.config.valid_negatives, len(pool))
        drawn = [pool[j] for j in rng.choice(len(pool), size=size, replace=False)]
        texts = list(dict.fromkeys([t for c in cases for t in (*c.history, c.target)] + drawn))
        row = {t: i for i, t in enumerate(texts)}
        with torch.no_grad():
            vectors = torch.cat([self.embed(texts[i : i + 256]) for i in range(0, len(texts), 256)])
            users = self.pooled(cases, vectors, row)
        negatives = vectors[[row[t] for t in dict.fromkeys(drawn)]]
        total = 0.0
        for n, case in enumerate(cases):
            own = float(users[n] @ vectors[row[case.target]])
            scores = negatives @ users[n]
            total += 1.0 / (int((scores > own).sum()) + 1)  # the target itself is not above

        return total / max(len(cases), 1)

    def trainable_state(self) -> list[npt.NDArray[np.float32]]:
        return [p.detach().clone().numpy() for p in self.params]

    def restore(self, state: Sequence[npt.NDArray[np.float32]]) -> None:
        import torch

        with torch.no_grad():
            for p, saved in zip(self.params, state, strict=True):
                p.copy_(torch.from_numpy(saved))


def tune_encoder(
    train: Sequence[TuningCase],
    valid: Sequence[TuningCase],
    popularity: Sequence[tuple[str, float]],
    config: EncoderTuningConfig,
    out_dir: Path,
    progress: bool = False,
) -> TuningReport:
    """Tune ``config.base`` on ``train`` cases; keep the step with the best validation MRR
    (step 0, the base encoder, when nothing beats it); write the sentence-transformers
    directory to ``out_dir``. ``popularity``: (item text, weight) for sampled negatives."""
    from tqdm.auto import tqdm

    if not train:
        raise ValueError("no training cases: every history has a single item")
    trainer = _Trainer(config)
    rng = np.random.default_rng(config.seed)
    texts = [t for t, _ in popularity]
    counts = np.asarray([w for _, w in popularity], dtype=np.float64)
    weights = counts / counts.sum() if len(counts) and counts.sum() > 0 else None
    valid = list(valid)[: config.valid_cases]
    report = TuningReport()
    best = trainer.mrr(valid, texts, config.seed) if valid else 0.0
    report.valid.append((0, best))
    kept = trainer.trainable_state()

    def check() -> None:  # validate this step; keep it when it is the best so far
        nonlocal best, kept
        score = trainer.mrr(valid, texts, config.seed)
        report.valid.append((report.steps, score))
        if score > best:
            best, kept, report.best_step = score, trainer.trainable_state(), report.steps

    started = time.perf_counter()
    budget = config.minutes * 60
    bar = tqdm(desc="tune encoder", disable=not progress, unit="step")
    while trainer.optimiser is not None:
        if config.max_steps and report.steps >= config.max_steps:
            break
        if time.perf_counter() - started > budget:
            break
        picked = rng.choice(len(train), size=min(config.batch_size, len(train)), replace=False)
        negatives: list[str] = []
        if config.negatives and texts:
            drawn = rng.choice(len(texts), size=min(config.negatives, len(texts)), p=weights)
            negatives = [texts[j] for j in drawn]
        report.losses.append(trainer.step([train[j] for j in picked], negatives))
        report.steps += 1
        bar.update(1)
        bar.set_postfix(loss=f"{report.losses[-1]:.3f}")
        if valid and report.steps % config.eval_every == 0:
            check()
    bar.close()
    if valid and report.steps % config.eval_every:  # the budget's last steps
        check()
    if valid:
        trainer.restore(kept)  # the best validated step (0: the base encoder)
    else:
        report.best_step = report.steps

    report.seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.model.max_seq_length = trainer.max_length  # read texts as the base model does
    trainer.model.save(str(out_dir))
    return report
