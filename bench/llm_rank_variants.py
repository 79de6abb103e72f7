"""Benchmark: zero-shot variants of likelihood by title on LLMRank-20, chosen on validation users.

``collect`` scores every candidate title of a user set under one prompt *kind* and one model,
and saves each title's log-probability sum and token count (``--results``/<dataset>/<split>/):

- ``story``: lmrec's ``next_item`` story of the last 50 titles (the current default prompt);
- ``list``: the history as a numbered list the next number continues;
- ``contrast``: the story of *another* user of the set (the next row), a user-specific null;
- ``relevant``: the 20 history items most similar to the candidates (MiniLM cosine, the best
  candidate per item), in time order, instead of the 20 most recent;
- ``*-null``: the kind's prompt with no history (each title's prior);
- ``n-*``: any kind with natural titles ("Usual Suspects, The" → "The Usual Suspects");
  ``y-*``: with the release year, as MovieLens writes titles ("Toy Story (1995)"); ``g-*``: with
  the genres; letters combine (``ny-story``).

``report`` chooses, per dataset and on the validation users only, each variant's length
normalisation β and calibration α, and an ensemble (reciprocal rank fusion) over
kinds and models by greedy forward selection; then prints validation and test NDCG@10 for each.

Validation users: each user's validation item with 19 uniformly sampled negatives (llmrank-20
without a file; seed 0), 200 users drawn with seed 0. Test: LLMRank's 200-user files.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.llm_rank_variants collect \
  --dataset ml-1m --split valid --model smollm2-135m --kinds story,story-null,n-story,…
then ``… report``; ``… test-at --at smollm2-135m:n-story:0.75:0.5`` scores a saved test split at a
β, α chosen on validation elsewhere.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.llm_rank import target_positions
from lmrec.data.containers import Dataset
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.experiment.run import Prepared
from lmrec.llm.ranking.prompts import Domain, PromptTemplate
from lmrec.llm.ranking.titles import title_function
from lmrec.protocols.named import llmrank_file

KINDS = ("story", "list", "contrast", "relevant")


def styled(ds: Dataset, ids: Sequence[str], style: str) -> list[str]:
    """Each item's title in ``style`` (n natural, y with the year, g with the genres), written
    by the ranker's own :func:`title_function`."""
    assert ds.catalog is not None and ds.catalog.title_field is not None
    parts = [name for letter, name in (("y", "release_year"), ("g", "genre")) if letter in style]
    fmt = f"{{{ds.catalog.title_field}}}" + (" ({" + "}; {".join(parts) + "})" if parts else "")
    title = title_function(ds.catalog, fmt, natural="n" in style)
    return [title(i) for i in ids]


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum`` (counts of users, cases, threads,
    epochs), refused with the option's name by argparse otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is under {minimum}")
        return value

    return parse


def validation_cases(ds: Dataset, users: int) -> Prepared:
    """``users`` validation cases drawn with seed 0: each user's validation item with 19
    uniformly sampled negatives (llmrank-20 without a file)."""
    prepared = prepare(ds, named_protocol("llmrank-20"), "valid")
    rows = np.random.default_rng(0).choice(len(prepared.cases), size=users, replace=False)
    return replace(prepared, cases=prepared.cases.select(np.sort(rows)))


def cases_for(name: str, split: str, users: int) -> Prepared:
    ds = load_dataset(name, download=False)
    if split == "test":
        return prepare(ds, named_protocol("llmrank-20", file=llmrank_file(name, sample=True)))
    return validation_cases(ds, users)


def relevant_history(
    history: list[int], candidates: list[int], vectors: npt.NDArray[np.float32], k: int = 20
) -> list[int]:
    """The ``k`` history items closest to any candidate, in their original (time) order."""
    if len(history) <= k:
        return history
    sim = (vectors[history] @ vectors[candidates].T).max(axis=1)
    keep = np.sort(np.argsort(-sim, kind="stable")[:k])
    return [history[i] for i in keep]


def title_log_probs(
    backend: Any, prompt: str, titles: Sequence[str]
) -> tuple[list[float], list[int]]:
    """Each title's log-probability sum and token count as the continuation of ``prompt``."""
    found = backend.continuation_scores(prompt, [f" {t}" for t in titles], raw=True)
    return [float(s.sum()) for s in found], [len(s) for s in found]


def collect(args: argparse.Namespace) -> None:
    from lmrec.llm.runtime.config import build_backend
    from lmrec.models.llm import LLMRecommenderConfig

    prepared = cases_for(args.dataset, args.split, args.users)
    ds, cases = prepared.dataset, prepared.cases
    assert cases.candidates is not None
    vocab = prepared.split.train.item_vocab
    raw_titles = [ds.title(i) for i in vocab.ids]  # relevance: MiniLM on the plain titles
    domain = Domain.for_dataset(args.dataset)
    story = PromptTemplate.load("next_item")
    templates = {k: story for k in KINDS} | {"list": PromptTemplate.load("next_item_list")}
    backend = build_backend(LLMRecommenderConfig(llm=args.model, threads=args.threads))
    assert hasattr(backend, "continuation_scores")
    folder = args.results / args.dataset / args.split
    folder.mkdir(parents=True, exist_ok=True)
    n = len(cases)
    np.save(folder / "targets.npy", np.array(target_positions(prepared)))
    for kind in args.kinds.split(","):
        path = folder / f"{args.model}.{kind}.npz"
        if path.exists():
            print(f"{path} exists; skipped", flush=True)
            continue
        style, _, base = kind.removesuffix("-null").rpartition("-")
        if base not in KINDS or set(style) - set("nyg"):
            raise SystemExit(f"unknown kind {kind!r}: one of {KINDS}, with n/y/g- and -null")
        titles = styled(ds, vocab.ids, style)
        vectors = None
        if base == "relevant":
            from lmrec.text.encoders import create_encoder

            vectors = create_encoder("minilm").encode(raw_titles)
        start, sums, counts = time.perf_counter(), np.zeros((n, 20)), np.zeros((n, 20))
        for r in range(n):
            hist = cases.histories[r].tolist()[-50:]
            cand = cases.candidates[r].tolist()
            if kind.endswith("-null"):
                hist = []
            elif base == "contrast":
                hist = cases.histories[(r + 1) % n].tolist()[-50:]
            elif vectors is not None:
                hist = relevant_history(hist, cand, vectors)
            prompt = templates[base].render([titles[i] for i in hist], [], domain).rstrip()
            sums[r], counts[r] = title_log_probs(backend, prompt, [titles[i] for i in cand])
            if r % 50 == 49:
                print(f"{kind} {r + 1}/{n} {time.perf_counter() - start:.0f}s", flush=True)
        seconds = time.perf_counter() - start
        np.savez(path, sums=sums, counts=counts, seconds=seconds)
        print(
            f"{args.dataset} {args.split} {args.model} {kind}: {seconds / n:.2f} s/user", flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--dataset", default="ml-1m")
    c.add_argument("--split", default="valid", choices=("valid", "test"))
    c.add_argument("--model", default="smollm2-135m")
    c.add_argument("--kinds", default="story,story-null")
    c.add_argument("--users", type=at_least(1), default=200, help="validation users")
    c.add_argument("--threads", type=at_least(1), default=1)
    r = sub.add_parser("report")
    r.add_argument("--datasets", default="ml-1m,amazon-games")
    t = sub.add_parser("test-at", help="test NDCG@10 at a given β, α (chosen elsewhere)")
    t.add_argument("--dataset", default="ml-1m")
    t.add_argument("--at", nargs="+", required=True, metavar="MODEL:KIND:BETA:ALPHA")
    for p in (c, r, t):
        p.add_argument("--results", type=Path, default=Path("results/llm_rank_variants"))
    args = parser.parse_args()
    if args.command == "collect":
        collect(args)
    elif args.command == "test-at":
        from bench.llm_rank_choice import test_at

        test_at(args)
    else:
        from bench.llm_rank_choice import report

        report(args)


if __name__ == "__main__":
    main()
