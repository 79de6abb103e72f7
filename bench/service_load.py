"""Benchmark: a bounded load test of ``POST /recommend`` over loopback.

Starts ``lmrec serve`` (default: the zero-shot text model on Amazon Games, 16,859 items, users'
histories ≤ 50 items, SQLite store in a temporary folder), then for a fixed time keeps
``--connections`` (several values: one run each) keep-alive HTTP/1.1 connections busy, each sending one request after another for
users drawn at random (seeded). Reports p50/p90/p99/max latency of the answered (200) requests as seen
by the client, answered requests/s, non-200 answers (503 when the service sheds load), and the
server's mean scoring batch. ``--connections 64 256 1024`` finds the largest burst held. A first pass with one connection gives the
latency of an unloaded server.

Client: a small asyncio client in this process (default), or ``wrk`` (``--client wrk``; Debian
package ``wrk``) when installed. Both share the 2 cores with the server, as they would here.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.service_load [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from lmrec.data.registry import default_data_dir, load_dataset
from lmrec.testing.processes import ServerProcess


def request_bytes(body: bytes) -> bytes:
    head = (
        "POST /recommend HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The status line and body of one HTTP/1.1 answer (Content-Length framed)."""
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def connection(
    port: int, requests: list[bytes], seed: int, stop_at: float, latencies: list[float]
) -> int:
    """One keep-alive connection sending requests back to back; returns the non-200 count."""
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    while time.perf_counter() < stop_at:
        payload = requests[rng.randrange(len(requests))]
        start = time.perf_counter()
        writer.write(payload)
        status, _ = await read_response(reader)
        ok = status.startswith(b"HTTP/1.1 200")
        if ok:  # latency of answered requests; refusals (503 when shedding) are counted apart
            latencies.append(time.perf_counter() - start)
        errors += not ok
    writer.close()
    return errors


async def python_load(
    port: int, requests: list[bytes], connections: int, seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    start = time.perf_counter()
    stop_at = start + seconds
    errors = await asyncio.gather(
        *(connection(port, requests, c, stop_at, latencies) for c in range(connections))
    )
    return latencies, sum(errors), time.perf_counter() - start


def run_python(
    port: int, requests: list[bytes], connections: int, seconds: float
) -> dict[str, float]:
    runner: Callable[..., Any]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    lat, errors, wall = runner(python_load(port, requests, connections, seconds))
    ms = np.array(lat or [float("nan")]) * 1000
    return {
        "requests": len(lat) + errors,
        "rps": len(lat) / wall,
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "errors": errors,
    }


WRK_SCRIPT = """
local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
math.randomseed(7)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, "/recommend", nil, bodies[math.random(#bodies)])
end
"""


def run_wrk(
    port: int, bodies: list[bytes], connections: int, seconds: float, folder: Path
) -> dict[str, float]:
    lines = folder / "bodies.txt"
    lines.write_bytes(b"\n".join(bodies) + b"\n")
    script = folder / "bench.lua"
    script.write_text(WRK_SCRIPT % lines)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": ms("50%"),
        "p90": ms("90%"),
        "p99": ms("99%"),
        "max": ms("Latency\\s+[\\d.]+\\w+\\s+[\\d.]+\\w+"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="amazon-games")
    parser.add_argument("--model", default="zeroshot")
    parser.add_argument("--set", action="append", default=[], help="model option KEY=VALUE")
    parser.add_argument("--store", default=None, help="database URL (default: temporary SQLite)")
    parser.add_argument("--connections", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=5000, help="distinct users in the requests")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--client", choices=["python", "wrk"], default="python")
    args = parser.parse_args()
    if args.client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")

    data_dir = default_data_dir()
    ds = load_dataset(args.dataset, data_dir, download=False)
    rng = random.Random(0)
    users = rng.sample(
        list(ds.interactions.user_vocab.ids), min(args.users, ds.interactions.n_users)
    )
    bodies = [json.dumps({"user_id": u, "k": args.k}).encode() for u in users]
    requests = [request_bytes(b) for b in bodies]
    lengths = ds.interactions.sequences().lengths
    print(
        f"{args.dataset}: {ds.interactions.n_items:,} items, {ds.interactions.n_users:,} users, "
        f"history length mean {lengths.mean():.1f} / max {lengths.max()}; {len(users)} users in "
        f"the requests; model {args.model} {' '.join(args.set)}; k={args.k}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        extra = [a for s in args.set for a in ("--set", s)]
        start = time.perf_counter()
        server = ServerProcess(data_dir, store, "-d", args.dataset, "-m", args.model, *extra)
        print(
            f"server up in {time.perf_counter() - start:.1f} s (import, model fit, store: {store})"
        )
        try:
            run_python(server.port, requests, max(args.connections), args.warmup)
            rows = [("1 connection", run_python(server.port, requests, 1, args.seconds / 2))]
            for c in args.connections:
                if args.client == "wrk":
                    load = run_wrk(server.port, bodies, c, args.seconds, Path(tmp))
                else:
                    load = run_python(server.port, requests, c, args.seconds)
                rows.append((f"{c} connections ({args.client})", load))
            health = httpx.get(f"{server.url}/health").json()
        finally:
            server.stop()
    print(
        f"\n{'load':<26} {'requests':>8} {'ok/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'non-200':>7}"
    )
    for label, r in rows:
        print(
            f"{label:<26} {r['requests']:>8} {r['rps']:>8.0f} {r['p50']:>7.2f} {r['p90']:>7.2f} "
            f"{r['p99']:>7.2f} {r['max']:>7.1f} {r['errors']:>7}"
        )
    print(
        f"server: mean scoring batch {health['mean_batch']} over {health['scored_batches']} batches"
        f"; shed {health.get('shed', 0)}, past deadline {health.get('late', 0)}, peak in flight "
        f"{health.get('peak_in_flight', '?')}"
    )
    print(f"targets: p50 <= 10 ms, >= 500 req/s on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
