"""Shared pieces of the encoder benchmarks (``bench/encoder_tuning.py``,
``bench/encoder_fewshot.py``): where tuned encoders live, the tuning run, zeroshot's config."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from bench.transfer_common import TransferBench

FROZEN = "minilm"


def encoder_dir(bench: TransferBench, key: str) -> Path:
    return bench.work / f"encoder-{key}"


def tune(
    bench: TransferBench,
    dataset: Any,
    prepared: Any,
    out: Path,
    *,
    base: str = FROZEN,
    rows: Any = None,
    minutes: float | None = None,
    lr: float | None = None,
) -> dict[str, Any]:
    """The text-encoder recipe (:func:`lmrec.models.zeroshot.tuned.tuning_data` and
    :func:`lmrec.text.tuning.tune_encoder`) from ``base`` on ``prepared``'s training split (only
    its ``rows`` when given), validated on its validation split, written to ``out`` (without
    fitting zeroshot, which ``-m text-encoder`` also does)."""
    from lmrec.data.templates import item_template
    from lmrec.models.zeroshot.tuned import tuning_data
    from lmrec.text.tuning import EncoderTuningConfig, tune_encoder

    a = bench.args
    config = EncoderTuningConfig(
        base=base,
        minutes=a.tune_minutes if minutes is None else minutes,
        threads=a.threads,
        seed=a.train_seed,
        lr=a.tune_lr if lr is None else lr,
        eval_every=a.tune_eval_every,
    )
    train = prepared.split.train if rows is None else prepared.split.train.select(rows)
    texts = item_template(dataset.name, dataset.catalog).render(
        dataset.catalog, train.item_vocab.ids
    )
    valid = bench.sample(prepared.split.valid, config.valid_cases, 4)
    cases, held_out, popularity = tuning_data(train, valid, texts, config.history)
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    report = tune_encoder(cases, held_out, popularity, config, out, progress=a.progress)
    minutes_ = round((time.perf_counter() - start) / 60, 1)
    return {**report.to_json(), "cases": len(cases), "minutes": minutes_, "lr": config.lr}


def zeroshot(bench: TransferBench, encoder: str) -> dict[str, Any]:
    return {"encoder": encoder, "threads": bench.args.threads}
