"""Benchmark: how often a language model's rewrite of an evidence sentence (and of a profile
sentence) passes the checks of :mod:`lmrec.llm.explain.rewrite`, and what is shown.

ML-100K, leave-one-out test histories of the first ``--cases`` users; itemknn-seq recommends and
its #1 item's evidence sentence is rewritten; the user's profile sentence is rewritten too. For
each language model: the share accepted, the reasons for refusals, the median seconds, and 10
accepted and 10 refused samples. Every shown text (accepted rewrite or fallback sentence) is
checked again for assistant talk and for titles outside the evidence: the count must be 0.

Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.explain_rewrite
     [--llm smollm2-135m,gemma3-270m] [--cases 200]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from typing import Any

import numpy as np

from lmrec.core.fitted import ModelContext
from lmrec.core.query import Query
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.llm.explain.explainer import Explainer
from lmrec.llm.explain.rewrite import ASSISTANT_TALK, problem
from lmrec.models.registry import create_model

K = 10
SAMPLES = 10


def reason_kind(reason: str | None) -> str:
    """A refusal's reason without the item it names ("dropped 'Alien'" → "dropped")."""
    return re.sub(r"\s*[(\"'].*", "", reason or "")


def one_llm(llm: str, ds: Any, prepared: Any, model: Any, cases: int, threads: int) -> None:
    from lmrec.llm.runtime.config import build_backend
    from lmrec.models.llm import LLMRecommenderConfig

    train = prepared.split.train
    backend = build_backend(LLMRecommenderConfig(llm=llm, threads=threads))
    explainer = Explainer(ds)
    grounding = explainer.grounding()
    tallies = {"explanation": Counter[str](), "profile": Counter[str]()}
    samples: dict[str, list[str]] = {"accepted": [], "refused": []}
    seconds: list[float] = []
    unsafe = 0
    for row in range(min(cases, len(prepared.cases))):
        history = list(train.item_vocab.decode(prepared.cases.histories[row]))
        item = model.recommend(Query(history=tuple(history), k=K)).items[0]
        found, shown = explainer.rewritten(model, history, item, backend, K)
        seconds.append(shown.seconds)
        tallies["explanation"]["accepted" if shown.accepted else reason_kind(shown.reason)] += 1
        if shown.accepted:
            titles = [ds.title(i) for i in (item, *found.supporting)]
            source = re.sub(r'"[^"]*"', " ", found.text)
            unsafe += problem(shown.text, titles, grounding, source=source) is not None
            samples["accepted"].append(f"{found.text}  →  {shown.text}")
        else:
            samples["refused"].append(f"{shown.reply.strip()[:200]!r}  ({shown.reason})")
        bare = re.sub(r'"[^"]*"', " ", shown.text)
        unsafe += bool(ASSISTANT_TALK.search(bare))
        profile = explainer.profile(history, backend=backend)
        assert profile.rewrite is not None
        said = profile.rewrite
        tallies["profile"]["accepted" if said.accepted else reason_kind(said.reason)] += 1
        if said.accepted and len(samples.get("profile", [])) < SAMPLES:
            samples.setdefault("profile", []).append(f"{profile.text}  →  {said.text}")
        unsafe += bool(ASSISTANT_TALK.search(profile.shown))
    n = sum(tallies["explanation"].values())
    print(f"\n## {llm}: {n} users, median {np.median(seconds):.1f} s per explanation rewrite")
    for kind, tally in tallies.items():
        accepted = tally["accepted"]
        reasons = ", ".join(f"{r} {c}" for r, c in tally.most_common() if r != "accepted")
        print(
            f"{kind}: {accepted} of {n} accepted ({accepted / max(n, 1):.0%}); refused: {reasons}"
        )
    print(f"shown texts with assistant talk or a title outside the evidence: {unsafe}")
    for kind in ("accepted", "refused", "profile"):
        for sample in samples.get(kind, [])[:SAMPLES]:
            print(f"  {kind}: {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llm", default="smollm2-135m,gemma3-270m")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    ds = load_dataset("ml-100k", download=False)
    prepared = prepare(ds, named_protocol("loo")).first(args.cases)
    model = create_model("itemknn-seq", None, ModelContext.for_dataset(ds))
    model.fit(prepared.split.train)
    for llm in filter(None, args.llm.split(",")):
        one_llm(llm, ds, prepared, model, args.cases, args.threads)


if __name__ == "__main__":
    main()
