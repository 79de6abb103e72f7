"""Tables of ``bench/llm_lora.py`` from its results folder (AUC x 100; NDCG@10 / HR@10)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

PUBLISHED_BINARY = {  # TALLRec (RecSys 2023), Table 2, movie, AUC x 100
    "LLaMA-7B + LoRA (TALLRec)": (67.24, 67.48, 71.98),
    "GRU4Rec": (49.07, 49.87, 52.89),
    "SASRec": (50.43, 50.48, 52.25),
}

PUBLISHED_RERANK = "LlamaRec (ML-100K): LRURec 0.0705 -> LlamaRec 0.0759 NDCG@10 (+7.7%)"


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return dict(json.loads(path.read_text())) if path.exists() else None


def _cell(values: list[float]) -> str:
    if not values:
        return "–"
    v = 100 * np.array(values)
    sd = f" ± {v.std(ddof=1):.2f}" if len(v) > 1 else ""
    return f"{v.mean():.2f}{sd} ({len(v)})"


def _epoch0_rule(run: dict[str, Any], untuned: dict[str, Any]) -> dict[str, Any]:
    """The run as lmrec's trainer selects: when no trained epoch validated better than the
    untuned model (epoch 0), the untuned model is kept, so its test AUC is the run's. Exact for
    runs made before epoch 0 competed: selection does not change training, and the untuned
    model's validation and test AUC are measured on the same examples."""
    t = run["training"]
    if "untuned_validation_auc" in t or t["best_validation_auc"] >= untuned["valid_auc"]:
        return run
    return {**run, "test_auc": untuned["test_auc"], "kept_untuned": True}


def binary_table(folder: Path, models: list[str], shots: list[int], seeds: list[int]) -> None:

    print(
        "\nBinary preference, ML-100K, test AUC x 100 on the same 1,000 later examples "
        "(mean ± sd (seeds))"
    )
    print(
        f"{'method':<34}"
        + "".join(f"{n:>22}" for n in shots)
        + f"{'train s @' + str(shots[-1]):>14}"
    )
    fixed = _load(folder, "baselines-fixed") or {}
    for name in ("rating prior", "popularity", "text similarity (MiniLM)"):
        if name in fixed:
            print(f"{name:<34}" + "".join(f"{100 * fixed[name]:>22.2f}" for _ in shots))
    for kind in ("sasrec", "gru4rec"):
        row = [
            [r[kind] for s in seeds if (r := _load(folder, f"baselines-{n}-{s}"))] for n in shots
        ]
        print(f"{kind + ' (same examples)':<34}" + "".join(f"{_cell(v):>22}" for v in row))
    for model in models:
        untuned = _load(folder, f"binary-{model}-untuned")
        if untuned:
            print(
                f"{model + ' untuned':<34}"
                + "".join(f"{100 * untuned['test_auc']:>22.2f}" for _ in shots)
            )
        runs = [
            [r for s in seeds if (r := _load(folder, f"binary-{model}-{n}-{s}"))] for n in shots
        ]
        if any(runs) and untuned:
            raw = [[r for r in v if "untuned_validation_auc" not in r["training"]] for v in runs]
            if any(raw):  # runs from before the untuned model (epoch 0) competed for "best"
                print(
                    f"{'  ' + model + ', best trained epoch':<34}"
                    + "".join(f"{_cell([r['test_auc'] for r in v]):>22}" for v in raw)
                )
            runs = [[_epoch0_rule(r, untuned) for r in v] for v in runs]
            kept = sum(
                r.get("kept_untuned", False) or r["training"]["best_epoch"] == 0
                for v in runs
                for r in v
            )
            secs = [r["training"]["seconds"] for r in runs[-1]]
            print(f"  {kept} of {sum(map(len, runs))} runs kept the untuned model (epoch 0)")
            print(
                f"{model + ' + LoRA':<34}"
                + "".join(f"{_cell([r['test_auc'] for r in v]):>22}" for v in runs)
                + (f"{np.mean(secs):>14.0f}" if secs else "")
            )
        lr = _load(folder, f"lr-{model}")
        if lr:
            print(f"  {model}: lr {lr['lr']} chosen on validation AUC {lr['validation_auc']}")
    for name, values in PUBLISHED_BINARY.items():
        print(f"{'published: ' + name:<34}" + "".join(f"{v:>22.2f}" for v in values))


def rerank_table(folder: Path, models: list[str], retriever: str, dataset: str) -> None:
    tag = f"{dataset}-{retriever}"
    base = _load(folder, f"rerank-{tag}")
    if base is None:
        return
    print(
        f"\nRe-ranking, {dataset} leave-one-out full ranking ({base['users']} users, history "
        f"masked): {retriever}'s top 20 re-ranked"
    )
    print(
        f"{'ranker':<40}{'NDCG@10':>9}{'HR@10':>8}{'change':>9}{'SE':>8}{'weight':>12}"
        f"{'cases':>7}{'fit s':>7}{'score s':>9}"
    )
    ref = np.array(base["ndcg_per_case"])
    print(f"{retriever + ' alone':<40}{base['ndcg@10']:>9.4f}{base['hr@10']:>8.4f}")
    rng = np.random.default_rng(0)
    for model in models:
        kinds = ["untuned", "lora", "title"] + [
            f.stem.removeprefix(f"rerank-{tag}-{Path(model).name}-")
            for f in sorted(folder.glob(f"rerank-{tag}-{Path(model).name}-lora-*.json"))
        ]
        for kind in kinds:
            r = _load(folder, f"rerank-{tag}-{Path(model).name}-{kind}")
            if r is None:
                continue
            cases = r.get("training", {}).get("training_cases", 0)
            for how in ("alone", "fused"):
                m = r[how]
                diff = np.array(m["ndcg_per_case"]) - ref
                rows = rng.integers(0, len(diff), (1000, len(diff)))
                se = float(diff[rows].mean(axis=1).std())
                change = 100 * (m["ndcg@10"] / base["ndcg@10"] - 1)
                f = r["fusion"]
                weight = f"{f['weight']:.2f} {f['kind']}" if how == "fused" else "1 (LM)"
                label = f"+ {model} {kind.replace('lora', 'LoRA')}, {how}"
                print(
                    f"{label:<40}{m['ndcg@10']:>9.4f}{m['hr@10']:>8.4f}{change:>+8.1f}%"
                    f"{se:>8.4f}{weight:>12}{cases:>7}{r['fit_seconds']:>7.0f}"
                    f"{r['score_seconds']:>9.0f}"
                )
            print(
                f"  {model} {kind}: chosen on {f['cases']} validation cases: fused "
                f"{f['fused_ndcg']:.4f} vs retriever {f['retriever_ndcg']:.4f}, LM alone "
                f"{f['lm_ndcg']:.4f}; best weight {f.get('best_weight', '?')} gained "
                f"{f.get('best_gain', float('nan')):+.4f} (SE {f['gain_se']:.4f})"
            )
    print(f"  published: {PUBLISHED_RERANK}; SE: paired bootstrap of the NDCG@10 difference")


def report(folder: Path, args: argparse.Namespace) -> None:
    models = args.models.split(",")
    binary_table(
        folder,
        models,
        [int(s) for s in args.shots.split(",")],
        [int(s) for s in args.seeds.split(",")],
    )
    rerank_table(folder, models, args.retriever, args.dataset)
    from bench.llm_lora_phrasing import phrasing_table

    phrasing_table(folder, _load, args)
