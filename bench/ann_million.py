"""Benchmark: search over a synthetic catalogue of 10^6 item vectors (10^7 with --n, on disk).

The vectors imitate sentence embeddings: a Gaussian mixture (2,000 topics, ``--spread`` around
each centre) in a 48-d latent space, mapped to 384 dimensions (MiniLM's width) with isotropic
``--noise``, unit length. Queries are
history queries: the normalised mean of 5 items of one topic. For each index (exact; FAISS HNSW;
IVF-PQ with and without exact re-ranking) it prints build seconds, index memory (FAISS's
serialised size; the exact index is the matrix), recall@10 against exact search, and p50/p99
latency at batch 1 and batch 64, on ``--threads`` threads. 10^7 vectors (15 GB) do not fit
this machine's RAM with a copy: that run streams them from a memory-mapped file into IVF-PQ
only, and computes the exact answers by scanning the file in blocks.

Run: .venv/bin/python -m bench.ann_million [--n 1000000] [--threads 2] [--out results/ann]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.index.base import build_index

DIM, LATENT, TOPICS = 384, 48, 2000


def catalogue(
    n: int, seed: int, path: Path | None = None, spread: float = 0.6, noise: float = 0.35
) -> tuple[Any, npt.NDArray[np.int64]]:
    """``n`` unit vectors (in memory, or in a float32 memory map at ``path``) and their topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((TOPICS, LATENT)).astype(np.float32)
    lift = (rng.standard_normal((LATENT, DIM)) / np.sqrt(LATENT)).astype(np.float32)
    topics = rng.integers(0, TOPICS, n)
    out: Any = (
        np.empty((n, DIM), np.float32)
        if path is None
        else np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    )
    for start in range(0, n, 200_000):
        t = topics[start : start + 200_000]
        z = centres[t] + spread * rng.standard_normal((len(t), LATENT)).astype(np.float32)
        x = z @ lift + noise * rng.standard_normal((len(t), DIM)).astype(np.float32)
        out[start : start + len(t)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out, topics


def history_queries(
    vectors: Any, topics: npt.NDArray[np.int64], count: int, seed: int
) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed + 1)
    by_topic = np.argsort(topics, kind="stable")
    starts = np.searchsorted(topics[by_topic], np.arange(TOPICS))
    ends = np.searchsorted(topics[by_topic], np.arange(TOPICS), side="right")
    out = np.empty((count, DIM), np.float32)
    for i in range(count):
        t = int(rng.integers(0, TOPICS))
        members = by_topic[rng.integers(starts[t], ends[t], 5)]
        q = np.asarray(vectors[np.sort(members)]).mean(axis=0)
        out[i] = q / np.linalg.norm(q)
    return out


def exact_answers(vectors: Any, queries: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Exact top ``k`` by scanning ``vectors`` in blocks (works on a memory map); 256 queries ×
    250,000 vectors at a time keep the score block at 256 MB."""
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_i = np.full((len(queries), k), -1, np.int64)
    for start in range(0, len(vectors), 250_000):
        block = np.asarray(vectors[start : start + 250_000])
        for q0 in range(0, len(queries), 256):
            rows = slice(q0, q0 + 256)
            s = queries[rows] @ block.T
            part = np.argpartition(s, -k, axis=1)[:, -k:]
            cand_s = np.concatenate([best_s[rows], np.take_along_axis(s, part, 1)], axis=1)
            cand_i = np.concatenate([best_i[rows], part + start], axis=1)
            order = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
            best_s[rows] = np.take_along_axis(cand_s, order, 1)
            best_i[rows] = np.take_along_axis(cand_i, order, 1)
    return best_i


def latency(index: Any, queries: npt.NDArray[np.float32], batch: int, k: int) -> dict[str, float]:
    """p50 / p99 milliseconds per call of ``batch`` queries (at most 300 calls)."""
    calls = min(300, len(queries) // batch)
    times = []
    index.search(queries[:batch], k)  # warm
    for c in range(calls):
        q = queries[c * batch : (c + 1) * batch]
        t0 = time.perf_counter()
        index.search(q, k)
        times.append((time.perf_counter() - t0) * 1000)
    return {
        f"p50_ms_b{batch}": float(np.percentile(times, 50)),
        f"p99_ms_b{batch}": float(np.percentile(times, 99)),
    }


def recall(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    return float(
        np.mean([len(np.intersect1d(f, t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def configurations(n: int) -> list[tuple[str, str, dict[str, int]]]:
    cells = int(4 * np.sqrt(n))
    return [
        ("exact", "exact", {}),
        ("hnsw m32 ef128", "hnsw", {"m": 32, "ef_construction": 80, "ef_search": 128}),
        ("ivf-pq 48 B, nprobe 32", "ivfpq", {"nlist": cells, "nprobe": 32}),
        (
            "ivf-pq 48 B, nprobe 32, re-rank 4k",
            "ivfpq",
            {"nlist": cells, "nprobe": 32, "refine": 4},
        ),
    ]


def run_in_memory(args: argparse.Namespace) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    vectors, topics = catalogue(args.n, args.seed, None, args.spread, args.noise)
    queries = history_queries(vectors, topics, args.queries, args.seed)
    print(f"catalogue {args.n:,} × {DIM} in {time.perf_counter() - t0:.0f} s", flush=True)
    truth = exact_answers(vectors, queries, args.k)
    rows = []
    for label, kind, options in configurations(args.n):
        if args.kinds and kind not in args.kinds:
            continue
        extra = {} if kind == "exact" else {"threads": args.threads}
        t0 = time.perf_counter()
        index = build_index(vectors, kind, **options, **extra)  # type: ignore[arg-type]
        build = time.perf_counter() - t0
        memory = vectors.nbytes if kind == "exact" else index.memory_bytes()  # type: ignore[attr-defined]
        _, found = index.search(queries, args.k)
        row = {
            "index": label,
            "n": args.n,
            "build_s": build,
            "memory_mb": memory / 2**20,
            "recall@10": recall(found, truth),
        }
        row |= latency(index, queries, 1, args.k) | latency(index, queries, 64, args.k)
        print(json.dumps(row), flush=True)
        rows.append(row)
        del index
    return rows


def run_on_disk(args: argparse.Namespace) -> list[dict[str, Any]]:
    """10^7: vectors in a memory-mapped file, IVF-PQ trained on a sample and filled in blocks."""
    import faiss

    faiss.omp_set_num_threads(args.threads)
    path = Path(args.scratch) / f"catalogue-{args.n}.npy"
    t0 = time.perf_counter()
    vectors, topics = catalogue(args.n, args.seed, path, args.spread, args.noise)
    queries = history_queries(vectors, topics, args.queries, args.seed)
    print(f"catalogue {args.n:,} × {DIM} on disk in {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    truth = exact_answers(vectors, queries, args.k)
    scan = time.perf_counter() - t0
    cells = int(4 * np.sqrt(args.n))
    t0 = time.perf_counter()
    quantizer = faiss.IndexFlatIP(DIM)
    index = faiss.IndexIVFPQ(quantizer, DIM, cells, 48, 8, faiss.METRIC_INNER_PRODUCT)
    sample = np.asarray(
        vectors[np.sort(np.random.default_rng(0).choice(args.n, 200_000, replace=False))]
    )
    index.train(sample)
    for start in range(0, args.n, 500_000):
        index.add(np.ascontiguousarray(vectors[start : start + 500_000]))
    index.nprobe = 32
    build = time.perf_counter() - t0
    _, found = index.search(queries, args.k)
    row = {
        "index": "ivf-pq 48 B, nprobe 32 (on disk)",
        "n": args.n,
        "build_s": build,
        "memory_mb": faiss.serialize_index(index).nbytes / 2**20,
        "recall@10": recall(found, truth),
        "exact_scan_s_per_query_block": scan,
    }
    row |= latency(index, queries, 1, args.k) | latency(index, queries, 64, args.k)
    print(json.dumps(row), flush=True)
    path.unlink()
    return [row]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spread", type=float, default=0.6, help="topic spread in latent space")
    parser.add_argument("--noise", type=float, default=0.35, help="isotropic noise per dimension")
    parser.add_argument("--kinds", nargs="*", default=[], help="exact hnsw ivfpq (default: all)")
    parser.add_argument("--on-disk", action="store_true", help="memory-mapped vectors, IVF-PQ only")
    parser.add_argument("--scratch", default="/tmp", help="--on-disk: where the vectors go")
    parser.add_argument("--out", type=Path, default=Path("results/ann"))
    args = parser.parse_args()
    rows = run_on_disk(args) if args.on_disk else run_in_memory(args)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"ann-{args.n}{'-disk' if args.on_disk else ''}.json"
    out.write_text(json.dumps(rows, indent=2))
    print(
        f"\n{'index':38} {'n':>10} {'build s':>8} {'MiB':>8} {'R@10':>6} {'b1 p50':>7} {'b1 p99':>7} {'b64 p50':>8} {'b64 p99':>8}"
    )
    for r in rows:
        print(
            f"{r['index']:38} {r['n']:>10,} {r['build_s']:>8.1f} {r['memory_mb']:>8.0f} {r['recall@10']:>6.3f} {r['p50_ms_b1']:>7.2f} {r['p99_ms_b1']:>7.2f} {r['p50_ms_b64']:>8.1f} {r['p99_ms_b64']:>8.1f}"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
