"""Benchmark: sentence encoders tuned on interactions (issue 42), against the frozen MiniLM.

Parts (2 CPU cores; figures accumulate in ``WORK/results.json``, a part with figures is skipped
unless --redo):

- ``tune``: for each target, the ``text-encoder`` recipe on the other two Amazon domains jointly
  (never the target), ``--tune-minutes`` of wall time, validation MRR on the sources' validation
  items picks the step; the encoder is kept in ``WORK/encoder-<target>/``;
- ``zeroshot``: zeroshot pooling on the target with the frozen and the tuned encoder on the same
  cases (LOO full ranking, every user; Games: a fixed 10,000-user sample and LLMRank-20
  ``games-6k.random``): NDCG@10, HR@10, bootstrap SE, and the paired SE of the difference;
- ``cold``: in-domain tuning on the target's ``cold-items`` training split (the held-out items'
  texts are never seen in tuning), zeroshot frozen vs tuned on the new-item cases;
- ``speed``: items/s of encoding 2,000 target item texts (no cache), frozen and tuned;
- ``textseq``, ``pooled`` and ``fewshot``: see ``bench/encoder_fewshot.py``.

  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.encoder_tuning --work runs/encoders \\
      [--targets amazon-scientific] [--parts tune zeroshot speed textseq cold fewshot] [--tune-minutes 20]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench.encoder_common import FROZEN, encoder_dir, tune, zeroshot
from bench.encoder_fewshot import (
    add_options,
    fewshot_plot,
    part_fewshot,
    part_pooled,
    part_textseq,
    report_more,
)
from bench.textseq_common import add_run_options, run_parts
from bench.transfer_common import SHORT, TARGETS, TransferBench, source_name
from bench.zeroshot_headroom import paired_se
from lmrec.core.fitted import ModelContext
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.metrics.evaluate import evaluate
from lmrec.metrics.ranking import ndcg_from_ranks
from lmrec.metrics.slices import mean_se
from lmrec.models.registry import create_model

PARTS = ("tune", "zeroshot", "speed", "textseq", "pooled", "cold", "fewshot")


def part_tune(bench: TransferBench) -> None:
    for target in bench.args.targets:
        key = f"tune/{target}"
        if bench.todo(key):
            name = source_name(target, False)
            joint = load_dataset(name, download=False)
            p = prepare(joint, named_protocol("loo"))
            info = tune(bench, joint, p, encoder_dir(bench, target))
            bench.save(key, {"sources": name, "train_users": p.split.train.n_users, **info})


def part_zeroshot(bench: TransferBench) -> None:
    for target in bench.args.targets:
        p = bench.prepared(target)
        evals = bench.evals(target)
        for label, encoder in (("frozen", FROZEN), ("tuned", str(encoder_dir(bench, target)))):
            key = f"zeroshot/{target}/{label}"
            if not bench.todo(key):
                continue
            context = ModelContext.for_dataset(p.dataset, progress=bench.args.progress)
            model = create_model("zeroshot", zeroshot(bench, encoder), context)
            model.fit(p.split.train)
            bench.save(key, bench.measure(key, model, evals))
        for label in evals:
            a = bench.per_user(f"zeroshot/{target}/tuned", label)
            b = bench.per_user(f"zeroshot/{target}/frozen", label)
            if a is not None and b is not None:
                diff = float(a.mean() - b.mean())
                bench.save(f"zeroshot/{target}/gain/{label}", {"gain": diff, "se": paired_se(a, b)})


def part_cold(bench: TransferBench) -> None:
    for target in bench.args.targets:
        ds = load_dataset(target, download=False)
        p = prepare(ds, named_protocol("cold-items"))
        out = encoder_dir(bench, f"{target}-cold")
        if bench.todo(f"cold/{target}/tune"):
            bench.save(f"cold/{target}/tune", tune(bench, ds, p, out, lr=bench.args.cold_lr))
        counts = p.split.train.item_counts()[p.cases.targets]
        new = counts == 0
        for label, encoder in (("frozen", FROZEN), ("tuned", str(out))):
            key = f"cold/{target}/{label}"
            if not bench.todo(key):
                continue
            model = create_model("zeroshot", zeroshot(bench, encoder), ModelContext.for_dataset(ds))
            model.fit(p.split.train)
            per_user = ndcg_from_ranks(evaluate(model, p.cases, ks=(10,)).ranks, 10)
            new_mean, new_se = mean_se(per_user[new].astype(np.float64))
            warm_mean, warm_se = mean_se(per_user[~new].astype(np.float64))
            bench.save(
                key,
                {
                    "new_ndcg@10": new_mean,
                    "new_se": new_se,
                    "new_cases": int(new.sum()),
                    "warm_ndcg@10": warm_mean,
                    "warm_se": warm_se,
                },
            )


def part_speed(bench: TransferBench) -> None:
    from lmrec.data.templates import item_template
    from lmrec.text.encoders import create_encoder

    for target in bench.args.targets:
        key = f"speed/{target}"
        if not bench.todo(key):
            continue
        ds = load_dataset(target, download=False)
        assert ds.catalog is not None
        texts = item_template(ds.name, ds.catalog).render(ds.catalog, ds.catalog.ids.ids[:2000])
        out: dict[str, Any] = {}
        for label, encoder in (("frozen", FROZEN), ("tuned", str(encoder_dir(bench, target)))):
            built = create_encoder(encoder, threads=bench.args.threads)
            built.encode(texts[:64])  # load the model first
            start = time.perf_counter()
            built.encode(texts)
            out[f"{label}_items_per_s"] = round(len(texts) / (time.perf_counter() - start), 1)
        bench.save(key, out)


def report(bench: TransferBench) -> None:
    r = bench.results
    print("\n| target | tuning (sources, min, best step) | frozen | tuned | gain ± paired SE |")
    print("|---|---|---|---|---|")
    for target in bench.args.targets:
        t = r.get(f"tune/{target}", {})
        for label in ("loo", "llmrank"):
            f, u = r.get(f"zeroshot/{target}/frozen", {}), r.get(f"zeroshot/{target}/tuned", {})
            g = r.get(f"zeroshot/{target}/gain/{label}")
            if f"{label}_ndcg@10" not in f or g is None:
                continue
            scale = 100 if label == "llmrank" else 1
            print(
                f"| {SHORT[target]} {label} | {t.get('sources')}, {t.get('minutes')}, "
                f"{t.get('best_step')} | {scale * f[f'{label}_ndcg@10']:.4f} "
                f"(HR {f[f'{label}_hr@10']:.4f}) | {scale * u[f'{label}_ndcg@10']:.4f} "
                f"(HR {u[f'{label}_hr@10']:.4f}) | "
                f"{scale * g['gain']:+.4f} ± {scale * g['se']:.4f} |"
            )
        cold_f, cold_t = r.get(f"cold/{target}/frozen"), r.get(f"cold/{target}/tuned")
        if cold_f and cold_t:
            print(
                f"| {SHORT[target]} new items (in-domain tuning) | | "
                f"{cold_f['new_ndcg@10']:.4f} ± {cold_f['new_se']:.4f} | "
                f"{cold_t['new_ndcg@10']:.4f} ± {cold_t['new_se']:.4f} | "
                f"({cold_f['new_cases']} cases) |"
            )
        speed = r.get(f"speed/{target}")
        if speed:
            print(
                f"| {SHORT[target]} encoding items/s | | {speed['frozen_items_per_s']} | "
                f"{speed['tuned_items_per_s']} | |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_options(parser, "runs/encoders", PARTS, threads=2)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--tune-minutes", type=float, default=20.0)
    parser.add_argument("--tune-lr", type=float, default=1e-4)
    parser.add_argument("--tune-eval-every", type=int, default=50)
    parser.add_argument("--cold-lr", type=float, default=3e-5, help="cold: in-domain learning rate")
    add_options(parser)
    args = parser.parse_args()
    bench = TransferBench(args)
    steps = {
        "tune": part_tune,
        "zeroshot": part_zeroshot,
        "speed": part_speed,
        "textseq": part_textseq,
        "pooled": part_pooled,
        "cold": part_cold,
        "fewshot": part_fewshot,
    }
    run_parts(bench, steps, list(args.parts))
    report(bench)
    report_more(bench)
    if args.plots:
        fewshot_plot(bench, args.plots)


if __name__ == "__main__":
    main()
