"""Benchmark: train a sequence model (SASRec by default) and report it under both named protocols.

One training run on the leave-one-out split (train = all but each user's last two items; early
stopping on the validation item's NDCG@10), then the same fitted model is scored on

- leave-one-out full ranking of the test item over every item, history masked;
- LLMRank's 20-candidate protocol (ML-1M, ``ml-1m-full.random``), NDCG ×100.

Run (2 CPU cores, ~20-40 min for ML-1M):
  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.sequential --dataset ml-1m
  ... --model gru4rec --set train.max_minutes=20 --config my.yaml
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from lmrec.data.registry import DATASETS, load_dataset
from lmrec.experiment import named_protocol, prepare, run_model
from lmrec.experiment.config_files import load_run_config, merge, parse_settings
from lmrec.metrics.evaluate import evaluate
from lmrec.protocols.named import llmrank_dir

DEFAULT_LLMRANK = llmrank_dir()
# Published references for the same protocols (numbers quoted from the papers).
PUBLISHED = {
    "ml-1m": {
        "loo": "SASRec+ NDCG@10 0.1821 / HR@10 0.3152 (Klenitskiy & Vasilev, RecSys 2023); "
        "gSASRec 0.1726 / 0.3003 (Petrov & Macdonald, RecSys 2023)",
        "llmrank": "LLMRank (Hou et al., ECIR 2024), read from its figures: trained SASRec "
        "NDCG@10 ×100 = 78.89 (history ≤ 50)",
    },
    "ml-100k": {
        "loo": "LlamaRec (Yue et al., 2023), 5-core ML-100K: SASRec NDCG@10 0.0522, LRURec 0.0705"
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--model", default="sasrec")
    parser.add_argument("--config", type=Path, help="YAML run configuration")
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE override")
    parser.add_argument("--llmrank-dir", type=Path, default=DEFAULT_LLMRANK)
    parser.add_argument("--save", type=Path, help="write the checkpoint here")
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args()

    config: dict[str, Any] = {}
    model_name = args.model
    if args.config:
        run = load_run_config(args.config)
        config, model_name = run.config, run.model or model_name
    config = merge(config, parse_settings(args.set))

    dataset = load_dataset(args.dataset, download=False)
    prepared = prepare(dataset, named_protocol("loo"))
    print(
        f"{args.dataset}: {len(dataset.interactions):,} interactions, "
        f"{dataset.interactions.n_users:,} users, {dataset.interactions.n_items:,} items"
    )
    start = time.perf_counter()
    model, result = run_model(prepared, model_name, config, ks=(1, 5, 10, 20), progress=True)
    wall = time.perf_counter() - start
    training = result.provenance["training"]
    m = result.evaluation.as_dict()
    print(f"\nmodel {model_name}, config {json.dumps(result.config)}")
    print(
        f"training: {training['epochs_run']} epochs, best epoch {training['best_epoch']} "
        f"(validation NDCG@10 {training['best_validation_ndcg@10']:.4f}), "
        f"{training['seconds'] / 60:.1f} min; stopped: {training['stopped']}; "
        f"train+evaluate wall {wall / 60:.1f} min"
    )
    print(
        f"leave-one-out full ranking, {result.provenance['users_evaluated']:,} test users: "
        f"HR@10 {m['hr@10']:.4f}  NDCG@10 {m['ndcg@10']:.4f}  MRR@10 {m['mrr@10']:.4f}  "
        f"HR@20 {m['hr@20']:.4f}  NDCG@20 {m['ndcg@20']:.4f}"
    )
    figures: dict[str, Any] = {"loo": m, "training": training, "config": result.config}
    if args.dataset in PUBLISHED:
        print(f"  published: {PUBLISHED[args.dataset]['loo']}")
    file = args.llmrank_dir / str(DATASETS["ml-1m"].llmrank_file)
    if args.dataset == "ml-1m" and file.exists():
        cands = prepare(dataset, named_protocol("llmrank-20", file=file)).cases
        c = evaluate(model, cands, ks=(1, 5, 10, 20)).as_dict()
        cells = "  ".join(f"NDCG@{k} {100 * c[f'ndcg@{k}']:.2f}" for k in (1, 5, 10, 20))
        print(f"LLMRank 20 candidates ({file.name}), {len(cands):,} users, ×100: {cells}")
        print(f"  published: {PUBLISHED['ml-1m']['llmrank']}")
        figures["llmrank"] = c
    if args.save:
        model.save(args.save)  # type: ignore[attr-defined]
        print(f"checkpoint: {args.save}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
