"""The ``letters`` part of ``bench/llm_lora.py``: what the letter adapter of the re-ranker learns.

The re-ranker's training cases (the last ``--positions`` items of each ML-100K training
sequence, retrieved by an ``itemknn-seq`` fitted without them; only cases whose target is in the
top 20) are split at random (seed 0) into ``--max-cases`` for training and ``--held-cases``
held out. After each epoch the held-out cases' cross-entropy of the target's letter is measured
against two references: the untuned LM, and the *position prior* (the target's place in the
retriever's order, counted on the training cases with add-one smoothing), which knows nothing
but the retriever's order. An adapter whose held-out loss only reaches the prior has learned
what the retriever already says, and fusion can give it no weight.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.llm_lora_rerank import Cached, lora_settings


def letters(args: argparse.Namespace, cached: Cached) -> None:
    import torch
    import torch.nn.functional as F

    from lmrec.core.fitted import ModelContext
    from lmrec.data.registry import load_dataset
    from lmrec.experiment import named_protocol, prepare
    from lmrec.llm.lora.fusion import HeldOut, tail_cases
    from lmrec.models.llm_lora import LoraReranker
    from lmrec.models.registry import create_model

    if args.max_cases < 1:  # rerank reads 0 as "every case"; here it would train on none
        raise SystemExit("letters: --max-cases must be at least 1")
    ds = load_dataset(args.dataset)
    split = prepare(ds, named_protocol("loo"), "test").split
    context = ModelContext.for_dataset(ds, progress=False)
    for model_name in args.models.split(","):

        def run(model_name: str = model_name) -> dict[str, Any]:
            settings = lora_settings(args, model_name)
            model = create_model("llm-lora", settings, context)
            assert isinstance(model, LoraReranker)
            cases, before = tail_cases(split.train, args.positions)
            model.fit_retriever(before)  # the titles, and the retriever fitted without the cases
            assert model.retriever is not None
            held_out = HeldOut.of(model.retriever, cases, 20)
            order = np.random.default_rng(0).permutation(len(held_out.rows))
            if args.max_cases + args.held_cases > len(order):
                raise SystemExit(
                    f"--max-cases {args.max_cases} + --held-cases {args.held_cases} > "
                    f"{len(order)} training cases with a hit"
                )
            train = np.sort(order[: args.max_cases])
            held = np.sort(order[args.max_cases : args.max_cases + args.held_cases])

            def prompts(places: np.ndarray) -> list[list[int]]:
                return model.prompts(
                    [held_out.histories[int(i)] for i in places],
                    held_out.cand[held_out.rows[places]],
                )

            rows, held_rows = prompts(train), prompts(held)
            targets = held_out.columns[train].tolist()
            held_targets = torch.as_tensor(held_out.columns[held].tolist())
            prior = np.bincount(targets, minlength=20) + 1.0
            prior_ce = float(-np.log(prior / prior.sum())[held_targets.numpy()].mean())
            lm, tokens = model.language_model(), model.letter_tokens()

            def held_ce() -> float:  # negated: train() keeps the epoch with the highest value
                logits = torch.as_tensor(lm.scores(held_rows, tokens))
                return -float(F.cross_entropy(logits, held_targets))

            started = time.perf_counter()
            report = lm.train(rows, targets, tokens, held_ce, "neg_held_ce")
            return {
                "config": settings,
                "hit_cases": len(held_out.rows),
                "training_cases": len(train),
                "held_cases": len(held),
                "uniform_ce": round(float(np.log(20)), 4),
                "prior_ce": round(prior_ce, 4),
                "untuned_ce": round(-report.extra["untuned_validation_neg_held_ce"], 4),
                "epochs": [
                    {
                        "epoch": e.epoch,
                        "train_loss": round(e.loss, 4),
                        "held_ce": round(-(e.metric or 0.0), 4),
                        "train_s": round(e.seconds, 1),
                    }
                    for e in report.epochs
                ],
                "train_seconds": round(time.perf_counter() - started, 1),
            }

        name = Path(model_name).name
        out = cached(
            f"letters-{args.dataset}-{name}-{args.max_cases}-{args.lr:g}-{args.epochs}", run
        )
        print(
            f"{model_name}: held-out letter CE over {out['held_cases']} cases — uniform "
            f"{out['uniform_ce']}, position prior {out['prior_ce']}, untuned {out['untuned_ce']}"
        )
        for e in out["epochs"]:
            print(f"  epoch {e['epoch']}: train loss {e['train_loss']}, held-out {e['held_ce']}")
