"""TextSeqRec and few-shot parts of ``bench/encoder_tuning.py`` (issue 42).

- ``textseq``: for each target, a text-only TextSeqRec pretrained on the other two Amazon domains
  once with the frozen MiniLM and once with the encoder tuned on those domains (``tune`` part),
  the same budget each, applied unchanged to the target (``tune: none``, same encoder);
- ``pooled``: zeroshot with the pooling the transfer benchmark chooses on the other domains'
  validation items, with the frozen and with the tuned encoder;
- ``fewshot``: for each target and share of its users (``--fractions``), the same budget three
  ways: the source-tuned encoder tuned further on those users' sequences, the untuned MiniLM
  tuned on them (both then rank as zeroshot pooling does), a text-only TextSeqRec trained on them
  over the source-tuned encoder's vectors, and the same TextSeqRec over the frozen MiniLM's (the
  transfer benchmark's "scratch"). Every run validates on the target's validation cases; all are
  scored on the same LOO test cases.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from bench.encoder_common import FROZEN, encoder_dir, tune, zeroshot
from bench.textseq_common import fit
from bench.transfer_common import SHORT, TransferBench, rows_of_users, source_name
from bench.zeroshot_headroom import paired_se
from lmrec.core.fitted import ModelContext
from lmrec.models.registry import create_model
from lmrec.models.textseq import TextSeqRec

ENCODERS = ("frozen", "tuned")
ARMS = (
    "sources-tuned, then target",
    "MiniLM, then target",
    "TextSeqRec, sources-tuned encoder",
    "TextSeqRec from scratch",
)
SCRATCH = ARMS[3]


def gain(bench: TransferBench, key: str, base: str, label: str, name: str = "gain") -> None:
    """Save ``key``'s paired difference from ``base`` on case set ``label`` (when both exist)
    as ``key/name/label``."""
    a, b = bench.per_user(key, label), bench.per_user(base, label)
    if a is not None and b is not None:
        diff = float(a.mean() - b.mean())
        bench.save(f"{key}/{name}/{label}", {"gain": diff, "se": paired_se(a, b)})


def part_textseq(bench: TransferBench) -> None:
    a = bench.args
    for target in a.targets:
        target_p = bench.prepared(target)
        for label in ENCODERS:
            key = f"textseq/{target}/{label}"
            if not bench.todo(key):
                continue
            encoder = FROZEN if label == "frozen" else str(encoder_dir(bench, target))
            p = bench.prepared(source_name(target, False))  # parsed once for both encoders
            config = bench.textseq({"ids": False, "domains": True, "encoder": encoder})
            config = bench.budget(config, a.pretrain_minutes)
            valid = bench.sample(p.split.valid, a.valid_users, 4)
            built, info = fit(bench, p.dataset, p, "textseq", config, None, valid)
            assert isinstance(built, TextSeqRec)
            out = bench.work / f"textseq-{target}-{label}"
            built.save(out)
            applied = {"pretrained": str(out), "tune": "none"}  # the checkpoint's encoder
            model, _ = fit(bench, target_p.dataset, target_p, "textseq", applied)
            bench.save(key, {**info, **bench.measure(key, model, bench.evals(target))})
        for label in bench.evals(target):
            gain(bench, f"textseq/{target}/tuned", f"textseq/{target}/frozen", label)


def part_pooled(bench: TransferBench) -> None:
    """zeroshot with the pooling chosen on the other domains' validation items (the transfer
    benchmark's choice, made with the frozen encoder) and the frozen or the tuned encoder."""
    from bench.transfer_pooling import chosen_for

    for target in bench.args.targets:
        choice = chosen_for(bench, target)
        choice.pop("source_gain")
        p = bench.prepared(target)
        for label in ENCODERS:
            key = f"pooled/{target}/{label}"
            if bench.todo(key):
                encoder = FROZEN if label == "frozen" else str(encoder_dir(bench, target))
                config = {**choice, **zeroshot(bench, encoder)}
                built, info = fit(bench, p.dataset, p, "zeroshot", config)
                info.update(pooling=choice)
                bench.save(key, {**info, **bench.measure(key, built, bench.evals(target))})
        for label in bench.evals(target):
            gain(bench, f"pooled/{target}/tuned", f"pooled/{target}/frozen", label)
            gain(bench, f"pooled/{target}/tuned", f"zeroshot/{target}/frozen", label, "vs-default")


def part_fewshot(bench: TransferBench) -> None:
    a = bench.args
    for target in a.fewshot_targets:
        p = bench.prepared(target)
        evals = {"loo": bench.evals(target)["loo"]}
        for fraction in a.fractions:
            rows, n_users = rows_of_users(p.split.train, fraction, a.seed + 3)
            minutes = a.full_minutes if fraction >= 1 else a.fewshot_minutes
            bases = {ARMS[0]: str(encoder_dir(bench, target)), ARMS[1]: FROZEN}
            for n, (arm, base) in enumerate(bases.items()):
                key = f"fewshot/{target}/{fraction:g}/{arm}"
                if not bench.todo(key):
                    continue
                out = encoder_dir(bench, f"{target}-few{fraction:g}-{n}")
                info = tune(bench, p.dataset, p, out, base=base, rows=rows, minutes=minutes)
                context = ModelContext.for_dataset(p.dataset, progress=a.progress)
                model = create_model("zeroshot", zeroshot(bench, str(out)), context)
                model.fit(p.split.train)  # the vocabulary only: popularity weight is 0
                info.update(fraction=fraction, train_users=n_users)
                bench.save(key, {**info, **bench.measure(key, model, evals)})
            textseq = {ARMS[2]: {"encoder": str(encoder_dir(bench, target))}, SCRATCH: {}}
            for arm, encoder in textseq.items():
                key = f"fewshot/{target}/{fraction:g}/{arm}"
                if not bench.todo(key):
                    continue
                config = bench.budget(bench.textseq({"ids": False, **encoder}), minutes)
                built, info = fit(bench, p.dataset, p, "textseq", config, rows, bench.valid(target))
                info.update(fraction=fraction, train_users=n_users)
                bench.save(key, {**info, **bench.measure(key, built, evals)})


def report_more(bench: TransferBench) -> None:
    """The TextSeqRec rows and the few-shot table (NDCG@10 and the ratio to scratch)."""
    r = bench.results
    rows = {"textseq": "TextSeqRec ← sources", "pooled": "zeroshot, pooling from sources"}
    for target, (part, what) in itertools.product(bench.args.targets, rows.items()):
        for label in ("loo", "llmrank"):
            f, u = r.get(f"{part}/{target}/frozen", {}), r.get(f"{part}/{target}/tuned", {})
            g = r.get(f"{part}/{target}/tuned/gain/{label}")
            if f"{label}_ndcg@10" not in f or f"{label}_ndcg@10" not in u or g is None:
                continue
            scale = 100 if label == "llmrank" else 1
            print(
                f"| {SHORT[target]} {label}, {what} | | "
                f"{scale * f[f'{label}_ndcg@10']:.4f} (HR {f[f'{label}_hr@10']:.4f}) | "
                f"{scale * u[f'{label}_ndcg@10']:.4f} (HR {u[f'{label}_hr@10']:.4f}) | "
                f"{scale * g['gain']:+.4f} ± {scale * g['se']:.4f} |"
            )
    print("\n| target | users | " + " | ".join(ARMS) + " | best encoder / scratch |")
    print("|---|---|" + "---|" * (len(ARMS) + 1))
    for target in bench.args.fewshot_targets:
        for fraction in bench.args.fractions:
            got = [r.get(f"fewshot/{target}/{fraction:g}/{arm}") for arm in ARMS]
            if any(x is None for x in got):
                continue
            ndcg = [x["loo_ndcg@10"] for x in got if x is not None]
            cells = " | ".join(
                f"{x['loo_ndcg@10']:.4f} ({x.get('best_step', x.get('best_epoch'))})"
                for x in got
                if x is not None
            )
            users = got[0]["train_users"] if got[0] else 0
            ratio = max(ndcg[:-1]) / ndcg[-1] if ndcg[-1] else float("nan")
            print(f"| {SHORT[target]} | {fraction:.0%} ({users}) | {cells} | {ratio:.2f}× |")


def fewshot_plot(bench: TransferBench, out: Path) -> None:
    """NDCG@10 against the share of target users, one line per arm and target; the frozen
    encoder's zeroshot (no target training) as a dotted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.transfer_report import finish_share_plot

    r = bench.results
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for colour, target in zip(("C0", "C1", "C2"), bench.args.fewshot_targets, strict=False):
        for arm, style in zip(ARMS, ("-o", "-^", "-.d", "--s"), strict=True):
            points = [
                (100 * f, r[k]["loo_ndcg@10"])
                for f in sorted(bench.args.fractions)
                if (k := f"fewshot/{target}/{f:g}/{arm}") in r
            ]
            if points:
                x, y = zip(*points, strict=True)
                ax.plot(x, y, style, color=colour, label=f"{SHORT[target]}, {arm}", markersize=4)
        frozen = r.get(f"zeroshot/{target}/frozen")
        if frozen:
            ax.axhline(frozen["loo_ndcg@10"], color=colour, linestyle=":", linewidth=1)
    title = "Few-shot on the target: four arms, the same budget"
    finish_share_plot(fig, ax, title, out / "encoder-fewshot.png", legend_size=6)
    plt.close(fig)


def add_options(parser: Any) -> None:
    from bench.transfer_common import OFFICE, SCIENTIFIC, TARGETS

    parser.add_argument("--pretrain-minutes", type=float, default=4.0)
    parser.add_argument(
        "--fewshot-targets", nargs="+", choices=TARGETS, default=[SCIENTIFIC, OFFICE]
    )
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.05, 0.1, 1.0])
    parser.add_argument("--fewshot-minutes", type=float, default=1.5)
    parser.add_argument("--full-minutes", type=float, default=3.0)
    parser.add_argument("--no-prior", dest="prior", action="store_false")
    parser.add_argument("--plots", type=Path, help="write encoder-fewshot.png into this folder")
