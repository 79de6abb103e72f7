"""Table and plots of ``bench/textseq.py``'s figures (``WORK/results.json``).

.venv/bin/python -m bench.textseq_report runs/textseq
.venv/bin/python -m bench.textseq_report runs/d01-sasrec runs/d01-textseq   # merged: models run
                                          # in separate --work folders are compared in "Targets"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

GPT4_GAMES = 62.88  # GPT-4 zero-shot, LLMRank protocol on Games (Hou et al., ECIR 2024)
UNISREC_GAMES = 40.71  # UniSRec zero-shot, same protocol (LLMRank paper, Table 2)
SASREC_PLUS = 0.1821  # SASRec+ ML-1M LOO NDCG@10 (Klenitskiy & Vasilev, RecSys 2023)


def row(label: str, r: dict[str, Any]) -> str:
    def cell(key: str, scale: float = 1.0, fmt: str = ".4f") -> str:
        return format(r[key] * scale, fmt) if key in r else "-"

    extra = []
    if "trainable_share" in r:
        extra.append(
            f"trainable {r['trainable']:,}/{r['params']:,} ({100 * r['trainable_share']:.1f}%)"
        )
    if "users_per_s" in r:
        extra.append(f"{r['users_per_s']:,.0f} users/s")
    if "epochs" in r:
        extra.append(f"{r['epochs']} ep (best {r['best_epoch']})")
    return (
        f"  {label:<34}{cell('loo_ndcg@10'):>9}{cell('loo_hr@10'):>9}"
        f"{cell('llmrank_ndcg@10', 100, '.2f'):>9}{r.get('train_s', 0):>8.0f}  {'; '.join(extra)}"
    )


def header(title: str, users: str) -> None:
    print(f"\n{title}  ({users})")
    print(f"  {'model':<34}{'NDCG@10':>9}{'HR@10':>9}{'LLMR@10':>9}{'train s':>8}")


def section(results: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {k[len(prefix) :]: v for k, v in results.items() if k.startswith(prefix)}


def users(rows: dict[str, dict[str, Any]]) -> str:
    first = next(iter(rows.values()), {})
    return (
        f"LOO full ranking on {first.get('loo_users', '?'):,} test users; "
        f"LLMRank-20 on {first.get('llmrank_users', '?'):,} users"
    )


def report(results: dict[str, Any], work: Path) -> None:
    print(
        "\nNDCG@10 / HR@10: leave-one-out full ranking, history masked; LLMR@10: LLMRank "
        "20-candidate NDCG@10 ×100 (no masking). Tuned on validation only; 2 CPU cores."
    )
    published = {
        "indomain/": f"published: SASRec+ NDCG@10 {SASREC_PLUS}",
        "zeroshot/": f"published LLMRank-20: UniSRec {UNISREC_GAMES}, GPT-4 {GPT4_GAMES}",
    }
    for title, prefix in (
        ("ML-1M in-domain", "indomain/"),
        ("ML-1M text-only (transfer source)", "pretrain/"),
        ("Zero-shot ML-1M → Amazon Games (no Games training)", "zeroshot/"),
        ("Joint ML-1M + Games, one model", "joint/"),
        ("Distillation on ML-1M", "distill/"),
        ("Few-shot Amazon Games (fraction of training users)", "fewshot/"),
    ):
        rows = section(results, prefix)
        trained = rows.pop("train", None)
        if rows:
            header(title, users(rows))
            if trained:
                print(
                    f"  (the joint model: trained {trained['train_s']:.0f} s, {trained['epochs']} ep)"
                )
            for label, r in rows.items():
                print(row(label, r))
            if prefix in published:
                print(f"  {published[prefix]}")
    checks(results)
    plot(results, work)


def checks(results: dict[str, Any]) -> None:
    """The issue's targets, each with the figures it compares."""
    get = results.get
    print("\nTargets")
    lines = []
    if get("indomain/textseq") and get("indomain/sasrec"):
        t, s = results["indomain/textseq"]["loo_ndcg@10"], results["indomain/sasrec"]["loo_ndcg@10"]
        lines.append((f"ML-1M TextSeqRec {t:.4f} ≥ SASRec {s:.4f} (same run)", t >= s))
        lines.append((f"ML-1M TextSeqRec {t:.4f} ≥ 0.182", t >= 0.182))
    z = get("zeroshot/textseq ML-1M→Games")
    base = get("zeroshot/zeroshot (lmrec text)")
    if z and base:
        a, b = 100 * z["llmrank_ndcg@10"], 100 * base["llmrank_ndcg@10"]
        lines.append((f"zero-shot Games LLMRank-20 {a:.2f} > lmrec zeroshot {b:.2f}", a > b))
    pre, scratch = get("fewshot/0.05/pretrained+adapter"), get("fewshot/0.05/scratch")
    if pre and scratch:
        ratio = pre["loo_ndcg@10"] / max(scratch["loo_ndcg@10"], 1e-9)
        lines.append(
            (f"5% Games: pretrained+adapter / scratch NDCG@10 = {ratio:.2f} ≥ 1.5", ratio >= 1.5)
        )
    for name in ("ml-1m", "amazon-games"):
        single_key = f"joint/{name} alone"
        j, s1 = get(f"joint/{name}"), get(single_key)
        if j and s1:
            share = j["loo_ndcg@10"] / max(s1["loo_ndcg@10"], 1e-9)
            lines.append(
                (f"joint on {name}: {share:.1%} of single-domain ({single_key})", share >= 0.95)
            )
    t = get("distill/teacher")
    students = {k: v for k, v in section(results, "distill/").items() if k.startswith("student")}
    for label, st in students.items():
        if not t:
            break
        acc = st["loo_ndcg@10"] / max(t["loo_ndcg@10"], 1e-9)
        speed = st["users_per_s"] / t["users_per_s"]
        lines.append(
            (
                f"{label}: {acc:.1%} of teacher NDCG@10 at {speed:.1f}× users/s",
                acc >= 0.9 and speed >= 3,
            )
        )
    for text, ok in lines:
        print(f"  [{'met' if ok else 'NOT met'}] {text}")


def plot(results: dict[str, Any], work: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    few = section(results, "fewshot/")
    if few:
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, style in (("pretrained+adapter", "o-"), ("scratch", "s--")):
            points = sorted(
                (float(k.split("/")[0]), v["loo_ndcg@10"])
                for k, v in few.items()
                if k.endswith("/" + label)
            )
            if points:
                ax.plot([100 * p[0] for p in points], [p[1] for p in points], style, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("Amazon Games training users (%)")
        ax.set_ylabel("NDCG@10 (leave-one-out, full ranking)")
        ax.set_title("Few-shot: ML-1M-pretrained TextSeqRec vs from scratch")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(work / "fewshot.png", dpi=120)
        print(f"\nplot: {work / 'fewshot.png'}")
    dist = section(results, "distill/")
    if dist:
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, r in dist.items():
            if "users_per_s" in r:
                ax.scatter(r["users_per_s"], r["loo_ndcg@10"], s=60)
                ax.annotate(
                    label,
                    (r["users_per_s"], r["loo_ndcg@10"]),
                    textcoords="offset points",
                    xytext=(5, 5),
                    fontsize=8,
                )
        ax.set_xscale("log")
        ax.set_xlabel("scoring speed (users/s, 2 CPU cores, log scale)")
        ax.set_ylabel("NDCG@10 (ML-1M leave-one-out)")
        ax.set_title("Teacher vs distilled student")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(work / "distill.png", dpi=120)
        print(f"plot: {work / 'distill.png'}")


def merged(folders: list[Path]) -> dict[str, Any]:
    """The figures of every folder's ``results.json``; a key with different figures in two
    folders is an error (which run to report is the user's choice, not the order's)."""
    results: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for folder in folders:
        file = folder / "results.json"
        if not file.is_file():
            raise SystemExit(f"{file}: not found (run bench/textseq.py --work {folder} first)")
        for key, value in json.loads(file.read_text()).items():
            if key in results and results[key] != value:
                raise SystemExit(
                    f"{key}: different figures in {origin[key]} and {file}; report them apart"
                )
            results[key], origin[key] = value, file
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Table and plots of bench/textseq.py figures")
    parser.add_argument(
        "folders",
        type=Path,
        nargs="*",
        default=[Path("runs/textseq")],
        help="--work folders of bench/textseq.py, merged; the plots go to the first",
    )
    folders = parser.parse_args().folders
    report(merged(folders), folders[0])
