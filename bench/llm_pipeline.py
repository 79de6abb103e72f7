"""Benchmark: the LLM ranking pipeline end to end, with scripted LLMs behind a real HTTP server.

No generative weights are available offline, so this checks the *pipeline*, not an LLM:

1. LLMRank 20-candidate protocol on ML-1M (``ml-1m-full.random``): a server that puts the true
   item first must give NDCG@10 = 100; one that returns the candidates in the order shown ≈ random
   (22.7 expected). Every prompt goes through the HTTP client, the parser and the evaluator.
2. The identical second run is answered from the response cache: zero HTTP calls.
3. Candidate generation on ML-100K (leave-one-out test, 943 users): hit rate of 19 candidates from
   NIR's user filtering and item filtering vs lmrec retrievers.
4. An explanation and a profile for one ML-100K user.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_pipeline [--users N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lmrec.core.fitted import ModelContext
from lmrec.data.containers import Dataset
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.llm.explain.explainer import Explainer
from lmrec.llm.ranking.candidates import (
    hit_rate,
    item_filtering,
    retriever_candidates,
    user_filtering,
)
from lmrec.llm.ranking.prompts import Domain
from lmrec.llm.ranking.ranker import LLMRankConfig, LLMRanker
from lmrec.llm.runtime.backends import OpenAICompatibleBackend
from lmrec.llm.runtime.cache import ResponseCache
from lmrec.metrics.evaluate import evaluate
from lmrec.models.registry import create_model
from lmrec.protocols.named import llmrank_file
from lmrec.testing.scripted import ScriptedServer, candidates_in


def llmrank_checks(users: int) -> None:
    ds = load_dataset("ml-1m", download=False)
    prepared = prepare(ds, named_protocol("llmrank-20", file=llmrank_file("ml-1m")))
    cases = prepared.cases if not users else prepared.cases.select(range(users))
    vocab = prepared.split.train.item_vocab
    truth = {
        frozenset(ds.title(vocab.ids[i]) for i in row): ds.title(vocab.ids[t])
        for row, t in zip(cases.candidates, cases.targets, strict=True)  # type: ignore[arg-type]
    }

    def perfect(prompt: str) -> tuple[int, str, float]:
        listed = candidates_in(prompt)
        target = truth[frozenset(listed)]
        ranked = [target, *(t for t in listed if t != target)]
        return 200, "\n".join(f"{i}. {t}" for i, t in enumerate(ranked, 1)), 0.0

    def as_shown(prompt: str) -> tuple[int, str, float]:
        return 200, "\n".join(f"[{i}] {t}" for i, t in enumerate(candidates_in(prompt), 1)), 0.0

    print(f"ML-1M · LLMRank 20 candidates (ml-1m-full.random) · {len(cases):,} users · ×100")
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResponseCache(Path(tmp) / "responses.sqlite")
        for name, script in (("true item first", perfect), ("order as shown", as_shown)):
            with ScriptedServer(script).running() as server:
                for attempt in ("first run", "second run"):
                    backend = OpenAICompatibleBackend(
                        server.url, f"scripted-{name}", concurrency=8, cache=cache
                    )
                    ranker = LLMRanker(backend, ds.title, LLMRankConfig(), None, Domain("movie"))
                    start = time.perf_counter()
                    m = evaluate(ranker.fit(prepared.split.train), cases, ks=(1, 10)).as_dict()
                    u = backend.usage
                    print(
                        f"  {name:<16} {attempt:<10} NDCG@1 {100 * m['ndcg@1']:6.2f}  "
                        f"NDCG@10 {100 * m['ndcg@10']:6.2f}  HTTP requests {len(server.requests):>5}"
                        f" (cumulative)  cache hits {u.cache_hits:>5}  "
                        f"{time.perf_counter() - start:5.1f} s"
                    )


def candidate_checks() -> None:
    ds = load_dataset("ml-100k", download=False)
    prepared = prepare(ds, named_protocol("loo"))
    train, cases = prepared.split.train, prepared.cases
    print(f"\nML-100K · leave-one-out test · {len(cases)} users · hit rate of 19 candidates")
    print("  NIR reports 0.180 for its user filtering (Wang & Lim, 2023)")
    rows = [
        ("NIR user filtering (10 neighbours)", user_filtering(train, cases)),
        ("NIR item filtering", item_filtering(train, cases)),
    ]
    for name in ("pop", "itemknn-seq", "zeroshot"):
        model = create_model(name, None, None if name != "zeroshot" else _context(ds))
        rows.append((f"lmrec {name}", retriever_candidates(model.fit(train), cases)))
    for name, cand in rows:
        print(f"  {name:<36} {hit_rate(cand, cases.targets):.3f}")
    explainer = Explainer(ds)
    user = "196"
    inter = ds.interactions
    history = inter.item_vocab.decode(inter.sequences()[inter.user_vocab.index(user)])
    profile = explainer.profile(history)
    print(f"\nuser {user}: {len(history)} items; top interests:")
    print("  " + ", ".join(f"{v} {s:.0%}" for v, s in profile.interests))
    knn = create_model("itemknn-seq").fit(inter)
    from lmrec.core.query import Query

    for item in knn.recommend(Query(user=user, k=3)).items:
        print("  " + explainer.explain(history, item).text)


def _context(ds: Dataset) -> ModelContext:
    from lmrec.core.fitted import ModelContext

    return ModelContext.for_dataset(ds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=0, help="first N LLMRank users (0 = all)")
    args = parser.parse_args()
    llmrank_checks(args.users)
    candidate_checks()


if __name__ == "__main__":
    main()
