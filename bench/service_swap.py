"""Benchmark: swapping the served model under sustained load, on SQLite and PostgreSQL, with 1
and 2 worker processes.

For each cell: trains two checkpoints once (``lmrec train``, default item-kNN on ML-1M with two
neighbour counts), starts ``lmrec serve --model-dir A`` (plus ``--workers N``), measures capacity
(8 keep-alive connections per worker process, back to back, for ``--probe`` s), then sends requests
open-loop at ``--load`` × capacity for ``--seconds`` s while ``POST /admin/reload`` alternates
the checkpoints ``--swaps`` times, evenly spaced. A request's latency runs from its scheduled
send time (waiting for a free connection counts: no coordinated omission). Reports failed
requests (anything but 200, connection errors included), p50/p99 before the first swap, during
swaps (from each reload until every worker answers with the new model) and after the last, and
per swap the seconds from the reload to the first request served by the new model and to the last
one served by the old. Writes ``results/service_swap.json``.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.service_swap [--swaps 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.service_load import read_response, request_bytes
from bench.service_workers import fresh_pg
from lmrec.data.registry import default_data_dir, load_dataset
from lmrec.testing.processes import ServerProcess


async def _send(conn: Any, payload: bytes) -> tuple[int, str]:
    reader, writer = conn
    writer.write(payload)
    status, body = await read_response(reader)
    code = int(status.split()[1]) if status else 0
    version = json.loads(body).get("model_version", "") if code == 200 else ""
    return code, version


async def _pid(conn: Any) -> int:
    reader, writer = conn
    writer.write(b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n")
    _, body = await read_response(reader)
    return int(json.loads(body)["pid"])


async def balanced_pool(port: int, workers: int, per_worker: int) -> asyncio.Queue[Any]:
    """``per_worker`` keep-alive connections to each worker process (the kernel hands new
    connections to whichever worker accepts first: unbalanced pools overload one worker)."""
    by_pid: dict[int, list[Any]] = {}
    for _ in range(50 * workers * per_worker):
        if len(by_pid) == workers and all(len(c) >= per_worker for c in by_pid.values()):
            break
        conn = await asyncio.open_connection("127.0.0.1", port)
        pid = await _pid(conn)
        if len(by_pid.get(pid, [])) < per_worker:
            by_pid.setdefault(pid, []).append(conn)
        else:
            conn[1].close()
    pool: asyncio.Queue[Any] = asyncio.Queue()
    for conns in by_pid.values():
        for conn in conns:
            pool.put_nowait(conn)
    return pool


async def closed_loop(port: int, requests: list[bytes], workers: int, seconds: float) -> float:
    """Answered requests/s with 8 connections per worker, each sending back to back."""
    pool = await balanced_pool(port, workers, 8)
    rng = random.Random(1)
    stop_at = time.perf_counter() + seconds
    done = 0

    async def run(conn: Any) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            code, _ = await _send(conn, requests[rng.randrange(len(requests))])
            done += code == 200

    start = time.perf_counter()
    await asyncio.gather(*(run(pool.get_nowait()) for _ in range(pool.qsize())))
    return done / (time.perf_counter() - start)


async def open_loop(
    port: int,
    requests: list[bytes],
    rate: float,
    seconds: float,
    swaps: list[tuple[float, str]],
    workers: int = 1,
) -> tuple[list[tuple[float, float, int, str]], list[dict[str, Any]]]:
    """(send time, latency, status, model version) per request; one record per reload."""
    pool = await balanced_pool(port, workers, 16 // workers)
    records: list[tuple[float, float, int, str]] = []
    reloads: list[dict[str, Any]] = []
    rng = random.Random(0)
    t0 = time.perf_counter()

    async def one(due: float, payload: bytes) -> None:
        conn = await pool.get()
        try:
            code, version = await _send(conn, payload)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            code, version = 0, ""
            conn = await asyncio.open_connection("127.0.0.1", port)
        records.append((due - t0, time.perf_counter() - due, code, version))
        pool.put_nowait(conn)

    async def reload_all() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for at, checkpoint in swaps:
                await asyncio.sleep(max(0.0, t0 + at - time.perf_counter()))
                sent = time.perf_counter() - t0
                answer = await client.post("/admin/reload", json={"checkpoint": checkpoint})
                body = answer.json()
                reloads.append(
                    {
                        "sent": sent,
                        "answered": time.perf_counter() - t0,
                        "status": answer.status_code,
                        "version": body.get("version", ""),
                        "load_seconds": body.get("seconds"),
                    }
                )

    swapper = asyncio.create_task(reload_all())
    tasks = []
    for n in range(int(rate * seconds)):
        due = t0 + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due, requests[rng.randrange(len(requests))])))
    await asyncio.gather(*tasks)
    await swapper
    return records, reloads


def _percentiles(lat: list[float]) -> dict[str, float | None]:
    if not lat:
        return {"n": 0, "p50": None, "p99": None}
    ms = np.asarray(lat) * 1000
    return {"n": len(lat), "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def summarise(
    records: list[tuple[float, float, int, str]], reloads: list[dict[str, Any]]
) -> dict[str, Any]:
    """Failures, latency before / during / after the swaps, and each swap's switch-over times."""
    windows: list[tuple[float, float]] = []
    per_swap = []
    ends = [r["sent"] for r in reloads[1:]] + [float("inf")]
    for r, end in zip(reloads, ends, strict=True):
        # answers to requests sent between this reload and the next, by model version
        span = [(t, lat, v) for t, lat, code, v in records if code == 200 and r["sent"] <= t < end]
        new = [t + lat for t, lat, v in span if v == r["version"]]
        old = [t + lat for t, lat, v in span if v != r["version"]]
        first_new = min(new) - r["sent"] if new else None
        last_old = max(old, default=r["sent"]) - r["sent"]
        windows.append((r["sent"], r["sent"] + max(last_old, first_new or 0.0)))
        per_swap.append(
            {
                "status": r["status"],
                "load_seconds": r["load_seconds"],
                "first_new_s": first_new,
                "last_old_s": last_old,
            }
        )

    def phase(t: float) -> str:
        if not reloads or t < reloads[0]["sent"]:
            return "before"
        if any(a <= t <= b for a, b in windows):
            return "during"
        return "after" if t > windows[-1][1] else "between"

    groups: dict[str, list[float]] = {"before": [], "during": [], "between": [], "after": []}
    for t, lat, code, _ in records:
        if code == 200:
            groups[phase(t)].append(lat)
    return {
        "requests": len(records),
        "failed": sum(code != 200 for _, _, code, _ in records),
        "latency_ms": {k: _percentiles(v) for k, v in groups.items()},
        "swaps": per_swap,
    }


def train(data_dir: Path, dataset: str, model: str, folder: Path, settings: list[str]) -> None:
    cmd = [sys.executable, "-m", "lmrec", "train", "-d", dataset, "-m", model, "-o", str(folder)]
    cmd += [a for s in settings for a in ("--set", s)] + ["--data-dir", str(data_dir)]
    subprocess.run(cmd, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--model", default="itemknn")
    parser.add_argument("--set-a", action="append", default=["neighbors=100"])
    parser.add_argument("--set-b", action="append", default=["neighbors=50"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--pg-server", default="postgresql+psycopg://127.0.0.1:5432/test")
    parser.add_argument("--swaps", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--load", type=float, default=0.5, help="share of measured capacity")
    parser.add_argument("--probe", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("results/service_swap.json"))
    args = parser.parse_args()

    data_dir = default_data_dir()
    ds = load_dataset(args.dataset, data_dir, download=False)
    users = random.Random(0).sample(
        list(ds.interactions.user_vocab.ids), min(3000, ds.interactions.n_users)
    )
    requests = [request_bytes(json.dumps({"user_id": u, "k": 10}).encode()) for u in users]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        started = time.perf_counter()
        train(data_dir, args.dataset, args.model, a, args.set_a)
        train(data_dir, args.dataset, args.model, b, args.set_b)
        print(
            f"trained two {args.model} checkpoints on {args.dataset} in {time.perf_counter() - started:.0f} s"
        )
        spacing = args.seconds / args.swaps
        swaps = [(spacing * (n + 0.5), str(b if n % 2 == 0 else a)) for n in range(args.swaps)]
        for store_kind in args.stores:
            store = (
                f"sqlite:///{Path(tmp) / 'swap.sqlite'}"
                if store_kind == "sqlite"
                else fresh_pg(args.pg_server, "lmrec_bench_swap")
            )
            for workers in args.workers:
                server = ServerProcess(
                    data_dir,
                    store,
                    "-d",
                    args.dataset,
                    "-m",
                    args.model,
                    "--model-dir",
                    str(a),
                    "--workers",
                    str(workers),
                )
                try:
                    asyncio.run(closed_loop(server.port, requests, workers, 2.0))  # warm
                    capacity = asyncio.run(closed_loop(server.port, requests, workers, args.probe))
                    rate = args.load * capacity
                    records, reloads = asyncio.run(
                        open_loop(server.port, requests, rate, args.seconds, swaps, workers)
                    )
                    if args.swaps % 2:  # leave checkpoint A served for the next cell
                        httpx.post(
                            f"{server.url}/admin/reload", json={"checkpoint": str(a)}, timeout=60
                        )
                finally:
                    server.stop()
                row = {
                    "store": store_kind,
                    "workers": workers,
                    "capacity_rps": capacity,
                    "rate_rps": rate,
                    **summarise(records, reloads),
                }
                rows.append(row)
                lat = row["latency_ms"]
                firsts = [s["first_new_s"] for s in row["swaps"]]
                lasts = [s["last_old_s"] for s in row["swaps"]]
                print(
                    f"{store_kind:10} workers {workers}: capacity {capacity:6.0f} req/s, load {rate:5.0f} req/s, "
                    f"{row['requests']} requests, {row['failed']} failed, {args.swaps} swaps | p50/p99 ms "
                    + " · ".join(
                        f"{k} {v['p50']:.1f}/{v['p99']:.1f}" for k, v in lat.items() if v["n"]
                    )
                    + f" | reload→first new {max(f or 0 for f in firsts):.2f} s (worst), "
                    f"→last old {max(lasts):.2f} s (worst)"
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "dataset": args.dataset,
        "model": args.model,
        "seconds": args.seconds,
        "swaps": args.swaps,
        "load": args.load,
    }
    args.out.write_text(json.dumps({"setup": meta, "cells": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
