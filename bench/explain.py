"""Benchmark: are explanations faithful to the model? Occlusion evidence against today's
similarity-chosen items and against random history items.

ML-100K, leave-one-out (the test split's histories are what the model was trained on); for the
first N users each model recommends its top 10 and the #1 item is explained. Three ways to pick
the cited history items, each with as many items as the evidence cites (at most 3):

* evidence: :func:`lmrec.core.evidence.occlusion` — the greedy counterfactual set when it has at
  most 3 items, else the 3 strongest score contributions (what an explanation names);
* similarity: what :class:`lmrec.llm.explain.explainer.Explainer` names today (shared attributes,
  else text similarity), chosen after the fact;
* random: the same number of history items drawn at random (seed 0).

Printed per model: the probability of necessity (without the cited items the item leaves the top
10), of sufficiency (with only the cited items it stays in the top 10), the mean evidence size,
the share of users with a counterfactual set (any size) and its median size, the users with no
positive evidence, and milliseconds per evidence (one occlusion: two batched scoring calls).

With ``--llm smollm2-135m,gemma3-270m`` each language model also rewrites the itemknn-seq
evidence sentences of the first ``--rewrite-users`` users; printed: the share accepted by the
checks of :mod:`lmrec.llm.explain.rewrite` and up to 5 accepted and 5 refused samples.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.explain [--users 200]
     [--models itemknn,itemknn-seq,zeroshot] [--llm smollm2-135m,gemma3-270m]
     [--rewrite-users 50]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from lmrec.core.evidence import keep_only, occlusion, remove
from lmrec.core.fitted import ModelContext
from lmrec.core.query import Query
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.llm.explain.explainer import Explainer
from lmrec.models.registry import create_model

K = 10
MOST = 3


def one_model(name: str, ds: Any, prepared: Any, rng: np.random.Generator) -> dict[str, Any]:
    train = prepared.split.train
    model = create_model(name, None, ModelContext.for_dataset(ds)).fit(train)
    explainer = Explainer.for_model(ds, model)
    tally = {f"{w}_{m}": 0 for w in ("evidence", "similarity", "random") for m in ("nec", "suf")}
    sizes, millis, cf_sizes, none, found = [], [], [], 0, 0
    for row in range(len(prepared.cases)):
        history = list(train.item_vocab.decode(prepared.cases.histories[row]))
        item = model.recommend(Query(history=tuple(history), k=K)).items[0]
        started = time.perf_counter()
        evidence = occlusion(model, history, item, K)
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
        "users": len(prepared.cases),
        "explained": explained,
        "no_evidence": none,
        "counterfactual": found / max(len(prepared.cases), 1),
        "cf_size": float(np.median(cf_sizes)) if cf_sizes else 0.0,
        "size": float(np.mean(sizes)) if sizes else 0.0,
        "ms": float(np.median(millis)),
        **{key: value / max(explained, 1) for key, value in tally.items()},
    }


def rewrites(llm: str, ds: Any, prepared: Any, users: int) -> None:
    from lmrec.llm.runtime.config import build_backend
    from lmrec.models.llm import LLMRecommenderConfig

    train = prepared.split.train
    model = create_model("itemknn-seq", None, ModelContext.for_dataset(ds)).fit(train)
    backend = build_backend(LLMRecommenderConfig(llm=llm))
    explainer = Explainer(ds)
    accepted: list[str] = []
    refused: list[str] = []
    seconds = []
    for row in range(min(users, len(prepared.cases))):
        history = list(train.item_vocab.decode(prepared.cases.histories[row]))
        item = model.recommend(Query(history=tuple(history), k=K)).items[0]
        found, shown = explainer.rewritten(model, history, item, backend, K)
        seconds.append(shown.seconds)
        if shown.accepted:
            accepted.append(f"{found.text}  →  {shown.text}")
        else:
            refused.append(f"{shown.reply.strip()[:160]!r}  ({shown.reason})")
    n = len(accepted) + len(refused)
    print(
        f"\nrewrites by {llm}: {len(accepted)} of {n} accepted ({len(accepted) / max(n, 1):.0%}); "
        f"median {np.median(seconds):.1f} s"
    )
    for sample in accepted[:5]:
        print(f"  accepted: {sample}")
    for sample in refused[:5]:
        print(f"  refused:  {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--models", default="itemknn,itemknn-seq,zeroshot")
    parser.add_argument("--llm", default="", help="language models that rewrite (comma list)")
    parser.add_argument("--rewrite-users", type=int, default=50)
    args = parser.parse_args()
    ds = load_dataset("ml-100k", download=False)
    prepared = prepare(ds, named_protocol("loo")).first(args.users)
    rng = np.random.default_rng(0)
    print(f"ML-100K · LOO test histories · first {args.users} users · #1 of top {K} explained")
    print(
        f"{'model':<12} {'size':>5} {'cf':>5} {'cf n':>5} {'none':>5} {'ms':>7}   necessity: evid / simil / random"
        "   sufficiency: evid / simil / random"
    )
    for name in filter(None, args.models.split(",")):
        r = one_model(name, ds, prepared, rng)
        print(
            f"{r['model']:<12} {r['size']:>5.2f} {r['counterfactual']:>5.2f} {r['cf_size']:>5.0f} "
            f"{r['no_evidence']:>5} "
            f"{r['ms']:>7.1f}   "
            f"{r['evidence_nec']:>15.3f} / {r['similarity_nec']:.3f} / {r['random_nec']:.3f}"
            f"   {r['evidence_suf']:>11.3f} / {r['similarity_suf']:.3f} / {r['random_suf']:.3f}"
        )
    for llm in filter(None, args.llm.split(",")):
        rewrites(llm, ds, prepared, args.rewrite_users)


if __name__ == "__main__":
    main()
