"""Benchmark: TextSeqRec (issue 5) in every mode, one table and two plots.

Parts (each trains on 2 CPU cores within a wall-time budget, early-stopping on validation only):

- ``indomain``: ML-1M leave-one-out; SASRec and TextSeqRec (text + ID: ``textseq`` starts its ID
  table from the text's principal components, ``textseq-add`` adds adapted text) with one budget;
- ``pretrain``: TextSeqRec text-only on ML-1M (the source of transfer and the ML-1M single-domain
  model of the joint comparison);
- ``zeroshot``: the ML-1M model applied to Amazon Games unchanged, next to lmrec's zero-shot text
  recommender and their rank-fusion ensemble (LLMRank 20 candidates, ``games-6k.random``);
- ``fewshot``: 1/5/10/100% of Games users; pretrained + adapter (and + LoRA at 5%) vs the same
  architecture from scratch;
- ``joint``: one model on ML-1M + Games (each history scored against its own domain's items),
  evaluated on each, next to the same architecture trained on each domain alone for the same
  number of epochs (``--joint-epochs``);
- ``distill``: a one-layer student over the last 50 items of the ML-1M in-domain model, with the
  teacher's top-k distribution cached once (``--distill-top-k``) and labels-only.

Figures accumulate in ``WORK/results.json`` (a part with figures is skipped; --redo reruns it);
``bench/textseq_report.py`` prints the table and writes the plots, and runs at the end.

  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.textseq --work runs/textseq [--parts ..]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.textseq_common import (
    GAMES,
    PARTS,
    SIDE_BY_SIDE,
    TEXT_ID,
    Bench,
    add_run_options,
    fit,
    measure,
    run_parts,
)
from lmrec.core.recommender import Recommender
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.protocols.base import EvalCases


def part_indomain(bench: Bench) -> None:
    p = bench.prepared("ml-1m")
    shared = {} if bench.args.indomain_dropout is None else {"dropout": bench.args.indomain_dropout}
    fast = {"ids": True, "train": {"lr": 3e-3}, **shared}
    runs = {
        "sasrec": ("sasrec", shared),
        "textseq": ("textseq", bench.textseq({**fast, **TEXT_ID})),
        "textseq-add": ("textseq", bench.textseq(fast)),
    }
    for label, (model, config) in runs.items():
        key = f"indomain/{label}"
        if label not in bench.args.indomain_models or not bench.todo(key):
            continue
        config = bench.length(config, bench.args.ml1m_epochs, bench.args.ml1m_minutes)
        built, info = fit(bench, p.dataset, p, model, config, None, p.split.valid, f"ml1m-{label}")
        bench.save(key, {**info, **measure(built, bench.evals("ml-1m"))})


def part_pretrain(bench: Bench) -> None:
    if not bench.todo("pretrain/ml-1m"):
        return
    p = bench.prepared("ml-1m")
    config = bench.budget(bench.textseq({"ids": False}), bench.args.pretrain_minutes)
    built, info = fit(bench, p.dataset, p, "textseq", config, None, p.split.valid, "ml1m-text")
    bench.save("pretrain/ml-1m", {**info, **measure(built, bench.evals("ml-1m"))})


def part_zeroshot(bench: Bench) -> None:
    p = bench.prepared(GAMES)
    source = str(bench.work / "ml1m-text")
    transfer = {"pretrained": source, "tune": "none"}
    runs: dict[str, tuple[str, dict[str, Any]]] = {
        "zeroshot (lmrec text)": ("zeroshot", {}),
        "textseq ML-1M→Games": ("textseq", transfer),
        "textseq, no re-centring": ("textseq", {**transfer, "recenter": False}),
        "ensemble (RRF of both)": (
            "ensemble",
            {"members": [{"model": "textseq", "config": transfer}, {"model": "zeroshot"}]},
        ),
    }
    for label, (model, config) in runs.items():
        key = f"zeroshot/{label}"
        if not bench.todo(key):
            continue
        built, info = fit(bench, p.dataset, p, model, config)
        bench.save(key, {**info, **measure(built, bench.evals(GAMES))})


def part_fewshot(bench: Bench) -> None:
    p = bench.prepared(GAMES)
    train = p.split.train
    users = np.unique(train.users)
    source = str(bench.work / "ml1m-text")
    for fraction in bench.args.fractions:
        chosen = np.random.default_rng(bench.args.seed + 3).choice(
            users, max(1, round(fraction * len(users))), replace=False
        )
        rows = np.flatnonzero(np.isin(train.users, chosen))
        minutes = bench.args.full_minutes if fraction >= 1 else bench.args.fewshot_minutes
        runs: dict[str, dict[str, Any]] = {
            "pretrained+adapter": {"pretrained": source, "tune": "adapter"},
            "scratch": bench.textseq({"ids": False}),
        }
        if fraction == 0.05:
            runs["pretrained+adapter+lora"] = {"pretrained": source, "tune": "adapter+lora"}
        for label, config in runs.items():
            key = f"fewshot/{fraction:g}/{label}"
            if not bench.todo(key):
                continue
            config = bench.budget(config, minutes)
            built, info = fit(bench, p.dataset, p, "textseq", config, rows, bench.valid(GAMES))
            info.update(fraction=fraction, train_users=len(chosen))
            bench.save(key, {**info, **measure(built, bench.evals(GAMES))})


def part_joint(bench: Bench) -> None:
    """One model on ML-1M + Games (each history scored against its own domain's items), and the
    same architecture on each domain alone, all for the same number of epochs."""
    epochs = bench.args.joint_epochs
    config = bench.train(bench.textseq({"ids": False}), epochs=epochs)
    joint_models = bench.args.joint_models
    if "joint" in joint_models and bench.todo("joint/train"):
        joint = load_dataset(f"ml-1m+{GAMES}", download=False)
        p = prepare(joint, named_protocol("loo"))
        valid = bench.sample(
            p.split.valid,
            bench.args.valid_users + bench.prepared("ml-1m").dataset.interactions.n_users,
            4,
        )
        joint_config = {**config, "domains": True}
        _, info = fit(bench, joint, p, "textseq", joint_config, None, valid, "joint")
        bench.save("joint/train", info)
    for name in ("ml-1m", GAMES):
        key = f"joint/{name}"
        if "joint" not in joint_models or not bench.todo(key):
            continue
        p = bench.prepared(name)
        attach = {"pretrained": str(bench.work / "joint"), "tune": "none", "recenter": False}
        built, info = fit(bench, p.dataset, p, "textseq", attach)
        bench.save(key, {**info, **measure(built, bench.evals(name))})
    for name in ("ml-1m", GAMES):
        key = f"joint/{name} alone"
        if "alone" in joint_models and bench.todo(key):
            p = bench.prepared(name)
            built, info = fit(bench, p.dataset, p, "textseq", config, None, bench.valid(name))
            bench.save(key, {**info, **measure(built, bench.evals(name))})


def users_per_second(model: Recommender, cases: EvalCases) -> float:
    from lmrec.core.query import QueryBatch

    batch = QueryBatch(cases.users, cases.histories)
    model.score(QueryBatch(cases.users[:64], cases.histories.take(np.arange(64))))  # warm-up
    start = time.perf_counter()
    model.score(batch)
    return len(cases) / (time.perf_counter() - start)


def part_distill(bench: Bench) -> None:
    import torch

    from lmrec.models.textseq import TextSeqRec

    torch.set_num_threads(bench.args.threads)  # teacher and students score on the same threads
    p = bench.prepared("ml-1m")
    test = bench.evals("ml-1m")
    teacher_dir = bench.work / "ml1m-textseq"
    if bench.todo("distill/teacher"):
        teacher = TextSeqRec.load(teacher_dir)
        bench.save(
            "distill/teacher",
            {
                "users_per_s": users_per_second(teacher, p.split.test),
                "params": teacher.parameter_counts()[1],
                **measure(teacher, test),
            },
        )
    # one layer over the last 50 items (the teacher: 2 over 200); windows: older items train too
    student = bench.textseq(
        {"layers": 1, "max_len": 50, **TEXT_ID, "train": {"lr": 3e-3, "windows": True}}
    )
    top_k = bench.args.distill_top_k
    runs = {
        "kl": (
            f"student (KL top-{top_k} + labels)",
            {**student, "teacher": str(teacher_dir), "distill_top_k": top_k},
        ),
        "labels": ("student, labels only", student),
    }
    for name, (label, config) in runs.items():
        key = f"distill/{label}"
        if name not in bench.args.distill_models or not bench.todo(key):
            continue
        config = bench.length(config, bench.args.student_epochs, bench.args.student_minutes)
        built, info = fit(bench, p.dataset, p, "textseq", config, None, p.split.valid)
        info["users_per_s"] = users_per_second(built, p.split.test)
        bench.save(key, {**info, **measure(built, test)})


STEPS: dict[str, Callable[[Bench], None]] = {
    "indomain": part_indomain,
    "pretrain": part_pretrain,
    "zeroshot": part_zeroshot,
    "fewshot": part_fewshot,
    "joint": part_joint,
    "distill": part_distill,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_options(parser, "runs/textseq", PARTS, threads=2)
    parser.add_argument("--ml1m-minutes", type=float, default=7.0)
    parser.add_argument(
        "--ml1m-epochs",
        type=int,
        default=0,
        help="in-domain: train exactly this many epochs, cosine-decayed, validating every 2nd "
        "(0 = --ml1m-minutes at the trainer's constant rate, with early stopping)",
    )
    parser.add_argument(
        "--indomain-dropout",
        type=float,
        help="dropout of every in-domain model (default: each model's own)",
    )
    # run a part's models in two processes (separate --work) to train them side by side
    for part, models in SIDE_BY_SIDE.items():
        parser.add_argument(
            f"--{part}-models",
            nargs="+",
            choices=models,
            default=list(models),
            help=f"the {part} part's models to train (default: all)",
        )
    parser.add_argument("--pretrain-minutes", type=float, default=7.0)
    parser.add_argument("--fewshot-minutes", type=float, default=1.0)
    parser.add_argument("--full-minutes", type=float, default=2.5)
    parser.add_argument(
        "--joint-epochs", type=int, default=2, help="epochs of the joint and single-domain models"
    )
    parser.add_argument("--student-minutes", type=float, default=3.0)
    parser.add_argument(
        "--student-epochs", type=int, default=0, help="as --ml1m-epochs, for the students"
    )
    parser.add_argument(
        "--distill-top-k", type=int, default=64, help="teacher items cached per position"
    )
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.05, 0.1, 1.0])
    parser.add_argument(
        "--prior", action="store_true", help="TextSeqRec models trained here add the text prior"
    )
    args = parser.parse_args()
    bench = Bench(args)
    run_parts(bench, STEPS, args.parts)
    from bench.textseq_report import report  # read at the end, so it may be edited during a run

    report(bench.results, bench.work)


if __name__ == "__main__":
    main()
