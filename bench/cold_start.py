"""Benchmark: new items and thin histories — where text beats IDs, and the hybrid at both ends.

ML-1M (``temporal`` and ``cold-items`` at 10%), Amazon Scientific and Office (``cold-items`` at
10%): pop, itemknn-seq, als, SASRec, LightFM with text features (a peer, in its own
environment), zeroshot, TextSeqRec and the hybrid. For each: NDCG@10 and HR@10 on warm cases
(target seen in training), new-item cases (target never seen) and all cases, with standard
errors and case counts; NDCG@10 with every history cut to its last 2 items (thin users); NDCG@10
by history length; fit and scoring seconds. Figures accumulate in ``WORK/results.json`` (a
part whose figures exist is skipped); ``--report`` prints the table only.

LightFM's environment (a peer's, never a dependency of lmrec; its setup.py needs the legacy
build): python3 -m venv VENV; VENV/bin/pip install "setuptools<70" numpy scipy wheel;
VENV/bin/pip install --no-build-isolation --no-use-pep517 lightfm

Run (docs/results/cold-start.md lists the runs behind its tables):
  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.cold_start --work runs/cold \\
      --lightfm-python VENV/bin/python --epochs 60 --minutes 40 --threads 1
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lmrec.core.fitted import ModelContext
from lmrec.core.query import QueryBatch
from lmrec.core.recommender import ReportsTraining
from lmrec.data.containers import Dataset, Vocabulary
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.experiment.run import Prepared
from lmrec.metrics.evaluate import Evaluation, evaluate
from lmrec.metrics.ranking import ndcg_from_ranks
from lmrec.metrics.slices import HISTORY, NEWNESS, cells, mean_se
from lmrec.models.registry import create_model

HERE = Path(__file__).resolve().parent
RUNS = (
    ("ml-1m", "temporal"),
    ("ml-1m", "cold-items"),
    ("amazon-scientific", "cold-items"),
    ("amazon-office", "cold-items"),
)
MODELS = ("pop", "itemknn-seq", "als", "sasrec", "lightfm", "zeroshot", "textseq", "hybrid")
TRAINED = ("sasrec", "textseq", "hybrid")
THIN = 2


def settings(
    model: str,
    dataset: str,
    minutes: float,
    threads: int,
    epochs: int = 0,
    dropout: float | None = None,
) -> dict[str, Any]:
    """Each model's configuration: defaults, and for the trained ones a wall-time budget and the
    dropout earlier runs chose on validation (0.5 on the sparse Amazon sets, the default 0.2 on
    ML-1M; docs/results/transfer.md), the same for SASRec, TextSeqRec and the hybrid. With
    ``epochs``: exactly that many, cosine-decayed, validated every 2nd, the best kept (the
    in-domain recipe of docs/results/transfer.md); else early stopping (patience 8)."""
    if model not in TRAINED:
        return {}
    train: dict[str, Any] = {"max_minutes": minutes, "threads": threads}
    if epochs:
        train.update(epochs=epochs, schedule="cosine", patience=0, eval_every=2)
    config: dict[str, Any] = {"train": train}
    if dropout is not None:
        config["dropout"] = dropout
    elif dataset.startswith("amazon-"):
        config["dropout"] = 0.5
    return config


class PeerScores:
    """A peer's score rows for the case users, as a recommender the evaluator can rank."""

    name: ClassVar[str] = "lightfm"

    def __init__(self, vocab: Vocabulary, users: npt.NDArray[np.int32], scores: Any) -> None:
        self._vocab = vocab
        self.rows = {int(u): r for r, u in enumerate(users)}
        self.scores = np.asarray(scores, dtype=np.float32)

    @property
    def item_vocab(self) -> Vocabulary:
        return self._vocab

    def score(self, batch: QueryBatch) -> npt.NDArray[np.float32]:
        return self.scores[[self.rows[int(u)] for u in batch.users]]


def text_tokens(
    ds: Dataset, vocab: Vocabulary
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """(item, token) pairs of every item's catalogue text (title and category words), tokens
    found in at least two items."""
    assert ds.catalog is not None
    per_item: list[set[str]] = []
    index = {i: r for r, i in enumerate(ds.catalog.ids.ids)}
    for item in vocab.ids:
        row = index.get(item)
        words: set[str] = set()
        if row is not None:
            for f in ds.catalog.fields:
                words |= set(re.findall(r"[a-z0-9]+", f.text(row).lower()))
        per_item.append(words)
    counts: dict[str, int] = {}
    for words in per_item:
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    tokens = {w: t for t, w in enumerate(sorted(w for w, c in counts.items() if c >= 2))}
    pairs = [(i, tokens[w]) for i, words in enumerate(per_item) for w in words if w in tokens]
    items, toks = (np.array(v, dtype=np.int64) for v in zip(*pairs, strict=True))
    return items, toks, len(tokens)


def run_lightfm(
    prepared: Prepared, python: str, epochs: str
) -> tuple[PeerScores, int, float, float]:
    """LightFM fitted on the training split; the number of epochs (of ``epochs``) with the best
    validation NDCG@10; its test scores."""
    train = prepared.split.train
    items, toks, n_tokens = text_tokens(prepared.dataset, train.item_vocab)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(
            src,
            train_users=train.users,
            train_items=train.items,
            n_users=train.n_users,
            n_items=train.n_items,
            warm=train.item_counts() > 0,
            feature_items=items,
            feature_tokens=toks,
            n_tokens=n_tokens,
            valid_users=prepared.split.valid.users,
            test_users=prepared.cases.users,
        )
        args = [python, str(HERE / "lightfm_worker.py"), str(src), str(dst), epochs, "64", "2", "0"]
        subprocess.run(args, check=True)
        out = np.load(dst)
        best, best_ndcg = 0, -1.0
        valid = prepared.split.valid
        for e in (int(v) for v in epochs.split(",")):
            peer = PeerScores(train.item_vocab, valid.users, out[f"valid_{e}"])
            ndcg = evaluate(peer, valid, ks=(10,)).value("ndcg@10")  # type: ignore[arg-type]
            if ndcg > best_ndcg:
                best, best_ndcg = e, ndcg
        scores = PeerScores(train.item_vocab, prepared.cases.users, out[f"test_{best}"])
        return scores, best, float(out["fit_s"]), float(out["score_s"])


def figures(ev: Evaluation, thin: Evaluation | None, prepared: Prepared) -> dict[str, Any]:
    counts = prepared.split.train.item_counts()[prepared.cases.targets]
    out: dict[str, Any] = {}
    for cell in cells(ev.ranks, counts, NEWNESS):
        out[cell.label] = cell.to_json()
    whole = ndcg_from_ranks(ev.ranks, 10).astype(np.float64)
    mean, se = mean_se(whole)
    out["all"] = {
        "cases": len(whole),
        "ndcg@10": mean,
        "ndcg@10_se": se,
        "hr@10": ev.value("hr@10"),
    }
    out["history"] = [
        c.to_json() for c in cells(ev.ranks, prepared.cases.histories.lengths, HISTORY)
    ]
    if thin is not None:
        t_mean, t_se = mean_se(ndcg_from_ranks(thin.ranks, 10).astype(np.float64))
        out["thin"] = {"ndcg@10": t_mean, "ndcg@10_se": t_se}
    return out


def run_one(prepared: Prepared, model: str, args: argparse.Namespace) -> dict[str, Any]:
    thin_cases = prepared.cases.truncate_histories(THIN)
    if model == "lightfm":
        peer, epochs, fit_s, score_s = run_lightfm(
            prepared, args.lightfm_python, args.lightfm_epochs
        )
        ev = evaluate(peer, prepared.cases, ks=(10,))  # type: ignore[arg-type]
        # its user factors are learned from the whole training history: no thin-history figure
        figs = figures(ev, None, prepared)
        return {**figs, "fit_s": fit_s, "score_s": score_s, "epochs": epochs}
    context = ModelContext.for_dataset(prepared.dataset)
    start = time.perf_counter()
    config = settings(
        model, prepared.dataset.name, args.minutes, args.threads, args.epochs, args.dropout
    )
    fitted = create_model(model, config, context)
    fitted.fit(prepared.split.train, prepared.split.valid)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    ev = evaluate(fitted, prepared.cases, ks=(10,))
    score_s = time.perf_counter() - start
    thin = evaluate(fitted, thin_cases, ks=(10,))
    out = {**figures(ev, thin, prepared), "fit_s": fit_s, "score_s": score_s}
    if isinstance(fitted, ReportsTraining) and fitted.report is not None:
        report = fitted.report.to_json()
        keys = ("epochs_run", "best_epoch", "stopped", "best_validation_ndcg@10")
        out["training"] = {k: report.get(k) for k in keys}
    if hasattr(fitted, "new_item_offset"):
        out["new_item_offset"] = float(fitted.new_item_offset)
    return out


def cell(fig: dict[str, Any], part: str) -> str:
    c = fig.get(part)
    if not c:
        return "-"
    return f"{c['ndcg@10']:.4f} ± {c['ndcg@10_se']:.4f}"


def report(results: dict[str, Any]) -> None:
    print("NDCG@10 ± s.e.; thin = every history cut to its last 2 items; seconds = fit + score")
    for run, models in results.items():
        first = next(iter(models.values()))
        n = {p: first.get(p, {}).get("cases", 0) for p in ("warm", "new", "all")}
        print(f"\n{run}: warm {n['warm']:,} · new {n['new']:,} · all {n['all']:,} cases")
        print(
            f"{'model':<12} {'warm':>17} {'new':>17} {'all':>17} {'HR@10 new':>9} {'thin':>17} {'s':>7}"
        )
        for model, fig in models.items():
            hr_new = fig.get("new", {}).get("hr@10")
            print(
                f"{model:<12} {cell(fig, 'warm'):>17} {cell(fig, 'new'):>17} {cell(fig, 'all'):>17} "
                f"{'-' if hr_new is None else f'{hr_new:.4f}':>9} {cell(fig, 'thin'):>17} "
                f"{fig['fit_s'] + fig['score_s']:>7.0f}"
            )


def markdown(results: dict[str, Any]) -> None:
    """The figures as the markdown tables of docs/results/cold-start.md."""
    for run, models in results.items():
        first = next(iter(models.values()))
        n = {p: first.get(p, {}).get("cases", 0) for p in ("warm", "new", "all")}
        print(f"\n**{run}** — warm {n['warm']:,}, new {n['new']:,}, all {n['all']:,} cases\n")
        print("| model | warm | new | all | HR@10 warm / new | thin (last 2) | fit + score s |")
        print("|---|---|---|---|---|---|---|")
        for model, fig in models.items():
            hrs = " / ".join(f"{fig[p]['hr@10']:.4f}" if p in fig else "-" for p in ("warm", "new"))
            print(
                f"| {model} | {cell(fig, 'warm')} | {cell(fig, 'new')} | {cell(fig, 'all')} | "
                f"{hrs} | {cell(fig, 'thin')} | {fig['fit_s'] + fig['score_s']:.0f} |"
            )
        labels = [c["label"] for c in first["history"]]
        print(f"\nNDCG@10 by history length ({run}):\n")
        print("| model | " + " | ".join(labels) + " |")
        print("|---|" + "---|" * len(labels))
        for model, fig in models.items():
            row = {c["label"]: c for c in fig["history"]}
            print(
                f"| {model} | "
                + " | ".join(
                    f"{row[lb]['ndcg@10']:.4f} ({row[lb]['cases']:,})" if lb in row else "-"
                    for lb in labels
                )
                + " |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("runs/cold"))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--runs", nargs="+", default=[f"{d}:{p}" for d, p in RUNS])
    parser.add_argument("--minutes", type=float, default=3.0, help="Training budget per model.")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per model.")
    parser.add_argument(
        "--epochs", type=int, default=0, help="Trained models: exactly N epochs (0: early stop)."
    )
    parser.add_argument("--dropout", type=float, default=None, help="Trained models' dropout.")
    parser.add_argument("--lightfm-python", default=None, help="LightFM's environment's python.")
    parser.add_argument(
        "--lightfm-epochs",
        default="10,20,40,80",
        help="LightFM: epochs tried (comma-separated); validation picks one.",
    )
    parser.add_argument("--report", action="store_true", help="Print the stored figures only.")
    parser.add_argument("--markdown", action="store_true", help="Print them as markdown.")
    args = parser.parse_args()
    store = args.work / "results.json"
    results: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
    if not args.report:
        for run in args.runs:
            dataset, protocol = run.split(":")
            prepared = prepare(load_dataset(dataset, download=False), named_protocol(protocol))
            for model in args.models:
                if model in results.get(run, {}):
                    continue
                if model == "lightfm" and not args.lightfm_python:
                    continue
                print(f"{run} {model} ...", flush=True)
                results.setdefault(run, {})[model] = run_one(prepared, model, args)
                args.work.mkdir(parents=True, exist_ok=True)
                store.write_text(json.dumps(results, indent=1))
    if args.markdown:
        markdown(results)
    else:
        report(results)


if __name__ == "__main__":
    main()
