"""Benchmark: one full retrain-and-swap cycle of ``lmrec serve --retrain-every`` under load.

Trains a first checkpoint (default SASRec on ML-1M, ``--first-minutes`` of training), serves it
with ``--retrain-every EVENTS`` (SQLite store; retraining gets ``train.max_minutes`` =
``--minutes``), keeps an open-loop load of ``--rate`` requests/s on ``/recommend`` throughout, and
sends ``EVENTS`` feedback events. Reports the seconds from the last event to the first answer
from the retrained model (the whole cycle: the retrainer's poll, ``lmrec train --store`` in its
own process, the check and the swap), failed requests, and p50/p99 latency before, during the
retraining and after the swap. Writes ``results/service_retrain.json``.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.service_retrain
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.service_load import request_bytes
from bench.service_swap import open_loop, train
from lmrec.data.registry import default_data_dir, load_dataset
from lmrec.testing.processes import ServerProcess


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--model", default="sasrec")
    parser.add_argument("--first-minutes", type=float, default=2.0)
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--limit", type=float, default=900.0, help="give up after this many s")
    parser.add_argument("--out", type=Path, default=Path("results/service_retrain.json"))
    args = parser.parse_args()
    data_dir = default_data_dir()
    ds = load_dataset(args.dataset, data_dir, download=False)
    rng = random.Random(0)
    users = rng.sample(list(ds.interactions.user_vocab.ids), 2000)
    requests = [request_bytes(json.dumps({"user_id": u, "k": 10}).encode()) for u in users]
    items = list(ds.interactions.item_vocab.ids)
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "first"
        started = time.perf_counter()
        train(
            data_dir, args.dataset, args.model, first, [f"train.max_minutes={args.first_minutes}"]
        )
        print(f"first {args.model} checkpoint in {time.perf_counter() - started:.0f} s")
        server = ServerProcess(
            data_dir,
            f"sqlite:///{Path(tmp) / 'retrain.sqlite'}",
            "-d", args.dataset, "-m", args.model, "--model-dir", str(first),
            "--retrain-every", str(args.events), "--retrain-dir", str(Path(tmp) / "rounds"),
            "--set", f"train.max_minutes={args.minutes}",
        )  # fmt: skip
        try:
            version = httpx.get(f"{server.url}/health").json()["model_version"]
            before, _ = asyncio.run(open_loop(server.port, requests, args.rate, 10.0, []))
            now = time.time()
            for n in range(args.events):
                body = {"user_id": rng.choice(users), "item_id": rng.choice(items), "kind": "click"}
                sent = httpx.post(
                    f"{server.url}/feedback",
                    json={**body, "idempotency_key": f"bench-{n}", "timestamp": now + n * 1e-3},
                )
                sent.raise_for_status()
            last_event = time.perf_counter()
            during: list[tuple[float, float, int, str]] = []
            swapped_after = None
            while time.perf_counter() - last_event < args.limit:
                chunk, _ = asyncio.run(open_loop(server.port, requests, args.rate, 10.0, []))
                fresh = [r for r in chunk if r[2] == 200 and r[3] != version]
                if fresh:
                    swapped_after = (
                        time.perf_counter() - last_event - 10.0 + min(t for t, *_ in fresh)
                    )
                    during += [r for r in chunk if r[3] == version or r[2] != 200]
                    break
                during += chunk
            after, _ = asyncio.run(open_loop(server.port, requests, args.rate, 10.0, []))
        finally:
            server.stop()

    def pct(records: list[tuple[float, float, int, str]]) -> dict[str, float]:
        ms = np.array([lat for _, lat, code, _ in records if code == 200] or [np.nan]) * 1000
        return {
            "n": len(records),
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)),
        }

    everything = before + during + after
    row = {
        "dataset": args.dataset,
        "model": args.model,
        "events": args.events,
        "retrain_minutes": args.minutes,
        "rate_rps": args.rate,
        "cycle_seconds": swapped_after,
        "failed": sum(code != 200 for _, _, code, _ in everything),
        "latency_ms": {"before": pct(before), "retraining": pct(during), "after": pct(after)},
    }
    lat = row["latency_ms"]
    print(
        f"{args.dataset} {args.model}: {args.events} events → retrained and swapped in "
        f"{swapped_after if swapped_after is not None else float('nan'):.0f} s; {row['failed']} failed of "
        f"{len(everything)}; p50/p99 ms "
        + " · ".join(f"{k} {v['p50']:.1f}/{v['p99']:.1f}" for k, v in lat.items())
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
