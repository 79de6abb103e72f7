"""The binary preference job (TALLRec): draw few-shot examples, tune, score P(Yes), report AUC.

``run_preference`` is what ``lmrec train -m llm-lora --set task=binary`` runs; ``score_file`` is
``lmrec llm-score``. P(yes) is the softmax of the two answer tokens' logits ("Yes" and "No" unless
the example's phrasing says other words).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lmrec.llm.lora.examples import (
    PreferenceExample,
    auc,
    preference_examples,
    sample,
    split_by_time,
)
from lmrec.llm.lora.tuning import LoraSettings, Tokens, TunedLM

if TYPE_CHECKING:
    from lmrec.data.containers import Dataset
    from lmrec.llm.lora.config import LlmLoraConfig

TEST_SEED = 0  # the test examples are the same for every run, seed and model


@dataclass(frozen=True)
class PreferenceData:
    train: tuple[PreferenceExample, ...]
    valid: tuple[PreferenceExample, ...]
    test: tuple[PreferenceExample, ...]


def preference_data(dataset: Dataset, config: LlmLoraConfig) -> PreferenceData:
    """``shots`` training examples drawn with ``seed`` from the oldest 80%; validation and test
    examples drawn from the next 10% and the latest 10% (test with a fixed seed). Training and
    validation examples are written in the config's phrasings in turn, the test ones in the
    first (``lmrec.llm.lora.phrasing``)."""
    from lmrec.llm.lora.phrasing import phrasings, rotate

    chosen = phrasings(config.phrasings)
    split = split_by_time(preference_examples(dataset, config.max_history, config.threshold))
    return PreferenceData(
        rotate(sample(split.train, config.shots, config.seed), chosen, config.seed),
        rotate(sample(split.valid, config.valid_examples, TEST_SEED + 1), chosen, TEST_SEED + 1),
        rotate(sample(split.test, config.test_examples, TEST_SEED), chosen[:1], TEST_SEED),
    )


def _rows(lm: TunedLM, examples: Sequence[PreferenceExample]) -> list[list[int]]:
    return [lm.prompt_ids(e.prompt) for e in examples]


def answer_tokens(lm: TunedLM, examples: Sequence[PreferenceExample]) -> Tokens:
    """The (yes, no) answer tokens: one pair when every example uses the same words, else one
    pair per example."""
    words = sorted({e.answers for e in examples})
    if len(words) == 1:
        return lm.choice_tokens(words[0])
    pairs = {w: lm.choice_tokens(w) for w in words}
    return np.array([pairs[e.answers] for e in examples], dtype=np.int64)


def p_yes(
    lm: TunedLM, examples: Sequence[PreferenceExample], progress: bool = False
) -> npt.NDArray[np.float64]:
    """P(yes) of each example (softmax over its two answer tokens)."""
    logits = lm.scores(_rows(lm, examples), answer_tokens(lm, examples), progress=progress)
    diff = logits[:, 0].astype(np.float64) - logits[:, 1]
    return 1.0 / (1.0 + np.exp(-diff))


def labels(examples: Sequence[PreferenceExample]) -> npt.NDArray[np.bool_]:
    return np.array([e.label for e in examples], dtype=bool)


def tune(lm: TunedLM, data: PreferenceData, progress: bool = False) -> dict[str, Any]:
    """Train an adapter on ``data.train`` (epoch chosen by validation AUC); the report as JSON."""
    rows = _rows(lm, data.train)
    valid_labels = labels(data.valid)
    report = lm.train(
        rows,
        [0 if e.label else 1 for e in data.train],
        answer_tokens(lm, data.train),
        lambda: auc(valid_labels, p_yes(lm, data.valid)),
        "auc",
        progress=progress,
    )
    trainable, total = lm.trainable_share()
    return {
        **report.to_json(),
        "trainable_parameters": trainable,
        "trainable_share": round(trainable / total, 5),
    }


def run_preference(
    dataset: Dataset,
    config: LlmLoraConfig,
    output_dir: Path | None = None,
    progress: bool = False,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Tune on ``config.shots`` examples, evaluate AUC on the test examples; save the adapter
    (``output_dir``: adapter files, ``lmrec-lora.json``, ``results.json``)."""
    data = preference_data(dataset, config)
    lm = TunedLM(config, cache_dir)
    started = time.perf_counter()
    training = tune(lm, data, progress)
    scores = p_yes(lm, data.test, progress)
    result = {
        "task": "binary preference (TALLRec)",
        "dataset": dataset.name,
        "base": config.base,
        "shots": len(data.train),
        "seed": config.seed,
        "valid_examples": len(data.valid),
        "test_examples": len(data.test),
        "test_auc": auc(labels(data.test), scores),
        "seconds": round(time.perf_counter() - started, 1),
        "training": training,
    }
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        lm.save_adapter(output_dir)
        meta = {"task": "binary", "config": config.model_dump()}
        (output_dir / "lmrec-lora.json").write_text(json.dumps(meta, indent=1))
        (output_dir / "results.json").write_text(json.dumps(result, indent=1))
    return result


def adapter_base(adapter: Path) -> str | None:
    """The base model an adapter written by lmrec was trained on (None when it does not say)."""
    meta = adapter / "lmrec-lora.json"
    if not meta.exists():
        return None
    base = json.loads(meta.read_text(encoding="utf-8")).get("config", {}).get("base")
    return base if isinstance(base, str) else None


def score_file(
    examples: Sequence[PreferenceExample],
    llm: str,
    adapter: Path | None,
    threads: int | None = None,
    progress: bool = False,
) -> tuple[npt.NDArray[np.float64], float | None]:
    """P(Yes) per example and the AUC (None when the labels are all one class)."""
    lm = TunedLM(LoraSettings(base=llm, threads=threads, max_tokens=8192))
    if adapter is not None:
        lm.load_adapter(adapter)
    scores = p_yes(lm, examples, progress)
    y = labels(examples)
    return scores, (auc(y, scores) if 0 < y.sum() < len(y) else None)
