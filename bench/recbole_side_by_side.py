"""Benchmark: lmrec's SASRec/GRU4Rec next to RecBole 1.2.1's on ML-100K, same split and metrics.

Both use leave-one-out by timestamp (last item = test, second to last = validation), full ranking
over all items with the user's history masked, HR@10 and NDCG@10 over all 943 users. RecBole runs in
its own throw-away virtual environment (``--setup`` creates it with the recipe below); it is never a
dependency of lmrec. RecBole trains with CE loss, batch 2,048, max length 50 and its defaults
otherwise; lmrec with its defaults (early stopping on validation NDCG@10).

Recipe (what --setup runs): python3 -m venv VENV; VENV/bin/pip install torch==2.13.0;
VENV/bin/pip install recbole==1.2.1 "numpy<2"; VENV/bin/pip install "setuptools>=77.0.3,<81".

Run:
  LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.recbole_side_by_side --setup
  ... --models sasrec gru4rec --recbole-epochs 1      (RecBole: ~5 min per SASRec epoch here)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lmrec.data.registry import default_data_dir, load_dataset
from lmrec.experiment import named_protocol, prepare, run_model

HERE = Path(__file__).resolve().parent
RECBOLE_NAMES = {"sasrec": "SASRec", "gru4rec": "GRU4Rec"}
RECIPE = (["torch==2.13.0"], ["recbole==1.2.1", "numpy<2"], ["setuptools>=77.0.3,<81"])


def setup_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        for packages in RECIPE:
            subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python


def run_recbole(
    python: Path, model: str, data_dir: Path, budget: float, epochs: int
) -> dict[str, Any]:
    worker = HERE / "recbole_worker.py"
    args = [str(python), str(worker), RECBOLE_NAMES[model], str(data_dir), "ml-100k"]
    proc = subprocess.run(
        [*args, str(budget), str(epochs)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"RecBole worker failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_lmrec(model: str, settings: dict[str, Any]) -> dict[str, Any]:
    prepared = prepare(load_dataset("ml-100k", download=False), named_protocol("loo"))
    start = time.perf_counter()
    _, result = run_model(prepared, model, settings, ks=(10,), progress=True)
    training = result.provenance["training"]
    return {
        "wall": time.perf_counter() - start,
        "train_seconds": training["seconds"],
        "epochs": training["epochs_run"],
        "per_epoch": training["train_seconds_per_epoch"],
        "best_epoch": training["best_epoch"],
        "test": result.evaluation.as_dict(),
        "users": result.provenance["users_evaluated"],
        "log": training["log"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["sasrec"], choices=sorted(RECBOLE_NAMES))
    parser.add_argument("--venv", type=Path, default=Path("/tmp/recbole-venv"))
    parser.add_argument("--setup", action="store_true", help="create the RecBole venv if missing")
    parser.add_argument("--recbole-epochs", type=int, default=1)
    parser.add_argument("--recbole-budget", type=float, default=1e9, help="seconds")
    parser.add_argument("--lmrec-minutes", type=float, default=0.0, help="0 = early stopping")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    data_dir = Path(os.environ.get("LMREC_DATA_DIR") or default_data_dir())
    python = args.venv / "bin" / "python"
    if args.setup:
        python = setup_venv(args.venv)
    if not python.exists():
        sys.exit(f"no RecBole venv at {args.venv}; rerun with --setup (recipe in this docstring)")
    rows = []
    for model in args.models:
        lm = run_lmrec(model, {"train": {"max_minutes": args.lmrec_minutes}})
        rb = run_recbole(python, model, data_dir, args.recbole_budget, args.recbole_epochs)
        rb_epoch = sum(e["seconds"] for e in rb["epochs"]) / len(rb["epochs"])
        rows.append((model, lm, rb, rb_epoch))
    print(
        "\nML-100K · leave-one-out, full ranking, history masked · test · 943 users · 2 CPU threads"
    )
    head = f"{'system':<16}{'model':<9}{'epochs':>7}{'s/epoch':>9}{'train s':>9}{'HR@10':>8}{'NDCG@10':>9}"
    print(head)
    for model, lm, rb, rb_epoch in rows:
        print(
            f"{'lmrec':<16}{model:<9}{lm['epochs']:>7}{lm['per_epoch']:>9.1f}"
            f"{lm['train_seconds']:>9.0f}{lm['test']['hr@10']:>8.4f}{lm['test']['ndcg@10']:>9.4f}"
        )
        print(
            f"{'RecBole 1.2.1':<16}{model:<9}{len(rb['epochs']):>7}{rb_epoch:>9.1f}"
            f"{rb['train_seconds']:>9.0f}{rb['test']['hit@10']:>8.4f}{rb['test']['ndcg@10']:>9.4f}"
        )
        print(
            f"  per-epoch speed-up {rb_epoch / lm['per_epoch']:.0f}x; lmrec's whole training "
            f"({lm['train_seconds']:.0f} s) vs RecBole's {len(rb['epochs'])} epoch(s) "
            f"({rb['train_seconds']:.0f} s)"
        )
    if args.json:
        args.json.write_text(json.dumps([r[:3] for r in rows], indent=2))


if __name__ == "__main__":
    main()
