"""Benchmark: explanations written by a local language model, and how grounded they are.

For the first N users of ML-100K (leave-one-out test split, so the history is what the model was
trained on), item-kNN (sequence-aware) recommends 5 items and the language model writes why the
first fits. Printed: latency (median, 90th percentile), the share of texts that lost at least one
sentence for naming a title the user never saw, the sentences removed, titles named that were
grounded, and the share left empty.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_explain [--users 100]
     [--llm smollm2-135m] [--runtime torch|llama-cpp]
"""

from __future__ import annotations

import argparse

import numpy as np

from lmrec.core.query import Query
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.llm.explain.explainer import Explainer
from lmrec.llm.runtime.config import build_backend
from lmrec.models.llm import LLMRecommenderConfig
from lmrec.models.registry import create_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--llm", default="smollm2-135m")
    parser.add_argument("--runtime", default="torch", choices=("torch", "llama-cpp"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    ds = load_dataset("ml-100k", download=False)
    prepared = prepare(ds, named_protocol("loo")).first(args.users)
    train = prepared.split.train
    knn = create_model("itemknn-seq").fit(train)
    config = LLMRecommenderConfig(
        llm=args.llm, runtime=args.runtime, threads=args.threads, cache_dir=args.cache_dir
    )
    backend = build_backend(config)
    explainer = Explainer(ds)
    seconds, removed, grounded, empty, cached = [], [], [], 0, 0
    examples: list[str] = []
    for row in range(len(prepared.cases)):
        history = train.item_vocab.decode(prepared.cases.histories[row])
        user = train.user_vocab.ids[prepared.cases.users[row]]
        top = knn.recommend(Query(user=user, history=tuple(history), k=5)).items
        w = explainer.written(history, top[0], backend, recommended=top)
        seconds.append(w.seconds)
        removed.append(w.removed)
        grounded.append(w.grounded)
        empty += not w.text
        cached += w.cached
        if len(examples) < 3:
            examples.append(f"{ds.title(top[0])}: {w.text or '(empty)'}")
    n = len(seconds)
    s = np.asarray(seconds)
    r = np.asarray(removed)
    print(f"ML-100K · {n} users · itemknn-seq top 1 · written by {args.llm} ({args.runtime})")
    print(
        f"  latency: median {np.median(s):.2f} s, 90th percentile {np.quantile(s, 0.9):.2f} s"
        f" ({cached} from the cache)"
    )
    print(
        f"  texts with a sentence removed (named a title the user never saw): "
        f"{(r > 0).mean():.0%}; sentences removed per text {r.mean():.2f}"
    )
    print(
        f"  grounded titles named per text {np.mean(grounded):.2f}; empty after grounding "
        f"{empty / n:.0%}"
    )
    for e in examples:
        print(f"  e.g. {e}")


if __name__ == "__main__":
    main()
