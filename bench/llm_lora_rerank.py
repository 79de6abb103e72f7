"""The ``rerank`` part of ``bench/llm_lora.py``: LlamaRec's task with fusion, on ML-100K or ML-1M.

Leave-one-out full ranking, all users, history masked. Per model: the retriever alone; the
untuned LM alone and fused (weight chosen on the validation cases); the LoRA-tuned LM alone and
fused (trained on the last ``--positions`` items of each training sequence, retrieved by a
retriever fitted without them; epoch and weight chosen on the validation cases). The test cases'
letter logits are computed once per LM and every row derived from them, so "alone" and "fused"
rest on the same scores; only the cases whose target the retriever put in its top 20 are sent to
the LM (for the others both metrics are 0 whatever it says), so the figures are those of all
users at a quarter of the cost. Each row keeps its per-user NDCG@10 for the paired-bootstrap SE.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.llm.lora.fusion import Fusion, column_ranks, retrieved, retriever_part
from lmrec.metrics.ranking import ndcg_from_ranks
from lmrec.models.llm_lora import LoraReranker

Cached = Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]]


def _metrics(ranks: npt.NDArray[np.int64]) -> dict[str, Any]:
    per_case = ndcg_from_ranks(ranks.astype(np.float64), 10)
    return {
        "ndcg@10": round(float(per_case.mean()), 5),
        "hr@10": round(float((ranks < 10).mean()), 5),
        "ndcg_per_case": [round(float(v), 6) for v in per_case],
    }


def target_ranks(
    cand: npt.NDArray[np.int32], scores: npt.NDArray[np.float64], targets: npt.NDArray[np.int32]
) -> npt.NDArray[np.int64]:
    """0-based rank of each target: its place among the candidates by ``scores`` (ties against
    it), or ``depth`` when the retriever missed it (below every candidate)."""
    hit = cand == targets[:, None]
    found = hit.any(axis=1)
    ranks = column_ranks(scores, hit.argmax(axis=1))
    out: npt.NDArray[np.int64] = np.where(found, ranks, cand.shape[1]).astype(np.int64)
    return out


def lora_settings(args: argparse.Namespace, model_name: str) -> dict[str, Any]:
    """The re-ranker's settings from the bench's options (batch 4, top 20)."""
    return {
        "base": model_name,
        "retriever": args.retriever,
        "depth": 20,
        "epochs": args.epochs,
        "lr": args.lr,
        "threads": args.threads,
        "batch_size": 4,
        "train_positions": args.positions,
        "max_cases": args.max_cases,
        "target_modules": args.lora_modules.split(","),
    }


def _title(
    args: argparse.Namespace, model_name: str, ds: Any, split: Any, cases: Any, context: Any
) -> Any:
    """Title likelihood in place of the letters (``bench/llm_rerank_title.py``)."""
    from bench.llm_rerank_title import title_rerank
    from lmrec.models.registry import create_model

    retriever = create_model(args.retriever, {}, context).fit(split.train, split.valid)
    return title_rerank(
        args,
        model_name,
        ds,
        split,
        cases,
        retriever,
        lambda cand, scores, targets: _metrics(target_ranks(cand, scores, targets)),
    )


def rerank(args: argparse.Namespace, cached: Cached) -> None:
    from lmrec.core.fitted import ModelContext
    from lmrec.core.query import QueryBatch
    from lmrec.data.registry import load_dataset
    from lmrec.experiment import named_protocol, prepare
    from lmrec.metrics.evaluate import evaluate
    from lmrec.models.registry import create_model

    ds = load_dataset(args.dataset)
    prepared = prepare(ds, named_protocol("loo"), "test")
    split, cases = prepared.split, prepared.cases
    context = ModelContext.for_dataset(ds, progress=True)
    batch = QueryBatch(cases.users, cases.histories)
    targets = np.asarray(cases.targets, dtype=np.int32)
    tag = f"{args.dataset}-{args.retriever}"

    def alone() -> dict[str, Any]:
        model = create_model(args.retriever, {}, context).fit(split.train, split.valid)
        m = evaluate(model, cases, ks=(10,))
        _, cand, base = retrieved(model, batch, 20)
        mine = _metrics(target_ranks(cand, retriever_part("rank", base), targets))
        return {**mine, "evaluate_ndcg@10": m.value("ndcg@10"), "users": len(cases)}

    cached(f"rerank-{tag}", alone)
    for model_name in args.models.split(","):
        settings = lora_settings(args, model_name)
        for kind in args.kinds.split(","):
            if kind == "title":
                run_title = partial(_title, args, model_name, ds, split, cases, context)
                cached(f"rerank-{tag}-{Path(model_name).name}-title", run_title)
                continue

            def run(kind: str = kind, settings: dict[str, Any] = settings) -> dict[str, Any]:
                started = time.perf_counter()
                model = create_model("llm-lora", settings, context)
                assert isinstance(model, LoraReranker)
                if kind == "untuned":
                    model.fit_retriever(split.train, split.valid).choose_fusion(split.valid)
                else:
                    model.fit(split.train, split.valid)
                fit_seconds = time.perf_counter() - started
                assert model.retriever is not None
                _, cand, base = retrieved(model.retriever, batch, 20)
                started = time.perf_counter()
                # only cases whose target is among the candidates need the LM: for the others
                # the target ranks below all 20 whatever the LM says (NDCG@10 and HR@10 are 0)
                hits = np.flatnonzero((cand == targets[:, None]).any(axis=1))
                histories = [cases.histories[int(r)].tolist() for r in hits]
                lm = np.where(cand >= 0, 0.0, -np.inf).astype(np.float32)
                lm[hits] = model.letter_scores(histories, cand[hits])
                out: dict[str, Any] = {
                    "fit_seconds": round(fit_seconds, 1),
                    "score_seconds": round(time.perf_counter() - started, 1),
                    "fusion": model.fusion.to_json(),
                    "config": settings,
                }
                if model.report is not None:
                    out["training"] = model.report.to_json()
                lm_only = Fusion("rank", 1.0).fuse(lm, base)
                out["alone"] = _metrics(target_ranks(cand, lm_only, targets))
                out["fused"] = _metrics(target_ranks(cand, model.fusion.fuse(lm, base), targets))
                return out

            suffix = f"-{args.tag}" if args.tag and kind == "lora" else ""
            cached(f"rerank-{tag}-{Path(model_name).name}-{kind}{suffix}", run)
