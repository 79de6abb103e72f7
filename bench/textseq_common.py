"""Shared state of ``bench/textseq.py``: the prepared datasets, evaluation samples, budgets, the
results file, and fitting/measuring one model."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.core.fitted import ModelContext
from lmrec.core.recommender import Persistable, Recommender
from lmrec.data.containers import Dataset
from lmrec.data.registry import DATASETS, load_dataset
from lmrec.experiment import Prepared, named_protocol, prepare
from lmrec.metrics.evaluate import evaluate
from lmrec.models.registry import create_model
from lmrec.models.sequential import SequenceModel
from lmrec.models.textseq import TextSeqRec
from lmrec.protocols.base import EvalCases
from lmrec.protocols.named import llmrank_dir

LLMRANK = llmrank_dir()
PARTS = ("pretrain", "zeroshot", "fewshot", "indomain", "distill", "joint")
GAMES = "amazon-games"
SIDE_BY_SIDE = {
    "indomain": ("sasrec", "textseq", "textseq-add"),
    "joint": ("joint", "alone"),
    "distill": ("kl", "labels"),
}
TEXT_ID = {"ids": True, "fusion": "init", "temperature": 0}  # in-domain text + ID (README)


class Bench:
    """Shared state of one benchmark run: data, budgets, the results file."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work
        self.work.mkdir(parents=True, exist_ok=True)
        self.file = self.work / "results.json"
        self.results: dict[str, Any] = (
            json.loads(self.file.read_text()) if self.file.exists() else {}
        )
        self._data: dict[str, Prepared] = {}

    def todo(self, key: str) -> bool:
        """Whether ``key`` still needs running (no figures yet, or --redo)."""
        return key not in self.results or bool(self.args.redo)

    def save(self, key: str, value: dict[str, Any]) -> None:
        self.results[key] = value
        self.file.write_text(json.dumps(self.results, indent=2))
        print(f"  {key}: {json.dumps(value)}", flush=True)

    def prepared(self, name: str, protocol: str = "loo") -> Prepared:
        key = f"{name}:{protocol}"
        if key not in self._data:
            file = None
            if protocol != "loo":  # LLMRank's published candidates exist for these two only
                file = self.args.llmrank_dir / str(DATASETS[name].llmrank_file)
            choice = named_protocol(protocol, file=file)
            # the LLMRank cases reuse the leave-one-out run's parsed dataset
            dataset = (
                self.prepared(name).dataset
                if protocol != "loo"
                else load_dataset(name, download=False)
            )
            self._data[key] = prepare(dataset, choice)
        return self._data[key]

    def sample(self, cases: EvalCases, n: int, salt: int) -> EvalCases:
        """A fixed random subset of ``n`` cases (all when n ≥ len)."""
        if n >= len(cases):
            return cases
        rows = np.sort(np.random.default_rng(self.args.seed + salt).choice(len(cases), n, False))
        return cases.select(rows)

    def evals(self, name: str) -> dict[str, EvalCases]:
        """Test cases of the dataset: LOO full ranking (Games: a fixed user sample) and LLMRank-20."""
        loo = self.prepared(name).split.test
        if name == GAMES:
            loo = self.sample(loo, self.args.games_test_users, 1)
        return {"loo": loo, "llmrank": self.prepared(name, "llmrank-20").cases}

    def valid(self, name: str) -> EvalCases:
        cases = self.prepared(name).split.valid
        return self.sample(cases, self.args.valid_users, 2) if name == GAMES else cases

    def train(self, config: dict[str, Any], **options: Any) -> dict[str, Any]:
        """``config`` with the run's threads, device, training seed and --bucket added to its
        train section."""
        a = self.args
        train = {
            **config.get("train", {}),
            **options,
            "threads": a.threads,
            "device": a.device,
            "seed": a.train_seed,
        }
        if a.bucket is not None:
            train["bucket"] = a.bucket
        return {**config, "train": train}

    def budget(self, config: dict[str, Any], minutes: float) -> dict[str, Any]:
        return self.train(config, max_minutes=minutes)

    def length(self, config: dict[str, Any], epochs: int, minutes: float) -> dict[str, Any]:
        """Exactly ``epochs`` epochs, cosine-decayed, validated every 2nd (the best is kept); or,
        with ``epochs`` 0, the ``minutes`` budget at a constant rate with early stopping."""
        if not epochs:
            return self.budget(config, minutes)
        return self.train(config, epochs=epochs, schedule="cosine", patience=0, eval_every=2)

    def textseq(self, config: dict[str, Any]) -> dict[str, Any]:
        """A TextSeqRec config trained from scratch, with the run's --prior choice."""
        return {"prior": self.args.prior, "prior_gain": self.args.prior_gain, **config}


def add_run_options(
    parser: argparse.ArgumentParser, work: str, parts: tuple[str, ...], threads: int
) -> None:
    """The options every TextSeqRec benchmark shares: the work folder and parts, evaluation
    samples, threads, device, seeds."""
    parser.add_argument("--work", type=Path, default=Path(work))
    parser.add_argument(
        "--parts", nargs="*", choices=parts, default=list(parts), help="none: only the report"
    )
    parser.add_argument("--redo", action="store_true", help="rerun parts that have figures")
    parser.add_argument("--llmrank-dir", type=Path, default=LLMRANK)
    parser.add_argument("--games-test-users", type=int, default=10_000)
    parser.add_argument("--valid-users", type=int, default=3_000)
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument(
        "--device", default="cpu", help="torch device of the trained models (figures: cpu)"
    )
    parser.add_argument(
        "--bucket", type=int, help="train.bucket of the trained models (default: the trainer's)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the evaluation samples")
    parser.add_argument(
        "--train-seed", type=int, default=0, help="train.seed of the trained models"
    )
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--prior-gain", type=float, default=50.0, help="the prior's prior_gain")


def run_parts(bench: Bench, steps: dict[str, Any], parts: list[str]) -> None:
    """Each named part in order, timed."""
    for part in parts:
        print(f"== {part}", flush=True)
        start = time.perf_counter()
        steps[part](bench)
        print(f"== {part} done in {(time.perf_counter() - start) / 60:.1f} min", flush=True)


def measure(model: Recommender, evals: dict[str, EvalCases]) -> dict[str, float]:
    out: dict[str, float] = {}
    for label, cases in evals.items():
        m = evaluate(model, cases, ks=(10, 20)).as_dict()
        out[f"{label}_ndcg@10"] = m["ndcg@10"]
        out[f"{label}_hr@10"] = m["hr@10"]
        out[f"{label}_users"] = len(cases)
    return out


def fit(
    bench: Bench,
    dataset: Dataset,
    prepared: Prepared,
    model: str,
    config: dict[str, Any],
    train_rows: np.ndarray | None = None,
    valid: EvalCases | None = None,
    save: str | None = None,
) -> tuple[Recommender, dict[str, Any]]:
    """Fit ``model`` on the split's training data (or the rows ``train_rows`` of it)."""
    train = prepared.split.train
    if train_rows is not None:
        train = train.select(train_rows)
    built = create_model(
        model, config, ModelContext.for_dataset(dataset, progress=bench.args.progress)
    )
    start = time.perf_counter()
    built.fit(train, valid)
    info: dict[str, Any] = {"train_s": round(time.perf_counter() - start, 1)}
    if isinstance(built, SequenceModel) and built.report is not None:
        report_ = built.report
        info.update(
            epochs=len(report_.epochs), best_epoch=report_.best_epoch, stopped=report_.stopped
        )
    if isinstance(built, TextSeqRec):
        net: Any = built.network()
        if net.prior_weight is not None:  # the prior's learned weights per domain
            info["prior_weight"] = [
                [round(w, 3) for w in row] for row in net.prior_weights().detach().tolist()
            ]
        trainable, total = built.parameter_counts()
        info.update(trainable=trainable, params=total, trainable_share=trainable / total)
    if save:
        assert isinstance(built, Persistable)
        built.save(bench.work / save)
    return built, info
