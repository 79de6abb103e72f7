"""Benchmark: wall time to load each dataset from its atomic files (best of 3, warm page cache).

Target (issue 2): ML-1M (1,000,209 rows) in ≤ 3 s on a 2-core machine.
Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.load_data
"""

from __future__ import annotations

import time

from lmrec.data.loaders import load_interactions
from lmrec.data.registry import available_datasets, default_data_dir, load_dataset, missing_files


def best_of(n: int, fn: object) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    data_dir = default_data_dir()
    print(f"data dir: {data_dir}")
    print(f"{'dataset':<14}{'rows':>11}{'.inter only (s)':>17}{'whole dataset (s)':>19}")
    for name in available_datasets():
        if missing_files(name, data_dir):
            print(f"{name:<14} (not present)")
            continue
        dataset = load_dataset(name, data_dir, download=False)
        inter_file = data_dir / name / f"{name}.inter"
        inter_s = (
            best_of(3, lambda f=inter_file: load_interactions(f))
            if inter_file.exists()
            else float("nan")
        )
        whole_s = best_of(3, lambda n=name: load_dataset(n, data_dir, download=False))
        print(f"{name:<14}{len(dataset.interactions):>11,}{inter_s:>17.2f}{whole_s:>19.2f}")


if __name__ == "__main__":
    main()
