"""The ``phrasing`` part of ``bench/llm_lora.py``: do yes/no preferences survive rephrasing?

Per model: the untuned LM, an adapter trained on one phrasing (``tallrec``) and one trained on
three in turn (``lmrec.llm.lora.phrasing.TRAINING``), each at ``--shots`` examples and
``--seeds``; the epoch is chosen on validation examples in the training phrasings only. Every
model is scored on the same test examples written in the training phrasing (``tallrec``) and in
the two phrasings no training saw (``HELD_OUT``): AUC with its 95% bootstrap interval.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.llm.lora.config import LlmLoraConfig
from lmrec.llm.lora.examples import PreferenceExample, auc, auc_interval
from lmrec.llm.lora.phrasing import HELD_OUT, PHRASINGS, TRAINING
from lmrec.llm.lora.preference import PreferenceData, labels, p_yes, preference_data, tune
from lmrec.llm.lora.tuning import TunedLM

Cached = Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]]
EVALUATED = ("tallrec", *HELD_OUT)
MODES = {"one": ["tallrec"], "many": list(TRAINING)}


def evaluate_phrasings(lm: TunedLM, test: tuple[PreferenceExample, ...]) -> dict[str, Any]:
    """AUC and its interval on the test examples in each evaluated phrasing."""
    out: dict[str, Any] = {}
    y = labels(test)
    for name in EVALUATED:
        started = time.perf_counter()
        scores = p_yes(lm, [PHRASINGS[name].render(e) for e in test])
        low, high = auc_interval(y, scores)
        out[name] = {
            "auc": round(auc(y, scores), 5),
            "interval_95": [round(low, 5), round(high, 5)],
            "seconds": round(time.perf_counter() - started, 1),
        }
    return out


def _setup(
    args: argparse.Namespace, dataset: Any, model: str, mode: str, shots: int, seed: int
) -> tuple[LlmLoraConfig, PreferenceData]:
    c = LlmLoraConfig(
        task="binary",
        base=model,
        shots=shots,
        seed=seed,
        lr=args.lr,
        epochs=args.epochs,
        threads=args.threads,
        phrasings=MODES[mode],
        test_examples=args.test_examples,
    )
    return c, preference_data(dataset, c)


def _untuned(args: argparse.Namespace, dataset: Any, model: str) -> dict[str, Any]:
    c, data = _setup(args, dataset, model, "one", 16, 0)
    return {"test_examples": len(data.test), **evaluate_phrasings(TunedLM(c), data.test)}


def _tuned(
    args: argparse.Namespace, dataset: Any, model: str, mode: str, shots: int, seed: int
) -> dict[str, Any]:
    c, data = _setup(args, dataset, model, mode, shots, seed)
    lm = TunedLM(c)
    training = tune(lm, data)
    return {
        "phrasings": MODES[mode],
        "shots": len(data.train),
        "valid_examples": len(data.valid),
        "test_examples": len(data.test),
        "lr": args.lr,
        "training": training,
        **evaluate_phrasings(lm, data.test),
    }


def run_name(args: Any, model_tag: str, mode: str, shots: int | str, seed: int | str | None) -> str:
    """One tuned run's result name (``seed=None``: the name of its seeds together); ``--tag``
    names a variant of the runs (another learning rate)."""
    seeded = f"-{seed}" if seed is not None else ""
    return f"phrasing-{model_tag}-{mode}-{shots}{seeded}" + (f"-{args.tag}" if args.tag else "")


def phrasing(args: argparse.Namespace, cached: Cached, dataset: Any) -> None:
    for model in args.models.split(","):
        tag = Path(model).name  # a model folder is named by its last part
        cached(f"phrasing-{tag}-untuned", partial(_untuned, args, dataset, model))
        for seed in [int(s) for s in args.seeds.split(",")]:
            for shots in [int(s) for s in args.shots.split(",")]:
                for mode in args.modes.split(","):
                    cached(
                        run_name(args, tag, mode, shots, seed),
                        partial(_tuned, args, dataset, model, mode, shots, seed),
                    )


def phrasing_table(
    folder: Any, load: Callable[[Any, str], dict[str, Any] | None], args: Any
) -> None:
    """Test AUC x 100 [95% interval] per phrasing, one row per run."""
    print("\nBinary preference under rephrasing, ML-100K, test AUC x 100 [95% bootstrap interval]")
    print(
        f"{'model':<34}{'n':>5}"
        + "".join(f"{n + (' (held out)' if n in HELD_OUT else ''):>24}" for n in EVALUATED)
        + f"{'epoch':>7}"
    )
    for model in args.models.split(","):
        tag = Path(model).name
        names = [f"phrasing-{tag}-untuned"] + [
            run_name(args, tag, mode, shots, seed)
            for shots in args.shots.split(",")
            for mode in args.modes.split(",")
            for seed in args.seeds.split(",")
        ]
        for name in names:
            r = load(folder, name)
            if r is None:
                continue
            label = name.removeprefix("phrasing-")
            cells = "".join(
                f"{100 * r[n]['auc']:>9.2f} [{100 * r[n]['interval_95'][0]:.1f}–{100 * r[n]['interval_95'][1]:.1f}]".rjust(
                    24
                )
                for n in EVALUATED
            )
            epoch = r.get("training", {}).get("best_epoch", "")
            print(f"{label:<34}{r['test_examples']:>5}{cells}{epoch!s:>7}")
        seed_means(folder, load, tag, args)


def seed_means(
    folder: Any, load: Callable[[Any, str], dict[str, Any] | None], tag: str, args: Any
) -> None:
    """Per (mode, shots): test AUC x 100 as mean ± sd over the seeds that ran (two or more)."""
    for mode in args.modes.split(","):
        for shots in args.shots.split(","):
            runs = [
                r
                for seed in args.seeds.split(",")
                if (r := load(folder, run_name(args, tag, mode, shots, seed))) is not None
            ]
            if len(runs) < 2:
                continue
            cells = "".join(
                f"{np.mean(v := [100 * r[n]['auc'] for r in runs]):>10.2f} ± {np.std(v, ddof=1):<5.2f}".rjust(
                    24
                )
                for n in EVALUATED
            )
            label = f"{run_name(args, tag, mode, shots, None).removeprefix('phrasing-')} ({len(runs)} seeds)"
            print(f"{label:<34}{runs[0]['test_examples']:>5}{cells}")
