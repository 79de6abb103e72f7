"""Benchmark: real local language models rank LLMRank's 20 candidates (ECIR 2024 protocol).

Both offline models (SmolLM2-135M-Instruct, Gemma 3 270M base) × {generation with each LLMRank
prompt, constrained generation, likelihood by title, likelihood by candidate number} × passes
{1, 3}, on ``ml-1m-200.random`` and ``games-200.random`` (LLMRank's candidate files, test split,
history ≤ 50 items). NDCG ×100 with the standard error over users, parse statistics, tokens and
seconds per user on this machine; a reply-less control (the shown order); LLMRank's published
rows; and a position-bias table (NDCG@10 by the target's place in the prompt).

Each row's result is written to ``--results`` as JSON and reused on the next run (``--fresh``
recomputes), so rows can run in separate processes and one last run prints the whole table.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_rank [--only smollm2] [--users 200]

Zero-shot variants of likelihood by title (how titles are written, list prompts, contrastive
prompts, history chosen by relevance, ensembles), each chosen on validation users, are
``bench/llm_rank_variants.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare, run_model
from lmrec.experiment.run import Prepared
from lmrec.llm.ranking.ranker import LLMRanker
from lmrec.models.fusion import RankFusion
from lmrec.protocols.named import llmrank_file
from lmrec.testing.scripted import FunctionBackend, candidates_in

DATASETS = ("ml-1m", "amazon-games")  # each has LLMRank's 200-user file in its registry entry
MODELS = ("smollm2-135m", "gemma3-270m")
KS = (1, 5, 10, 20)
# LLMRank (Hou et al., ECIR 2024), Table 2-3, NDCG@10 ×100 on their 200 sampled users
PUBLISHED = {
    "ml-1m": [
        ("Alpaca-7B", 23.09),
        ("Vicuna-13B", 22.64),
        ("LLaMA-2-70B-Chat", 31.19),
        ("ChatGPT (sequential … recency)", 42.85),
        ("ChatGPT (best prompt)", 48.80),
        ("GPT-4", 46.74),
    ],
    "amazon-games": [("GPT-4", 62.88)],
}
RANDOM_NDCG10 = 22.72  # the expectation for a random order of 20 with one relevant item


@dataclass(frozen=True)
class Row:
    model: str
    method: str
    prompt: str  # template, or "title" / "index" for likelihood
    passes: int
    users: int

    @property
    def key(self) -> str:
        return f"{self.model}.{self.method}.{self.prompt}.p{self.passes}.u{self.users}"

    def config(self, threads: int, cache_dir: str | None, runtime: str) -> dict[str, Any]:
        c: dict[str, Any] = {"llm": self.model, "method": self.method, "passes": self.passes}
        c.update(threads=threads, cache_dir=cache_dir)
        if self.method == "generate":  # llama.cpp generates ~4x faster; same greedy decoding
            c["runtime"] = runtime
        if self.method == "likelihood":
            c["score_by"] = "index" if self.prompt == "index" else "title"
            if self.prompt == "title-mean":  # the plain mean, uncalibrated (the recipe)
                c.update(length_norm=1.0, calibrate=0.0)
        else:
            c["template"] = self.prompt
        return c


def rows(users: int, few: int, gen: int) -> list[Row]:
    """Likelihood by title on ``users``; the numbered prompts on ``few``; free generation (300
    tokens a reply, 10-15 s a user on one thread) on ``gen``."""
    out = []
    for m in MODELS:
        out.append(Row(m, "likelihood", "title-mean", 1, users))
        out.append(Row(m, "likelihood", "title", 1, users))  # defaults chosen on validation users
        for passes in (1, 3):
            out.append(Row(m, "likelihood", "index", passes, few))
            out.append(Row(m, "constrained", "sequential", passes, few))
            out.append(Row(m, "generate", "sequential", passes, gen))
        out += [Row(m, "generate", t, 1, gen) for t in ("recency", "in_context")]
    out.append(Row("+".join(MODELS), "likelihood", "title", 1, users))
    return out


def per_user_ndcg(ranks: np.ndarray, k: int) -> np.ndarray:
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def summarise(ranks: np.ndarray) -> dict[str, float]:
    out = {f"ndcg@{k}": 100 * float(per_user_ndcg(ranks, k).mean()) for k in KS}
    n10 = per_user_ndcg(ranks, 10)
    out["se@10"] = 100 * float(n10.std(ddof=1) / np.sqrt(len(n10)))
    return out


def target_positions(prepared: Prepared) -> list[int]:
    cases = prepared.cases
    assert cases.candidates is not None
    return [
        int(np.flatnonzero(c == t)[0]) for c, t in zip(cases.candidates, cases.targets, strict=True)
    ]


def run_row(
    prepared: Prepared, row: Row, threads: int, cache_dir: str | None, runtime: str
) -> dict[str, Any]:
    part = prepared.first(row.users)
    start = time.perf_counter()
    config = row.config(threads, cache_dir, runtime)
    if "+" in row.model:  # both models, fused by reciprocal rank (equal weights, k = 60)
        members = [
            {"model": "llm", "config": {**config, "llm": name}} for name in row.model.split("+")
        ]
        model, result = run_model(part, "ensemble", {"members": members}, ks=KS)
        assert isinstance(model, RankFusion)
        rankers = [m for m in model.members if isinstance(m, LLMRanker)]
    else:
        model, result = run_model(part, "llm", config, ks=KS)
        assert isinstance(model, LLMRanker)
        rankers = [model]
    seconds = time.perf_counter() - start
    usage = {
        k: sum(r.backend.usage.as_dict()[k] for r in rankers)
        for k in ("prompt_tokens", "completion_tokens", "cache_hits")
    }
    n = len(part.cases)
    return {
        "row": row.__dict__,
        "runtime": config.get("runtime", "torch"),
        "users": n,
        "ranks": result.evaluation.ranks.tolist(),
        "positions": target_positions(part),
        "parse": rankers[0].stats.as_dict(),
        "examples": rankers[0].stats.examples,
        "tokens_per_user": (usage["prompt_tokens"] + usage["completion_tokens"]) / n,
        "generated_per_user": usage["completion_tokens"] / n,
        "cache_hits": usage["cache_hits"],
        "seconds_per_user": seconds / n,
    }


def shown_order(prepared: Prepared) -> dict[str, Any]:
    """The reply-less control: every candidate in the order the prompt lists them."""
    backend = FunctionBackend(
        lambda p: "\n".join(f"[{i}] {t}" for i, t in enumerate(candidates_in(p), 1))
    )
    ds = prepared.dataset
    ranker = LLMRanker(backend, ds.title).fit(prepared.split.train)
    from lmrec.metrics.evaluate import evaluate

    return {
        "ranks": evaluate(ranker, prepared.cases, ks=KS).ranks.tolist(),
        "users": len(prepared.cases),
    }


def print_tables(name: str, results: dict[str, dict[str, Any]], control: dict[str, Any]) -> None:
    print(f"\n## {name} · LLMRank-20 ({llmrank_file(name, sample=True)}) · NDCG ×100 · test split")
    head = "| model | method | prompt | passes | users | N@1 | N@5 | N@10 ± SE | N@20 | parsed full/partial/none (echo) | tokens/user | s/user |"
    print(head)
    print("|" + "---|" * 12)
    for r in results.values():
        row, s = r["row"], summarise(np.asarray(r["ranks"]))
        p = r["parse"]
        parse = f"{p['full']}/{p['partial']}/{p['none']} ({p['echoed']})" if p["prompts"] else "—"
        print(
            f"| {row['model']} | {row['method']} ({r.get('runtime', 'torch')}) | {row['prompt']} | {row['passes']} | {r['users']} "
            f"| {s['ndcg@1']:.2f} | {s['ndcg@5']:.2f} | {s['ndcg@10']:.2f} ± {s['se@10']:.2f} "
            f"| {s['ndcg@20']:.2f} | {parse} | {r['tokens_per_user']:.0f} | {r['seconds_per_user']:.2f}"
            f"{' (cached)' if r['cache_hits'] else ''} |"
        )
    s = summarise(np.asarray(control["ranks"]))
    print(
        f"| control: shown order, no model | — | — | 1 | {control['users']} | {s['ndcg@1']:.2f} "
        f"| {s['ndcg@5']:.2f} | {s['ndcg@10']:.2f} ± {s['se@10']:.2f} | {s['ndcg@20']:.2f} | — | 0 | 0 |"
    )
    print(f"| random (expectation) | | | | | | | {RANDOM_NDCG10:.2f} | | | | |")
    for label, value in PUBLISHED.get(name, []):
        print(f"| published: {label} (LLMRank, ECIR 2024) | | | | 200 | | | {value:.2f} | | | | |")
    print(f"\n### {name} · position bias: NDCG@10 ×100 by the target's place in the prompt")
    buckets = ((0, 5), (5, 10), (10, 15), (15, 20))
    print(
        "| model | method | prompt | passes | "
        + " | ".join(f"{a + 1}–{b}" for a, b in buckets)
        + " |"
    )
    print("|" + "---|" * (4 + len(buckets)))
    for r in results.values():
        row = r["row"]
        if row["prompt"].startswith("title"):
            continue  # the title prompt shows no candidates
        n10, pos = per_user_ndcg(np.asarray(r["ranks"]), 10), np.asarray(r["positions"])
        cells = []
        for a, b in buckets:
            mask = (pos >= a) & (pos < b)
            cells.append(f"{100 * n10[mask].mean():.1f} (n={mask.sum()})" if mask.any() else "—")
        print(
            f"| {row['model']} | {row['method']} ({r.get('runtime', 'torch')}) | {row['prompt']} | {row['passes']} | "
            + " | ".join(cells)
            + " |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200, help="users for likelihood by title")
    parser.add_argument("--few", type=int, default=50, help="users for the numbered prompts")
    parser.add_argument("--gen", type=int, default=20, help="users for free generation")
    parser.add_argument(
        "--only", default="", help="run only rows whose key contains one of these (comma-separated)"
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--generate-runtime", default="llama-cpp", choices=("llama-cpp", "torch"))
    parser.add_argument("--cache-dir", default=None, help="response + weights cache")
    parser.add_argument("--results", type=Path, default=Path("results/llm_rank"))
    parser.add_argument("--fresh", action="store_true", help="recompute rows already saved")
    args = parser.parse_args()
    for name in args.datasets.split(","):
        ds = load_dataset(name, download=False)
        prepared = prepare(ds, named_protocol("llmrank-20", file=llmrank_file(name, sample=True)))
        folder = args.results / name
        folder.mkdir(parents=True, exist_ok=True)
        results: dict[str, dict[str, Any]] = {}
        for row in rows(args.users, args.few, args.gen):
            path = folder / f"{row.key}.json"
            if path.exists() and not args.fresh:
                results[row.key] = json.loads(path.read_text())
            elif not args.only or any(part in row.key for part in args.only.split(",")):
                print(f"{name}: {row.key} …", flush=True)
                results[row.key] = run_row(
                    prepared, row, args.threads, args.cache_dir, args.generate_runtime
                )
                path.write_text(json.dumps(results[row.key]))
        print_tables(name, results, shown_order(prepared))


if __name__ == "__main__":
    main()
