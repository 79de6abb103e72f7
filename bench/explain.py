"""Benchmark: are explanations faithful to the model? Occlusion evidence against today's
similarity-chosen items and against random history items.

ML-100K or Amazon Scientific, leave-one-out (the test split's histories; trained models stop
early on the validation split); for the first N users each model recommends its top 10 and the #1
item is explained. Three ways to pick the cited history items, each with as many items as the
evidence cites (at most 3):

* evidence: :func:`lmrec.core.evidence.occlusion` — the greedy counterfactual set when it has at
  most 3 items, else the 3 strongest score contributions (what an explanation names);
* similarity: what :class:`lmrec.llm.explain.explainer.Explainer` names today (shared attributes,
  else text similarity), chosen after the fact;
* random: the same number of history items drawn at random (seed 0).

Printed per model: the probability of necessity (without the cited items the item leaves the top
10), of sufficiency (with only the cited items it stays in the top 10), the mean evidence size,
the share of users with a counterfactual set (any size) and its median size, the users with no
positive evidence, and milliseconds per evidence (one occlusion: two batched scoring calls).

Models: any registered name, or ``llm-rerank`` — itemknn-seq's top 20 re-ranked by SmolLM2's
title likelihood over the last 10 history items (the two-stage LLM ranker; its occlusion tries
the ``--llm-occluded`` most recent history items only, and it runs on the first ``--llm-users``
users: each scoring row costs 20 language-model calls).

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.explain [--users 200]
     [--dataset ml-100k] [--models itemknn,itemknn-seq,sasrec,zeroshot,textseq,llm-rerank]
     [--llm-users 30] [--llm-occluded 10]
Rewrite acceptance: bench/explain_rewrite.py.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from lmrec.core.evidence import MAX_OCCLUDED, keep_only, occlusion, remove
from lmrec.core.fitted import ModelContext
from lmrec.core.query import Query
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.llm.explain.explainer import Explainer
from lmrec.models.registry import create_model

K = 10
MOST = 3
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "llm-rerank": (
        "llm",
        {
            "llm": "smollm2-135m",
            "method": "likelihood",
            "max_history": 10,
            "n_candidates": 20,
            "threads": 1,
        },
    ),
    "sasrec": ("sasrec", {"train": {"max_minutes": 6.0}}),
    "textseq": ("textseq", {"train": {"max_minutes": 8.0}}),
}


def one_model(
    name: str, ds: Any, prepared: Any, rng: np.random.Generator, occluded: int
) -> dict[str, Any]:
    train = prepared.split.train
    registered, config = PRESETS.get(name, (name, {}))
    started = time.perf_counter()
    model = create_model(registered, config, ModelContext.for_dataset(ds))
    model.fit(train, prepared.split.valid)
    fit_seconds = time.perf_counter() - started
    explainer = Explainer.for_model(ds, model)
    tally = {f"{w}_{m}": 0 for w in ("evidence", "similarity", "random") for m in ("nec", "suf")}
    sizes, millis, cf_sizes, none, found = [], [], [], 0, 0
    for row in range(len(prepared.cases)):
        history = list(train.item_vocab.decode(prepared.cases.histories[row]))
        item = model.recommend(Query(history=tuple(history), k=K)).items[0]
        started = time.perf_counter()
        evidence = occlusion(model, history, item, K, max_occluded=occluded)
        millis.append(1000 * (time.perf_counter() - started))
        found += bool(evidence.counterfactual)
        if evidence.counterfactual:
            cf_sizes.append(len(evidence.counterfactual))
        cited = evidence.cited(MOST)
        if not cited:
            none += 1
            continue
        n = len(cited)
        sizes.append(n)
        similar = tuple(explainer.explain(history, item).supporting[:n])
        drawn = tuple(
            rng.choice(sorted(set(history)), size=min(n, len(set(history))), replace=False)
        )
        for way, chosen in (("evidence", cited), ("similarity", similar), ("random", drawn)):
            if not chosen:
                continue
            tally[f"{way}_nec"] += remove(model, history, item, chosen) > K
            tally[f"{way}_suf"] += keep_only(model, history, item, chosen) <= K
    explained = len(sizes)
    return {
        "model": name,
        "fit_s": fit_seconds,
        "users": len(prepared.cases),
        "explained": explained,
        "no_evidence": none,
        "counterfactual": found / max(len(prepared.cases), 1),
        "cf_size": float(np.median(cf_sizes)) if cf_sizes else 0.0,
        "size": float(np.mean(sizes)) if sizes else 0.0,
        "ms": float(np.median(millis)),
        **{key: value / max(explained, 1) for key, value in tally.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", default="itemknn,itemknn-seq,zeroshot")
    parser.add_argument("--llm-users", type=int, default=30)
    parser.add_argument("--llm-occluded", type=int, default=10)
    args = parser.parse_args()
    ds = load_dataset(args.dataset, download=False)
    full = prepare(ds, named_protocol("loo"))
    rng = np.random.default_rng(0)
    print(f"{args.dataset} · LOO test histories · #1 of top {K} explained")
    print(
        f"{'model':<12} {'users':>5} {'size':>5} {'cf':>5} {'cf n':>5} {'none':>5} {'ms':>8} "
        f"{'fit s':>6}   necessity: evid / simil / random   sufficiency: evid / simil / random"
    )
    for name in filter(None, args.models.split(",")):
        llm = name in PRESETS and PRESETS[name][0] == "llm"
        prepared = full.first(args.llm_users if llm else args.users)
        occluded = args.llm_occluded if llm else MAX_OCCLUDED
        r = one_model(name, ds, prepared, rng, occluded)
        print(
            f"{r['model']:<12} {r['users']:>5} {r['size']:>5.2f} {r['counterfactual']:>5.2f} "
            f"{r['cf_size']:>5.0f} {r['no_evidence']:>5} {r['ms']:>8.1f} {r['fit_s']:>6.0f}   "
            f"{r['evidence_nec']:>15.3f} / {r['similarity_nec']:.3f} / {r['random_nec']:.3f}"
            f"   {r['evidence_suf']:>11.3f} / {r['similarity_suf']:.3f} / {r['random_suf']:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
