"""The ``title`` kind of ``bench/llm_lora.py rerank``: the retriever's top 20 re-ranked by title
likelihood (the zero-shot scoring that works for small models on LLMRank-20), fused with the
retriever.

Each candidate's title (natural, with the year and genres where the catalogue has them, as
chosen on ML-1M validation users) is scored as the continuation of the user's story of the last
50 titles (template ``next_item``), and after the story with no history (its prior). The length
normalisation β, the calibration α, the fusion's part and weight are all chosen on the
validation cases (each user's validation item, retrieved by the retriever fitted on the
training split): "alone" takes the (β, α) with the best LM-only NDCG@10 there, "fused" the
(β, α, part, weight) with the best fused NDCG@10 under ``choose_fusion``'s two-SE margin (ties,
such as every setting sent back to the retriever by the margin: the larger gain before it). Test
cases are scored once with the chosen settings; only cases whose target is in the top 20 are
sent to the LM (the others score 0 whatever it says), as in the letter re-ranker.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.llm_rank_choice import ALPHAS, BETAS, calibrated
from bench.llm_rank_variants import title_log_probs
from lmrec.llm.lora.fusion import Fusion, HeldOut, choose_fusion

Parts = dict[str, npt.NDArray[np.float64]]


def default_format(field_names: tuple[str, ...] | list[str], title_field: str) -> str:
    """``{title} ({year}; {genres})`` with whichever of the two the catalogue has."""
    extra = [f for f in ("release_year", "genre", "class") if f in field_names]
    inner = "; ".join(f"{{{f}}}" for f in extra[:2])
    return f"{{{title_field}}}" + (f" ({inner})" if inner else "")


def collect_parts(
    backend: Any,
    prompt_of: Any,
    titles: list[str],
    histories: list[list[int]],
    cand: npt.NDArray[np.int32],
    path: Path,
) -> Parts:
    """Log-probability sums and token counts of each candidate's title after each user's story
    (saved to ``path``; read back when it exists)."""
    if path.exists():
        z = np.load(path)
        return {k: z[k] for k in ("sums", "counts")}
    n = len(histories)
    sums, counts = np.zeros(cand.shape), np.ones(cand.shape)
    start = time.perf_counter()
    for r in range(n):
        sums[r], counts[r] = title_log_probs(
            backend, prompt_of(histories[r]), [titles[i] for i in cand[r]]
        )
        if r % 50 == 49:
            print(f"  {path.stem}: {r + 1}/{n} {time.perf_counter() - start:.0f}s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, sums=sums, counts=counts, seconds=time.perf_counter() - start)
    return {"sums": sums, "counts": counts}


def prior_parts(
    backend: Any, null_prompt: str, titles: list[str], cand: npt.NDArray[np.int32], path: Path
) -> Parts:
    """Each candidate title's sum and count after the story with no history (scored once per
    item, since that prompt is the same for every user)."""
    if path.exists():
        z = np.load(path)
        return {k: z[k] for k in ("sums", "counts")}
    items = np.unique(cand)
    found = title_log_probs(backend, null_prompt, [titles[i] for i in items])
    sums, counts = np.array(found[0]), np.array(found[1], dtype=np.float64)
    index = np.searchsorted(items, cand)  # each candidate's place among the unique items
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, sums=sums[index], counts=counts[index])
    return {"sums": sums[index], "counts": counts[index]}


def lm_scores(story: Parts, prior: Parts, beta: float, alpha: float) -> npt.NDArray[np.float32]:
    """``sum / tokens**β − α · (the same after no history)``, per candidate."""
    main, other = (story["sums"], story["counts"]), (prior["sums"], prior["counts"])
    return calibrated(main, other, beta, alpha).astype(np.float32)


def choose(
    story: Parts, prior: Parts, held: HeldOut, seed: int
) -> tuple[tuple[float, float, Fusion], tuple[float, float, Fusion]]:
    """On the validation cases: ((β, α, LM-only fusion) best alone, (β, α, fusion) best fused)."""
    alone: tuple[float, float, Fusion] | None = None
    fused: tuple[float, float, Fusion] | None = None
    for beta in BETAS:
        for alpha in ALPHAS:
            lm = lm_scores(story, prior, beta, alpha)
            f = choose_fusion(lm, held.scores[held.rows], held.columns, held.n, seed)
            if alone is None or f.lm_ndcg > alone[2].lm_ndcg + 1e-12:
                alone = (beta, alpha, f)
            # the best fused; among settings the margin sent back to the retriever alike,
            # the one whose best weight gained most
            key = (f.fused_ndcg, f.best_gain)
            if fused is None or key > (fused[2].fused_ndcg, fused[2].best_gain):
                fused = (beta, alpha, f)
    assert alone is not None and fused is not None
    return alone, fused


def title_rerank(
    args: argparse.Namespace,
    model_name: str,
    ds: Any,
    split: Any,
    cases: Any,
    retriever: Any,
    metrics: Any,
) -> dict[str, Any]:
    """The ``title`` row of one model: chosen on the validation cases, scored on the test
    cases. ``metrics(cand, scores, targets)`` gives a row's NDCG@10, HR@10 and per-case NDCG."""
    from lmrec.llm.ranking.prompts import Domain, PromptTemplate
    from lmrec.llm.ranking.titles import title_function
    from lmrec.llm.runtime.config import build_backend
    from lmrec.models.llm import LLMRecommenderConfig

    started = time.perf_counter()
    catalog = ds.catalog
    fmt = args.title_format or default_format(catalog.field_names, catalog.title_field)
    title = title_function(catalog, fmt, natural=True)
    titles = [title(i) for i in split.train.item_vocab.ids]
    template, domain = PromptTemplate.load("next_item"), Domain.for_dataset(args.dataset)
    backend = build_backend(LLMRecommenderConfig(llm=model_name, threads=args.threads))

    def prompt_of(history: list[int]) -> str:
        return str(template.render([titles[i] for i in history[-50:]], [], domain)).rstrip()

    folder = Path("results/llm_lora") / f"title-{args.dataset}-{Path(model_name).name}"

    def collected(name: str, cases: Any) -> tuple[HeldOut, Parts, Parts]:
        held = HeldOut.of(retriever, cases, 20)
        cand = held.cand[held.rows]
        story = collect_parts(
            backend, prompt_of, titles, held.histories, cand, folder / f"{name}.npz"
        )
        return (
            held,
            story,
            prior_parts(backend, prompt_of([]), titles, cand, folder / f"{name}-null.npz"),
        )

    valid = collected("valid", split.valid)
    (a_beta, a_alpha, a_fusion), (beta, alpha, fusion) = choose(valid[1], valid[2], valid[0], 0)
    print(  # the choice, before any test case is scored
        f"  validation ({valid[0].n} cases, {len(valid[0].rows)} hits): retriever "
        f"{fusion.retriever_ndcg:.4f}; LM alone {a_fusion.lm_ndcg:.4f} (β {a_beta}, α {a_alpha}); "
        f"fused {fusion.fused_ndcg:.4f} (β {beta}, α {alpha}, {fusion.kind} weight "
        f"{fusion.weight}; best {fusion.best_weight} gained {fusion.best_gain:+.5f}, "
        f"SE {fusion.gain_se:.5f})",
        flush=True,
    )
    fit_seconds, started = time.perf_counter() - started, time.perf_counter()
    held, story, prior = collected("test", cases)
    targets = np.asarray(cases.targets, dtype=np.int32)
    alone = held.full(lm_scores(story, prior, a_beta, a_alpha))
    lm = held.full(lm_scores(story, prior, beta, alpha))
    return {
        "fit_seconds": round(fit_seconds, 1),
        "score_seconds": round(time.perf_counter() - started, 1),
        "title_format": fmt,
        "alone_choice": {"beta": a_beta, "alpha": a_alpha, "valid": a_fusion.to_json()},
        "fused_choice": {"beta": beta, "alpha": alpha},
        "fusion": fusion.to_json(),
        "valid_cases": valid[0].n,
        "alone": metrics(held.cand, Fusion("rank", 1.0).fuse(alone, held.scores), targets),
        "fused": metrics(held.cand, fusion.fuse(lm, held.scores), targets),
    }
