"""How lmrec's likelihood-by-title defaults were chosen: on validation users, never a test file.

Validation cases: ML-1M, each user's validation item (the second-to-last) with its history before
it, plus 19 sampled negatives (llmrank-20 without a file); 200 users drawn with seed 0. For each,
the per-token log-probabilities of every candidate title are computed after the story prompt
(last 50 / 20 / 10 titles, plain text or inside the chat template) and after an empty history;
then the aggregations are compared: sum / tokens**beta, minus alpha × the no-history score.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_validation [--llm smollm2-135m]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from bench.llm_rank_variants import validation_cases
from lmrec.data.registry import load_dataset
from lmrec.llm.ranking.prompts import Domain, PromptTemplate
from lmrec.llm.runtime.config import build_backend
from lmrec.models.llm import LLMRecommenderConfig

PROMPTS = {
    "h50": (50, True),
    "h20": (20, True),
    "h10": (10, True),
    "null": (0, True),
    "h50chat": (50, False),
}
Scores = list[list[npt.NDArray[np.float32]]]  # users × candidates × tokens


def ndcg10(scores: npt.NDArray[np.float64], targets: npt.NDArray[np.int64]) -> str:
    rank = (scores > scores[np.arange(len(targets)), targets][:, None]).sum(1)
    v = np.where(rank < 10, 1 / np.log2(rank + 2), 0.0)
    return f"{100 * v.mean():.2f} ± {100 * v.std(ddof=1) / np.sqrt(len(v)):.2f}"


def aggregate(
    scores: Scores, f: Callable[[npt.NDArray[np.float32]], float]
) -> npt.NDArray[np.float64]:
    return np.array([[f(c) for c in user] for user in scores])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llm", default="smollm2-135m")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    ds = load_dataset("ml-1m", download=False)
    prepared = validation_cases(ds, args.users)
    cases = prepared.cases
    assert cases.candidates is not None
    vocab = prepared.split.train.item_vocab
    backend = build_backend(LLMRecommenderConfig(llm=args.llm, threads=args.threads))
    assert hasattr(backend, "continuation_scores")
    template, domain = PromptTemplate.load("next_item"), Domain.for_dataset("ml-1m")
    found: dict[str, Scores] = {name: [] for name in PROMPTS}
    targets = []
    for row in range(len(cases)):
        history = [ds.title(vocab.ids[i]) for i in cases.histories[row].tolist()]
        titles = [f" {ds.title(vocab.ids[i])}" for i in cases.candidates[row].tolist()]
        targets.append(int(np.flatnonzero(cases.candidates[row] == cases.targets[row])[0]))
        for name, (n, raw) in PROMPTS.items():
            prompt = template.render(history[-n:] if n else [], [], domain).rstrip()
            found[name].append(backend.continuation_scores(prompt, titles, raw=raw))
    t = np.asarray(targets)
    print(f"ML-1M validation · {len(t)} users · {args.llm} · likelihood by title · N@10 ×100")
    for name in PROMPTS:
        print(
            f"  {name:<8} mean {ndcg10(aggregate(found[name], lambda c: float(c.mean())), t)}"
            f"   sum {ndcg10(aggregate(found[name], lambda c: float(c.sum())), t)}"
        )
    print("  h50: sum / tokens**beta − alpha × no-history score")
    for beta in (0.0, 0.3, 0.5, 0.7, 1.0):

        def f(c: npt.NDArray[np.float32], b: float = beta) -> float:
            return float(c.sum()) / float(len(c) ** b)

        cond, null = aggregate(found["h50"], f), aggregate(found["null"], f)
        cells = "  ".join(
            f"α={a:.2f} {ndcg10(cond - a * null, t)}" for a in (0.0, 0.25, 0.5, 0.75, 1.0)
        )
        print(f"    β={beta:.1f}  {cells}")


if __name__ == "__main__":
    main()
