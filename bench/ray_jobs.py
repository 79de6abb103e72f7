"""Benchmark: ``embed`` and ``recommend --all-users`` in one process against Ray with 1 and 2
workers, on ML-1M and Amazon Games, in the same run.

- embed: MiniLM over every item text, each run into an empty cache folder (1 encoder thread per
  process or actor); items/s.
- recommend --all-users: itemknn (fitted once by the driver, shipped to the workers as a
  checkpoint) ranks every test user's items
  (leave-one-out, full ranking); the export's bytes are compared with the single process's.

Every Ray figure includes its job's set-up (actors start, import, load or fit) but not the
cluster's start (``ray.init`` of a local cluster, printed apart). This machine has 2 cores, so
the figures measure overhead and correctness, not speed-up.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.ray_jobs [--datasets ml-1m]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from lmrec.data.registry import default_data_dir, load_dataset
from lmrec.data.templates import item_template
from lmrec.distributed.cluster import ray_session
from lmrec.distributed.embedding import RayEncoder
from lmrec.distributed.scoring import evaluate_on_ray
from lmrec.experiment.export import write_rankings
from lmrec.experiment.run import prepare, run_model, spec_for
from lmrec.protocols.named import named_protocol
from lmrec.text.cache import EmbeddingCache
from lmrec.text.encoders import create_encoder


def embed_runs(name: str, workers: list[int], threads: int) -> list[dict[str, Any]]:
    ds = load_dataset(name, default_data_dir(), download=False)
    assert ds.catalog is not None
    texts = item_template(name, ds.catalog, None).render(ds.catalog, ds.interactions.item_vocab.ids)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        _, stats = EmbeddingCache(Path(tmp) / "one").encode(
            create_encoder("minilm", threads=threads), texts
        )
        rows.append(
            {
                "job": "embed",
                "dataset": name,
                "runner": "one process",
                "seconds": time.perf_counter() - t0,
                "units": stats.encoded,
            }
        )
        for n in workers:
            with ray_session("local", local_cpus=max(n * threads, 2)):
                t0 = time.perf_counter()
                _, stats = EmbeddingCache(Path(tmp) / f"ray{n}").encode(
                    RayEncoder("minilm", n, threads), texts
                )
                rows.append(
                    {
                        "job": "embed",
                        "dataset": name,
                        "runner": f"ray, {n} worker(s)",
                        "seconds": time.perf_counter() - t0,
                        "units": stats.encoded,
                    }
                )
    return rows


def recommend_runs(name: str, model: str, workers: list[int]) -> list[dict[str, Any]]:
    ds = load_dataset(name, default_data_dir(), download=False)
    prepared = prepare(ds, named_protocol("loo"), "test")
    users = prepared.split.train.user_vocab
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fitted, result = run_model(prepared, model, {}, ks=(10,))
        alone = Path(tmp) / "one.tsv"
        write_rankings(alone, prepared.cases, result.evaluation.top, fitted.item_vocab, users)
        rows.append(
            {
                "job": f"recommend --all-users ({model})",
                "dataset": name,
                "runner": "one process",
                "seconds": time.perf_counter() - t0,
                "units": len(prepared.cases),
                "ndcg@10": result.evaluation.value("ndcg@10"),
                "identical": True,
            }
        )
        for n in workers:
            with ray_session("local", local_cpus=max(n, 2)):
                t0 = time.perf_counter()
                run = evaluate_on_ray(spec_for(prepared, model, ks=(10,)), prepared, workers=n)
                spread = Path(tmp) / f"ray{n}.tsv"
                write_rankings(
                    spread, prepared.cases, run.result.evaluation.top, run.item_vocab, users
                )
                same = spread.read_bytes() == alone.read_bytes()
                rows.append(
                    {
                        "job": f"recommend --all-users ({model})",
                        "dataset": name,
                        "runner": f"ray, {n} worker(s)",
                        "seconds": time.perf_counter() - t0,
                        "units": len(prepared.cases),
                        "ndcg@10": run.result.evaluation.value("ndcg@10"),
                        "identical": same,
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["ml-1m", "amazon-games"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", default="itemknn")
    parser.add_argument("--threads", type=int, default=1, help="encoder threads per process")
    parser.add_argument("--jobs", nargs="+", default=["embed", "recommend"])
    parser.add_argument("--out", type=Path, default=Path("results/ray_jobs.json"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    with ray_session("local"):
        pass
    startup = time.perf_counter() - t0
    print(f"local Ray cluster start + stop: {startup:.1f} s (not in the figures below)", flush=True)
    rows: list[dict[str, Any]] = []
    for name in args.datasets:
        if "embed" in args.jobs:
            rows += embed_runs(name, args.workers, args.threads)
            print(json.dumps(rows[-1]), flush=True)
        if "recommend" in args.jobs:
            rows += recommend_runs(name, args.model, args.workers)
            print(json.dumps(rows[-1]), flush=True)
    base = {(r["job"], r["dataset"]): r["seconds"] for r in rows if r["runner"] == "one process"}
    print(
        f"\n{'job':<34} {'dataset':<13} {'runner':<18} {'seconds':>8} {'per s':>8} {'vs one':>7} {'same':>5}"
    )
    for r in rows:
        r["ratio"] = base[(r["job"], r["dataset"])] / r["seconds"]
        same = "" if "identical" not in r else "yes" if r["identical"] else "NO"
        print(
            f"{r['job']:<34} {r['dataset']:<13} {r['runner']:<18} {r['seconds']:>8.1f} {r['units'] / r['seconds']:>8.0f} {r['ratio']:>6.2f}x {same:>5}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"ray_start_s": startup, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
