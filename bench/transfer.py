"""Benchmark: TextSeqRec transfer across Amazon domains (issue 26), one table and two plots.

Parts (2 CPU cores; every trained model early-stops on validation only):

- ``pretrain``: one text-only TextSeqRec (text prior, per-domain batches) on every Amazon domain
  but the target, jointly (``--source-sets both`` adds a second source set with ML-1M);
- ``zeroshot``: each source model applied unchanged to its held-out target, next to lmrec
  ``zeroshot`` on the same cases (Games: LOO on a fixed user sample and LLMRank-20
  ``games-6k.random``; Scientific and Office: LOO on every user), with the paired bootstrap SE;
- ``pooling``: the zero-shot model's pooling chosen on the other domains' validation items and
  applied unchanged to the target (``bench/transfer_pooling.py``);
- ``fewshot``: 1/5/10/100% of the target's users: pretrained + adapter (+ LoRA at 5%) against
  the same architecture from scratch, trainable share recorded;
- ``indomain``: SASRec against TextSeqRec (text + ID) on Scientific and Office;
- ``fusion``: in-domain TextSeqRec fused (weighted RRF) with the zero-shot model at its best
  pooling, both chosen on the target's validation items;
- ``cross``: the 556 Games ∩ Scientific users (``bench/transfer_cross.py``).

Figures accumulate in ``WORK/results.json`` (a part with figures is skipped; --redo reruns it);
``bench/transfer_report.py`` prints the table and writes the plots, and runs at the end.

  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.transfer --work runs/transfer
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.textseq_common import TEXT_ID, add_run_options, fit, run_parts
from bench.transfer_common import (
    TARGETS,
    TransferBench,
    rows_of_users,
    source_name,
)
from bench.transfer_pooling import part_fusion, part_pooling
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.models.textseq import TextSeqRec

PARTS = ("pretrain", "zeroshot", "pooling", "fewshot", "indomain", "fusion", "cross")


def source_variants(bench: TransferBench) -> list[bool]:
    """Without ML-1M among the sources, with it, or both (``--source-sets``)."""
    return {"amazon": [False], "with-ml1m": [True], "both": [False, True]}[bench.args.source_sets]


def source_dir(bench: TransferBench, target: str, with_ml1m: bool) -> Path:
    """Where the model pretrained for ``target`` lives (under --sources, default WORK)."""
    root = bench.args.sources or bench.work
    return root / f"source-{target}{'-ml1m' if with_ml1m else ''}"


def part_pretrain(bench: TransferBench) -> None:
    for target in bench.args.targets:
        for with_ml1m in source_variants(bench):
            name = source_name(target, with_ml1m)
            key = f"pretrain/{name}"
            if not bench.todo(key):
                continue
            joint = load_dataset(name, download=False)
            p = prepare(joint, named_protocol("loo"))
            config = bench.textseq({"ids": False, "domains": True})
            config = bench.budget(config, bench.args.pretrain_minutes)
            valid = bench.sample(p.split.valid, bench.args.valid_users, 4)
            out = source_dir(bench, target, with_ml1m)
            built, info = fit(bench, joint, p, "textseq", config, None, valid)
            assert isinstance(built, TextSeqRec)
            built.save(out)
            bench.save(key, {**info, "train_users": joint.interactions.n_users})


def part_zeroshot(bench: TransferBench) -> None:
    for target in bench.args.targets:
        p = bench.prepared(target)
        runs: dict[str, tuple[str, dict[str, Any]]] = {"zeroshot (lmrec text)": ("zeroshot", {})}
        for with_ml1m in source_variants(bench):
            transfer = {"pretrained": str(source_dir(bench, target, with_ml1m)), "tune": "none"}
            name = source_name(target, with_ml1m)
            runs[f"textseq ← {name}"] = ("textseq", transfer)
            for alpha in bench.args.transformer_weights:  # how much the Transformer carries
                runs[f"textseq ← {name}, Transformer ×{alpha:g}"] = (
                    "textseq",
                    {**transfer, "transformer_weight": alpha},
                )
        for label, (model, config) in runs.items():
            key = f"zeroshot/{target}/{label}"
            if bench.todo(key):
                built, info = fit(bench, p.dataset, p, model, config)
                bench.save(key, {**info, **bench.measure(key, built, bench.evals(target))})


def part_fewshot(bench: TransferBench) -> None:
    for target in bench.args.targets:
        p = bench.prepared(target)
        source = str(source_dir(bench, target, False))
        for fraction in bench.args.fractions:
            rows, n_users = rows_of_users(p.split.train, fraction, bench.args.seed + 3)
            minutes = bench.args.full_minutes if fraction >= 1 else bench.args.fewshot_minutes
            runs: dict[str, dict[str, Any]] = {
                "pretrained+adapter": {"pretrained": source, "tune": "adapter"},
                "scratch": bench.textseq({"ids": False}),
            }
            if fraction == 0.05:
                runs["pretrained+adapter+lora"] = {"pretrained": source, "tune": "adapter+lora"}
                runs["pretrained, all weights"] = {"pretrained": source, "tune": "all"}
                runs["scratch, no prior"] = {"ids": False, "prior": False}
            for label, config in runs.items():
                key = f"fewshot/{target}/{fraction:g}/{label}"
                if not bench.todo(key):
                    continue
                config = bench.budget(config, minutes)
                built, info = fit(bench, p.dataset, p, "textseq", config, rows, bench.valid(target))
                info.update(fraction=fraction, train_users=n_users)
                bench.save(key, {**info, **bench.measure(key, built, bench.evals(target))})


def part_indomain(bench: TransferBench) -> None:
    shared = {} if bench.args.indomain_dropout is None else {"dropout": bench.args.indomain_dropout}
    runs = {
        "sasrec": ("sasrec", shared),
        "textseq (text + ID)": ("textseq", {**TEXT_ID, "train": {"lr": 3e-3}, **shared}),
        # UniSRec's transductive fusion (adapted text + ID) with the text prior
        "textseq (text + ID, add, prior)": ("textseq", {"ids": True, "prior": True, **shared}),
        "zeroshot (lmrec text)": ("zeroshot", {}),
    }
    dropout = bench.args.indomain_dropout
    suffix = "" if dropout is None else f", dropout {dropout:g}"
    for target in bench.args.indomain_targets:
        p = bench.prepared(target)
        for label, (model, config) in runs.items():
            key = f"indomain/{target}/{label}{suffix}"
            if not bench.todo(key) or (
                bench.args.indomain_models and label not in bench.args.indomain_models
            ):
                continue
            if model != "zeroshot":
                config = bench.length(config, bench.args.indomain_epochs, 0)
            built, info = fit(bench, p.dataset, p, model, config, None, bench.valid(target))
            bench.save(key, {**info, **bench.measure(key, built, bench.evals(target))})


def part_cross(bench: TransferBench) -> None:
    from bench.transfer_cross import run_cross

    a = bench.args
    run_cross(
        bench,
        a.cross_transferred or source_dir(bench, "amazon-scientific", False),
        a.cross_joint or source_dir(bench, "amazon-office", False),
    )


STEPS: dict[str, Callable[[TransferBench], None]] = {
    "pretrain": part_pretrain,
    "zeroshot": part_zeroshot,
    "pooling": part_pooling,
    "fewshot": part_fewshot,
    "indomain": part_indomain,
    "fusion": part_fusion,
    "cross": part_cross,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_options(parser, "runs/transfer", PARTS, threads=1)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--indomain-targets", nargs="+", choices=TARGETS, default=list(TARGETS[1:]))
    parser.add_argument(
        "--indomain-models", nargs="*", default=[], help="indomain: only these labels (default all)"
    )
    parser.add_argument(
        "--sources", type=Path, help="folder of the pretrained source models (default: WORK)"
    )
    parser.add_argument(
        "--transformer-weights",
        type=float,
        nargs="*",
        default=[0.0, 0.5],
        help="zeroshot: also score with the Transformer's scores times these (0 = prior only)",
    )
    parser.add_argument(
        "--source-sets",
        choices=("amazon", "with-ml1m", "both"),
        default="amazon",
        help="pretrain on the other Amazon domains, on them and ML-1M, or both",
    )
    parser.add_argument("--pretrain-minutes", type=float, default=8.0)
    parser.add_argument("--fewshot-minutes", type=float, default=1.0)
    parser.add_argument("--full-minutes", type=float, default=3.0)
    parser.add_argument("--indomain-epochs", type=int, default=60)
    parser.add_argument("--indomain-dropout", type=float)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.01, 0.1, 1.0])
    parser.add_argument(
        "--cross-transferred",
        type=Path,
        help="cross: the model pretrained without Scientific (default: WORK/source-amazon-scientific)",
    )
    parser.add_argument(
        "--cross-joint",
        type=Path,
        help="cross: the model trained on Games + Scientific (default: WORK/source-amazon-office)",
    )
    parser.add_argument("--no-prior", dest="prior", action="store_false")
    args = parser.parse_args()
    bench = TransferBench(args)
    run_parts(bench, STEPS, args.parts)
    from bench.transfer_report import report

    report([bench.work], bench.work)


if __name__ == "__main__":
    main()
