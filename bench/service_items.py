"""Benchmark: how soon a new item is recommendable after its ``PUT /items/{id}``.

Starts ``lmrec serve -m zeroshot`` (``--workers`` 1 or 2, SQLite store) on each dataset, then
``--items`` times: puts a new item with an existing item's fields under a new id, and from that
moment asks ``/recommend`` with the original item as the history (``exclude_history`` off, so the
original ranks first and its twin, scored from the same text, right after it) on one keep-alive
connection per worker process, until every worker has the new item in its top 10. Reports the PUT's latency and the seconds from sending the PUT to the first answer
by which every worker recommends the item (p50 / max), and writes ``results/service_items.json``.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.service_items
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.service_load import read_response, request_bytes
from bench.service_swap import balanced_pool
from lmrec.data.registry import default_data_dir, load_dataset
from lmrec.testing.processes import ServerProcess


async def one_item(
    url: str, port: int, item: str, fields: dict[str, Any], source: str, workers: int, limit: float
) -> tuple[float, float | None]:
    """(PUT seconds, seconds from the PUT until *every* worker process recommends it; None:
    not within ``limit``). One keep-alive connection per worker asks until its worker does."""
    pool = await balanced_pool(port, workers, 1)
    conns = [pool.get_nowait() for _ in range(pool.qsize())]
    body = json.dumps({"history": [source], "k": 10, "exclude_history": False}).encode()
    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        put = await client.put(f"{url}/items/{item}", json=fields)
    put.raise_for_status()
    put_s = time.perf_counter() - start

    async def until_recommended(conn: Any) -> float | None:
        while time.perf_counter() - start < limit:
            reader, writer = conn
            writer.write(request_bytes(body))
            _, answer = await read_response(reader)
            got = json.loads(answer)
            if item in [r["item_id"] for r in got["items"]]:
                return time.perf_counter() - start
            await asyncio.sleep(0.01)
        return None

    ready = await asyncio.gather(*(until_recommended(c) for c in conns))
    for _, writer in conns:
        writer.close()
    return put_s, None if None in ready else max(r for r in ready if r is not None)


def fields_of(ds: Any, item: str) -> dict[str, Any]:
    catalog = ds.catalog
    out: dict[str, Any] = {}
    for f in catalog.fields:
        value = f.values[catalog.ids.index(item)]
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["ml-1m", "amazon-games"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--limit", type=float, default=10.0, help="give up on an item after this")
    parser.add_argument("--out", type=Path, default=Path("results/service_items.json"))
    args = parser.parse_args()
    data_dir = default_data_dir()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            ds = load_dataset(name, data_dir, download=False)
            if ds.catalog is None:
                raise SystemExit(f"{name} has no item catalogue: new items need text")
            catalogue = len(ds.catalog)
            sources = random.Random(0).sample(list(ds.catalog.ids.ids), args.items)
            for workers in args.workers:
                store = f"sqlite:///{Path(tmp) / f'{name}-{workers}.sqlite'}"
                server = ServerProcess(
                    data_dir, store, "-d", name, "-m", "zeroshot", "--workers", str(workers)
                )
                try:
                    timings = [
                        asyncio.run(
                            one_item(
                                server.url,
                                server.port,
                                f"new-{n}",
                                fields_of(ds, s),
                                s,
                                workers,
                                args.limit,
                            )
                        )
                        for n, s in enumerate(sources)
                    ]
                finally:
                    server.stop()
                put = np.array([t[0] for t in timings])
                ready = np.array([t[1] for t in timings if t[1] is not None])
                row = {
                    "dataset": name,
                    "items_in_catalogue": catalogue,
                    "workers": workers,
                    "new_items": len(timings),
                    "recommended": len(ready),
                    "put_p50_s": float(np.median(put)),
                    "put_max_s": float(put.max()),
                    "ready_p50_s": float(np.median(ready)) if len(ready) else None,
                    "ready_max_s": float(ready.max()) if len(ready) else None,
                }
                rows.append(row)
                print(
                    f"{name:13} ({catalogue:,} items) workers {workers}: {len(ready)}/{len(timings)} new items "
                    f"recommended; PUT p50 {row['put_p50_s']:.3f} s max {row['put_max_s']:.3f} s; "
                    f"PUT→recommended p50 {row['ready_p50_s'] or float('nan'):.3f} s max {row['ready_max_s'] or float('nan'):.3f} s"
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
