"""Shared state of ``bench/transfer.py``: the Amazon targets, their source sets, evaluation cases,
per-user figures (for paired bootstrap standard errors) and the results file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.textseq_common import GAMES, Bench
from bench.zeroshot_headroom import paired_se
from lmrec.core.recommender import Recommender
from lmrec.metrics.evaluate import evaluate
from lmrec.metrics.ranking import ndcg_from_ranks
from lmrec.protocols.base import EvalCases

SCIENTIFIC, OFFICE, ML1M = "amazon-scientific", "amazon-office", "ml-1m"
TARGETS = (GAMES, SCIENTIFIC, OFFICE)
SHORT = {GAMES: "Games", SCIENTIFIC: "Scientific", OFFICE: "Office", ML1M: "ML-1M"}


def sources(target: str, with_ml1m: bool) -> list[str]:
    """Every other Amazon domain (and ML-1M when asked): the pretraining set of ``target``."""
    return [t for t in TARGETS if t != target] + ([ML1M] if with_ml1m else [])


def source_name(target: str, with_ml1m: bool) -> str:
    return "+".join(sources(target, with_ml1m))


def bootstrap_se(a: npt.NDArray[np.float64]) -> float:
    """Bootstrap standard error of mean(a) over users (the paired SE against zero)."""
    return paired_se(a, np.zeros_like(a))


def per_user_file(work: Path, key: str, label: str) -> Path:
    """Where the per-user NDCG@10 of figure ``key`` on case set ``label`` is kept."""
    safe = f"{key}.{label}"
    for old, new in (("/", "__"), (" ", "_"), ("→", "-"), ("←", "-"), ("+", "_")):
        safe = safe.replace(old, new)
    return work / "per_user" / f"{safe}.npy"


class TransferBench(Bench):
    """:class:`Bench` for the Amazon domains: LOO test cases of each target (Games: a fixed
    sample), LLMRank-20 on Games, and per-user NDCG@10 kept beside ``results.json``."""

    def evals(self, name: str) -> dict[str, EvalCases]:
        loo = self.prepared(name).split.test
        if name != GAMES:
            return {"loo": loo}
        return {
            "loo": self.sample(loo, self.args.games_test_users, 1),
            "llmrank": self.prepared(name, "llmrank-20").cases,
        }

    def valid(self, name: str) -> EvalCases:
        cases = self.prepared(name).split.valid
        return self.sample(cases, self.args.valid_users, 2)

    def per_user_file(self, key: str, label: str) -> Path:
        return per_user_file(self.work, key, label)

    def measure(
        self,
        key: str,
        model: Recommender,
        evals: dict[str, EvalCases],
        exclude_history: bool | None = None,
    ) -> dict[str, Any]:
        """NDCG@10 / HR@10 on each case set, its bootstrap SE and seconds; per-user NDCG@10 is
        written beside the results for paired comparisons. ``exclude_history`` as in
        :func:`~lmrec.metrics.evaluate.evaluate` (default: masked for full ranking only)."""
        out: dict[str, Any] = {}
        for label, cases in evals.items():
            start = time.perf_counter()
            result = evaluate(model, cases, ks=(10,), exclude_history=exclude_history)
            per_user = ndcg_from_ranks(result.ranks, 10)
            file = self.per_user_file(key, label)
            file.parent.mkdir(parents=True, exist_ok=True)
            np.save(file, per_user)
            m = result.as_dict()
            out[f"{label}_ndcg@10"] = m["ndcg@10"]
            out[f"{label}_hr@10"] = m["hr@10"]
            out[f"{label}_se"] = bootstrap_se(per_user)
            out[f"{label}_users"] = len(cases)
            out[f"{label}_eval_s"] = round(time.perf_counter() - start, 1)
        return out

    def per_user(self, key: str, label: str) -> npt.NDArray[np.float64] | None:
        file = self.per_user_file(key, label)
        return np.load(file) if file.exists() else None


def rows_of_users(train: Any, fraction: float, seed: int) -> tuple[npt.NDArray[np.int64], int]:
    """Training rows of a fixed random ``fraction`` of the users (at least one)."""
    users = np.unique(train.users)
    chosen = np.random.default_rng(seed).choice(
        users, max(1, round(fraction * len(users))), replace=False
    )
    return np.flatnonzero(np.isin(train.users, chosen)), len(chosen)
