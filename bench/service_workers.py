"""Benchmark: the service with 1, 2 and 4 worker processes, on SQLite and PostgreSQL.

For each store and worker count, starts ``lmrec serve --workers N`` (default: the zero-shot text
model on Amazon Games), warms it, and keeps ``--connections`` keep-alive connections busy for
``--seconds`` with ``POST /recommend`` for users drawn at random (seeded; the client of
``bench/service_load.py``, in this process, on the same cores as the server). Prints answered
requests/s and p50/p99 latency per cell, and writes ``results/service_workers.json``.

PostgreSQL: a fresh database ``lmrec_bench_workers`` on ``--pg-server`` (dropped first).

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.service_workers [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.service_load import request_bytes, run_python, run_wrk
from lmrec.data.registry import default_data_dir, load_dataset
from lmrec.testing.processes import ServerProcess


def fresh_pg(server: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="amazon-games")
    parser.add_argument("--model", default="zeroshot")
    parser.add_argument("--set", action="append", default=[], help="model option KEY=VALUE")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--pg-server", default="postgresql+psycopg://127.0.0.1:5432/test")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--client", choices=["python", "wrk"], default="python")
    parser.add_argument("--out", type=Path, default=Path("results/service_workers.json"))
    args = parser.parse_args()

    data_dir = default_data_dir()
    ds = load_dataset(args.dataset, data_dir, download=False)
    users = random.Random(0).sample(
        list(ds.interactions.user_vocab.ids), min(args.users, ds.interactions.n_users)
    )
    bodies = [json.dumps({"user_id": u, "k": 10}).encode() for u in users]
    requests = [request_bytes(b) for b in bodies]
    print(
        f"{args.dataset}: {ds.interactions.n_items:,} items; model {args.model}; {args.connections} connections, {args.seconds:g} s per cell; {os.cpu_count()} cores shared by server and client"
    )
    rows: list[dict[str, Any]] = []
    extra = [a for s in args.set for a in ("--set", s)]
    with tempfile.TemporaryDirectory() as tmp:
        for store_kind in args.stores:
            for workers in args.workers:
                if store_kind == "sqlite":
                    store = f"sqlite:///{Path(tmp) / f'bench-{workers}.sqlite'}"
                else:
                    store = fresh_pg(args.pg_server, "lmrec_bench_workers")
                start = time.perf_counter()
                server = ServerProcess(
                    data_dir,
                    store,
                    "-d",
                    args.dataset,
                    "-m",
                    args.model,
                    "--workers",
                    str(workers),
                    *extra,
                )
                up = time.perf_counter() - start
                try:
                    run_python(server.port, requests, args.connections, args.warmup)
                    if args.client == "wrk":
                        load = run_wrk(
                            server.port, bodies, args.connections, args.seconds, Path(tmp)
                        )
                    else:
                        load = run_python(server.port, requests, args.connections, args.seconds)
                finally:
                    server.stop()
                row = {
                    "store": store_kind,
                    "workers": workers,
                    "client": args.client,
                    "startup_s": up,
                    **load,
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(
        f"\n{'store':<11} {'workers':>7} {'start s':>7} {'ok/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-200':>7}"
    )
    for r in rows:
        print(
            f"{r['store']:<11} {r['workers']:>7} {r['startup_s']:>7.1f} {r['rps']:>7.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['errors']:>7}"
        )
    print(f"goal: >= 2,000 req/s at p99 <= 10 ms on both stores; wrote {args.out}")


if __name__ == "__main__":
    main()
