"""Benchmark: every registered baseline under the named protocols, with timings.

Protocols: leave-one-out full ranking (ML-100K, ML-1M; seen items masked) and LLMRank's
20-candidate protocol (ML-1M `ml-1m-full.random`, Games `games-6k.random`), NDCG ×100 there.
Trained sequence models (SASRec, GRU4Rec) have their own script: bench/sequential.py.
Run: LMREC_DATA_DIR=../shared/data .venv/bin/python bench/baselines.py [--llmrank-dir DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lmrec.data.registry import default_data_dir, load_dataset, missing_files
from lmrec.experiment import ProtocolChoice, prepare, run_model
from lmrec.models.registry import available_models
from lmrec.protocols.named import llmrank_dir

DEFAULT_LLMRANK = llmrank_dir()


def full_ranking(name: str) -> None:
    prepared = prepare(load_dataset(name, download=False), ProtocolChoice("loo"))
    print(f"\n{name} · leave-one-out full ranking · {len(prepared.cases):,} test users")
    print(
        f"{'model':<13}{'HR@10':>8}{'NDCG@10':>9}{'MRR@10':>8}{'cov@10':>8}{'pop@10':>9}{'sec':>7}"
    )
    for model in available_models(trained=False, external=False):
        start = time.perf_counter()
        _, r = run_model(prepared, model, ks=(10,))
        m = r.evaluation.as_dict()
        print(
            f"{model:<13}{m['hr@10']:>8.4f}{m['ndcg@10']:>9.4f}{m['mrr@10']:>8.4f}"
            f"{m['coverage@10']:>8.3f}{m['popularity@10']:>9.1f}{time.perf_counter() - start:>7.1f}"
        )


def candidates(name: str, file: Path) -> None:
    prepared = prepare(load_dataset(name, download=False), ProtocolChoice("llmrank-20", file))
    print(
        f"\n{name} · LLMRank 20 candidates ({file.name}) · {len(prepared.cases):,} users · NDCG ×100"
    )
    print(f"{'model':<13}{'@1':>7}{'@5':>7}{'@10':>7}{'@20':>7}{'sec':>7}")
    for model in available_models(trained=False, external=False):
        start = time.perf_counter()
        _, r = run_model(prepared, model, ks=(1, 5, 10, 20))
        m = r.evaluation.as_dict()
        cells = "".join(f"{100 * m[f'ndcg@{k}']:>7.2f}" for k in (1, 5, 10, 20))
        print(f"{model:<13}{cells}{time.perf_counter() - start:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llmrank-dir", type=Path, default=DEFAULT_LLMRANK)
    args = parser.parse_args()
    print(f"data dir: {default_data_dir()}")
    for name in ("ml-100k", "ml-1m"):
        if not missing_files(name):
            full_ranking(name)
    for name, file in (("ml-1m", "ml-1m-full.random"), ("amazon-games", "games-6k.random")):
        if not missing_files(name) and (args.llmrank_dir / file).exists():
            candidates(name, args.llmrank_dir / file)


if __name__ == "__main__":
    main()
