"""Table and plots of ``bench/transfer.py``'s figures: ``WORK/results.json`` of one or several
folders (parts run side by side in separate ``--work`` folders), merged.

.venv/bin/python -m bench.transfer_report runs/tr-games runs/tr-sci runs/tr-off --out runs/tr
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.transfer_common import SHORT, TARGETS, per_user_file
from bench.zeroshot_headroom import paired_se

GPT4_GAMES = 62.88  # GPT-4 zero-shot, LLMRank-20 on Games (Hou et al., ECIR 2024, Table 2)
PUBLISHED_SCIENTIFIC = "SASRec 0.0797, UniSRec 0.0862, Recformer 0.1027 (Recformer, KDD 2023)"
PROTOCOL = {"loo": "LOO full", "llmrank": "LLMRank-20"}


class Results:
    """Figures of several work folders, and the per-user NDCG@10 each figure rests on."""

    def __init__(self, folders: list[Path]) -> None:
        self.values: dict[str, Any] = {}
        self.home: dict[str, Path] = {}
        for folder in folders:
            file = folder / "results.json"
            if file.exists():
                for key, value in json.loads(file.read_text()).items():
                    self.values[key], self.home[key] = value, folder

    def section(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {k[len(prefix) :]: v for k, v in self.values.items() if k.startswith(prefix)}

    def per_user(self, key: str, label: str) -> np.ndarray | None:
        if key not in self.home:
            return None
        file = per_user_file(self.home[key], key, label)
        return np.load(file) if file.exists() else None

    def versus(self, key: str, base: str, label: str) -> str:
        """``+d ± se`` of ``key`` against ``base`` on the same users (paired bootstrap; LLMRank
        figures ×100)."""
        a, b = self.per_user(key, label), self.per_user(base, label)
        if a is None or b is None or len(a) != len(b) or key == base:
            return ""
        scale, fmt = (100, ".2f") if label == "llmrank" else (1, ".4f")
        diff, se = scale * float(a.mean() - b.mean()), scale * paired_se(a, b)
        verdict = "above" if diff > 2 * se else ("below" if diff < -2 * se else "within 2 SE")
        return f"{diff:+{fmt}} ± {se:{fmt}} ({verdict})"


def line(
    part: str, target: str, protocol: str, model: str, r: dict[str, Any], label: str, vs: str
) -> str:
    ndcg = r.get(f"{label}_ndcg@10")
    if ndcg is None:
        return ""
    scale = 100 if label == "llmrank" else 1
    fmt = ".2f" if label == "llmrank" else ".4f"
    se = format(r.get(f"{label}_se", 0) * scale, fmt)
    seconds = r.get("train_s", 0) + r.get(f"{label}_eval_s", 0)
    share = f" trainable {100 * r['trainable_share']:.1f}%" if "trainable_share" in r else ""
    return (
        f"| {part} | {target} | {protocol} | {model}{share} | {format(ndcg * scale, fmt)} ± {se} "
        f"| {r.get(f'{label}_hr@10', 0):.4f} | {r.get(f'{label}_users', 0):,} | {seconds:,.0f} | {vs} |"
    )


def table(res: Results) -> list[str]:
    rows = [
        "| part | target | protocol | model | NDCG@10 ± SE | HR@10 | users | s | vs baseline (paired SE) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for target in TARGETS:
        zs = res.section(f"zeroshot/{target}/")
        base = f"zeroshot/{target}/zeroshot (lmrec text)"
        for model, r in zs.items():
            for label in ("llmrank", "loo"):
                vs = res.versus(f"zeroshot/{target}/{model}", base, label)
                rows.append(line("zero-shot", SHORT[target], PROTOCOL[label], model, r, label, vs))
        few = res.section(f"fewshot/{target}/")
        for name, r in sorted(few.items(), key=lambda kv: (float(kv[0].split("/")[0]), kv[0])):
            fraction, model = name.split("/", 1)
            scratch = f"fewshot/{target}/{fraction}/scratch"
            ratio = ""
            if scratch in res.values and model != "scratch":
                ratio = f"{r['loo_ndcg@10'] / res.values[scratch]['loo_ndcg@10']:.2f}× scratch; "
            vs = ratio + res.versus(f"fewshot/{target}/{name}", scratch, "loo")
            part = f"few-shot {100 * float(fraction):g}% ({r.get('train_users', 0):,} users)"
            rows.append(line(part, SHORT[target], "LOO full", model, r, "loo", vs))
        ind = res.section(f"indomain/{target}/")
        for model, r in ind.items():
            _, sep, dropout = model.partition(", dropout ")
            suffix = f", dropout {dropout}" if sep else ""
            vs = res.versus(
                f"indomain/{target}/{model}", f"indomain/{target}/sasrec{suffix}", "loo"
            )
            if "RRF" in model:  # the fusion against its TextSeqRec member alone
                alone = f"indomain/{target}/textseq (text + ID){suffix}"
                vs += "; vs TextSeqRec alone " + res.versus(
                    f"indomain/{target}/{model}", alone, "loo"
                )
            rows.append(line("in-domain", SHORT[target], "LOO full", model, r, "loo", vs))
    for model, r in res.section("cross/").items():
        if "pairs" not in r:  # the chosen popularity weight
            continue
        for setting in (
            "cold start/scientific",
            "alone/scientific",
            "merged/scientific",
            "alone/games",
            "merged/games",
        ):
            how, domain = setting.split("/")
            if "weight on validation" in model and how != "cold start":
                continue  # its weight was chosen for cold start only
            base = f"cross/{model}"
            vs = ""
            if how == "cold start":
                vs = res.versus(base, "cross/popularity", setting)
            elif how == "merged":
                a, b = res.per_user(base, setting), res.per_user(base, f"alone/{domain}")
                if a is not None and b is not None:
                    vs = f"vs alone {float(a.mean() - b.mean()):+.4f} ± {paired_se(a, b):.4f}"
            rows.append(
                line(
                    f"cross-domain, {how}",
                    domain.capitalize(),
                    "full, own domain",
                    model,
                    r,
                    setting,
                    vs,
                )
            )
    return [r for r in rows if r]


def fewshot_plot(res: Results, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for colour, target in zip(("C0", "C1", "C2"), TARGETS, strict=True):
        few = res.section(f"fewshot/{target}/")
        for model, style in (("pretrained+adapter", "-o"), ("scratch", "--s")):
            points = sorted(
                (float(k.split("/")[0]), v["loo_ndcg@10"])
                for k, v in few.items()
                if k.endswith(f"/{model}")
            )
            if points:
                x, y = zip(*points, strict=True)
                ax.plot(
                    [100 * v for v in x], y, style, color=colour, label=f"{SHORT[target]}, {model}"
                )
    title = "Few-shot TextSeqRec: pretrained on the other domains vs scratch"
    finish_share_plot(fig, ax, title, out / "fewshot.png")


def finish_share_plot(fig: Any, ax: Any, title: str, file: Path, legend_size: int = 7) -> None:
    """Label a few-shot plot (share of the target's users, log scale, against LOO NDCG@10) and
    write it to ``file``."""
    ax.set_xscale("log")
    ax.set_xlabel("share of the target's users trained on (%)")
    ax.set_ylabel("LOO NDCG@10 (full ranking)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(file, dpi=120)


def cross_plot(res: Results, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = [
        "cold start/scientific",
        "alone/scientific",
        "merged/scientific",
        "alone/games",
        "merged/games",
    ]
    models = {k: v for k, v in res.section("cross/").items() if "pairs" in v}
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    width = 0.8 / max(len(models), 1)
    for m, (model, r) in enumerate(models.items()):
        # a weight chosen for cold start is shown for cold start only
        shown = [s for s in settings if "weight on validation" not in model or "cold" in s]
        values = [r.get(f"{s}_ndcg@10", 0) if s in shown else 0 for s in settings]
        errors = [r.get(f"{s}_se", 0) if s in shown else 0 for s in settings]
        ax.bar(
            np.arange(len(settings)) + m * width, values, width, yerr=errors, label=model, capsize=2
        )
    ax.set_xticks(np.arange(len(settings)) + 0.4 - width / 2)
    ax.set_xticklabels([s.replace("/", "\n") for s in settings], fontsize=8)
    ax.set_ylabel("NDCG@10 (full ranking in the target domain)")
    first = next(iter(models.values()), {})
    ax.set_title(f"The same {first.get('pairs', 0)} people in Games and Scientific")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "cross.png", dpi=120)


def report(folders: list[Path], out: Path) -> None:
    res = Results(folders)
    out.mkdir(parents=True, exist_ok=True)
    print("\nNDCG@10 ± bootstrap SE over users. LOO full: leave-one-out, every item of the target ")
    print("ranked, history masked; LLMRank-20: games-6k.random candidates (×100). 2 CPU cores.")
    print(
        f"Published: GPT-4 zero-shot Games LLMRank-20 {GPT4_GAMES}; Scientific {PUBLISHED_SCIENTIFIC}.\n"
    )
    for row in table(res):
        print(row)
    for name, r in res.section("pretrain/").items():
        print(
            f"\npretrained on {name}: {r.get('train_users', 0):,} users, {r['train_s']:.0f} s, "
            f"{r.get('epochs')} epochs (best {r.get('best_epoch')}), prior weights {r.get('prior_weight')}"
        )
    weight = res.values.get("cross/popularity weight")
    if weight:
        print(
            f"\nzeroshot + popularity: weight {weight['weight']} chosen on the cold-start "
            f"validation item ({weight['valid_ndcg@10']})"
        )
    for model, r in res.section("cross/").items():
        if "example" in r:
            print(
                f"\n{model}: {100 * r['names_games_item']:.0f}% of {r['explained_users']} cold-start "
                f"top items are explained by a Games item, e.g. {r['example']}"
            )
    fewshot_plot(res, out)
    cross_plot(res, out)
    print(f"\nwrote {out / 'fewshot.png'} and {out / 'cross.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="where the PNGs go (default: the first folder)")
    args = parser.parse_args()
    report(args.folders, args.out or args.folders[0])


if __name__ == "__main__":
    main()
