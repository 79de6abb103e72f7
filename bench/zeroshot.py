"""Benchmark: zero-shot text recommendation (issue 4).

Prints, for the zero-shot model with and without the popularity prior ("zero-shot + popularity"):
- LLMRank 20-candidate protocol, NDCG@1/5/10/20 ×100 on `ml-1m-full.random` and `games-6k.random`;
- leave-one-out full ranking NDCG@10 / HR@10 on ML-100K and ML-1M next to Popularity;
- encoding throughput (items/s, cold cache) and end-to-end time per dataset.
Hyper-parameters are the model defaults, chosen on the validation split; figures are on test.
Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.zeroshot
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lmrec.data.registry import load_dataset, missing_files
from lmrec.data.templates import default_template
from lmrec.experiment import named_protocol, prepare, run_model
from lmrec.protocols.named import NamedProtocol, llmrank_dir, llmrank_file
from lmrec.text.cache import EmbeddingCache
from lmrec.text.encoders import create_encoder

DEFAULT_LLMRANK = llmrank_dir()
PRIOR_GRID = (0.05, 0.1, 0.2, 0.3)


def tuned_prior(name: str, protocol: NamedProtocol) -> dict[str, float]:
    """The popularity weight with the best validation NDCG@10 (test targets never seen)."""
    valid = prepare(load_dataset(name, download=False), protocol, "valid")
    scores = {
        w: run_model(valid, "zeroshot", {"popularity_weight": w}, ks=(10,))[1].evaluation.value(
            "ndcg@10"
        )
        for w in PRIOR_GRID
    }
    best = max(scores, key=lambda w: scores[w])
    print(
        f"  popularity weight chosen on validation: {best} (valid NDCG@10 by weight: "
        + ", ".join(f"{w}: {v:.4f}" for w, v in scores.items())
        + ")"
    )
    return {"popularity_weight": best}


def throughput(name: str) -> None:
    ds = load_dataset(name, download=False)
    assert ds.catalog is not None
    texts = default_template(name, ds.catalog).render(ds.catalog, ds.interactions.item_vocab.ids)
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(Path(tmp))
        start = time.perf_counter()
        _, stats = cache.encode(create_encoder("minilm"), texts)
        seconds = time.perf_counter() - start
        _, again = cache.encode(create_encoder("minilm"), texts)
    print(
        f"{name:<13} {len(texts):>6,} items  encoded {stats.encoded:>6,} in {seconds:6.1f} s "
        f"({stats.encoded / seconds:5.0f} items/s incl. model load); second run encoded {again.encoded}"
    )


def llmrank(name: str, file: Path) -> None:
    protocol = named_protocol("llmrank-20", file=file)
    prepared = prepare(load_dataset(name, download=False), protocol)
    print(
        f"\n{name} · LLMRank 20 candidates ({file.name}) · {len(prepared.cases):,} users · NDCG ×100"
    )
    prior = tuned_prior(name, protocol)
    print(f"{'model':<28}{'@1':>7}{'@5':>7}{'@10':>7}{'@20':>7}{'sec':>7}")
    for label, model, config in (
        ("pop (trained)", "pop", {}),
        ("zero-shot", "zeroshot", {}),
        ("zero-shot + popularity", "zeroshot", prior),
    ):
        start = time.perf_counter()
        _, r = run_model(prepared, model, config, ks=(1, 5, 10, 20))
        m = r.evaluation.as_dict()
        cells = "".join(f"{100 * m[f'ndcg@{k}']:>7.2f}" for k in (1, 5, 10, 20))
        print(f"{label:<28}{cells}{time.perf_counter() - start:>7.1f}")


def full_ranking(name: str) -> None:
    prepared = prepare(load_dataset(name, download=False), named_protocol("loo"))
    print(f"\n{name} · leave-one-out full ranking · {len(prepared.cases):,} users")
    prior = tuned_prior(name, named_protocol("loo"))
    print(f"{'model':<28}{'NDCG@10':>9}{'HR@10':>8}{'sec':>7}")
    for label, model, config in (
        ("pop", "pop", {}),
        ("zero-shot", "zeroshot", {}),
        ("zero-shot + popularity", "zeroshot", prior),
    ):
        start = time.perf_counter()
        _, r = run_model(prepared, model, config, ks=(10,))
        m = r.evaluation.as_dict()
        print(
            f"{label:<28}{m['ndcg@10']:>9.4f}{m['hr@10']:>8.4f}{time.perf_counter() - start:>7.1f}"
        )


def ann_recall(name: str = "amazon-games", users: int = 6000) -> None:
    """Recall@10 of FAISS HNSW / IVF against exact search, queries = users' history vectors."""
    import numpy as np

    from lmrec.core.query import QueryBatch
    from lmrec.index import build_index

    prepared = prepare(load_dataset(name, download=False), named_protocol("loo"))
    model, _ = run_model(prepared, "zeroshot", {"pooling": "recency-mean"}, ks=(10,))
    cases = prepared.cases.select(np.arange(min(users, len(prepared.cases))))
    queries = model.user_vectors(QueryBatch(cases.users, cases.histories))  # type: ignore[attr-defined]
    emb = model.item_embeddings  # type: ignore[attr-defined]
    start = time.perf_counter()
    _, exact = build_index(emb, "exact").search(queries, 10)
    exact_s = time.perf_counter() - start
    print(f"\n{name} · ANN vs exact · {len(emb):,} items · {len(queries):,} user queries")
    print(f"{'index':<8}{'recall@10':>10}{'build s':>9}{'queries/s':>11}")
    print(f"{'exact':<8}{1.0:>10.4f}{0.0:>9.1f}{len(queries) / exact_s:>11.0f}")
    for kind in ("hnsw", "ivf"):
        start = time.perf_counter()
        index = build_index(emb, kind)
        built = time.perf_counter() - start
        start = time.perf_counter()
        _, approx = index.search(queries, 10)
        searched = time.perf_counter() - start
        recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
        print(f"{kind:<8}{recall:>10.4f}{built:>9.1f}{len(queries) / searched:>11.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llmrank-dir", type=Path, default=DEFAULT_LLMRANK)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    present = [n for n in ("ml-100k", "ml-1m", "amazon-games") if not missing_files(n)]
    if not args.skip_throughput:
        print("encoder: all-MiniLM-L6-v2, 1 thread, cold cache")
        for name in present:
            throughput(name)
    for name in ("ml-1m", "amazon-games"):
        file = llmrank_file(name, folder=args.llmrank_dir)
        if name in present and file is not None:
            llmrank(name, file)
    for name in ("ml-100k", "ml-1m"):
        if name in present:
            full_ranking(name)
    if "amazon-games" in present:
        ann_recall()


if __name__ == "__main__":
    main()
