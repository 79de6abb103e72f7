"""``lmrec llm-rank`` and ``lmrec explain``: the LLM commands, registered on the main CLI app."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer


def llm_rank(
    dataset: Annotated[str, typer.Option("--dataset", "-d")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name at the endpoint.")] = "",
    endpoint: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    ] = None,
    hf_model: Annotated[
        str | None, typer.Option("--hf-model", help="Local HF causal LM directory (or hub name).")
    ] = None,
    protocol: Annotated[str, typer.Option("--protocol", "-p")] = "llmrank-20",
    candidates: Annotated[Path | None, typer.Option(help="LLMRank candidate file.")] = None,
    template: Annotated[str, typer.Option(help="Prompt template name or file.")] = "sequential",
    passes: Annotated[int, typer.Option(help="Shuffled passes fused (position bias).")] = 1,
    users: Annotated[int, typer.Option(help="Evaluate the first N cases (0 = all).")] = 200,
    retriever: Annotated[
        str,
        typer.Option(help="Full ranking: candidates from a model name, nir-user or nir-item."),
    ] = "itemknn-seq",
    concurrency: int = 4,
    timeout: float = 60.0,
    api_key_env: str = "OPENAI_API_KEY",
    cache_dir: Annotated[Path | None, typer.Option(help="Response cache folder.")] = None,
    seed: int = 0,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
) -> None:
    """Rank candidates with a generative LLM and print LLMRank's metrics table."""
    from rich.table import Table

    from lmrec.cli import _fail, _load, _prepare, console
    from lmrec.experiment import context_for
    from lmrec.llm.backends import HuggingFaceBackend, OpenAICompatibleBackend
    from lmrec.llm.cache import ResponseCache
    from lmrec.llm.candidates import NIRFilter, hit_rate, retriever_candidates
    from lmrec.llm.prompts import Domain
    from lmrec.llm.ranker import LLMRankConfig, LLMRanker
    from lmrec.metrics.evaluate import evaluate
    from lmrec.models.registry import create_model
    from lmrec.text.cache import default_cache_dir

    if (endpoint is None) == (hf_model is None):
        raise _fail("give exactly one of --endpoint URL (with --model) or --hf-model DIR")
    if endpoint is not None and not model:
        raise _fail("--endpoint needs --model (the model name the server serves)")
    cache = ResponseCache((cache_dir or default_cache_dir()) / "llm-responses.sqlite")
    backend: Any = (
        OpenAICompatibleBackend(
            endpoint, model, api_key_env, timeout, concurrency=concurrency, cache=cache
        )
        if endpoint is not None
        else HuggingFaceBackend(str(hf_model), cache=cache)
    )
    ds = _load(dataset, data_dir)
    prepared = _prepare(ds, protocol, candidates, seed, 0.9, "test")
    cases = prepared.cases
    if users:
        cases = cases.select(range(min(users, len(cases))))
    try:
        config = LLMRankConfig(template=template, passes=passes, seed=seed)
        base: Any = None
        if cases.candidates is None:
            base = (
                NIRFilter("user" if retriever == "nir-user" else "item")
                if retriever in ("nir-user", "nir-item")
                else create_model(retriever, None, context_for(ds))
            )
        ranker = LLMRanker(backend, ds.title, config, base, Domain.for_dataset(dataset))
    except (ValueError, KeyError) as exc:
        raise _fail(str(exc)) from None
    ranker.fit(prepared.split.train)
    start = time.perf_counter()
    result = evaluate(ranker, cases, ks=(1, 5, 10, 20))
    seconds = time.perf_counter() - start
    m = result.as_dict()
    table = Table(
        "model",
        "NDCG@1",
        "NDCG@5",
        "NDCG@10",
        "NDCG@20",
        "HR@10",
        "users",
        title=(f"{dataset} · {prepared.protocol.describe()} · ×100"),
    )
    table.add_row(
        backend.model,
        *(f"{100 * m[k]:.2f}" for k in ("ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20", "hr@10")),
        str(len(cases)),
    )
    console.print(table)
    usage = backend.usage.as_dict()
    console.print(
        f"{seconds:.1f} s · calls {usage['calls']:.0f} · cache hits {usage['cache_hits']:.0f} · "
        f"failures {usage['failures']:.0f} · retries {usage['retries']:.0f} · tokens "
        f"{usage['prompt_tokens']:.0f}+{usage['completion_tokens']:.0f} · cost {usage['cost']:.4f}"
    )
    if base is not None:
        found = hit_rate(retriever_candidates(base, cases, config.n_candidates), cases.targets)
        console.print(f"candidates: {retriever} top {config.n_candidates}, hit rate {found:.3f}")
    stats = ranker.stats.as_dict()
    console.print(
        f"parsing: {stats['named']} candidates named in {stats['prompts']} replies, "
        f"{stats['hallucinated']} hallucinated and {stats['duplicates']} duplicate items dropped"
    )
    if output is not None:
        payload = {
            "metrics": m,
            "usage": usage,
            "parsing": stats,
            "provenance": {
                "dataset": dataset,
                "protocol": prepared.protocol.describe(),
                "cases": len(cases),
                "model": backend.model,
                "config": config.model_dump(),
            },
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def explain(
    dataset: Annotated[str, typer.Option("--dataset", "-d")],
    user: Annotated[str, typer.Option(help="User id.")],
    model: Annotated[str, typer.Option("--model", "-m")] = "itemknn-seq",
    k: int = 5,
    endpoint: Annotated[
        str | None, typer.Option(help="Optional LLM for a written profile.")
    ] = None,
    llm_model: Annotated[str, typer.Option("--llm-model")] = "",
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
) -> None:
    """Recommend for a user and say why: supporting history items and shared attributes."""
    from lmrec.cli import _fail, _load, console
    from lmrec.experiment import context_for
    from lmrec.llm.backends import OpenAICompatibleBackend
    from lmrec.llm.explain import Explainer
    from lmrec.models.base import Query
    from lmrec.models.registry import create_model

    ds = _load(dataset, data_dir)
    inter = ds.interactions
    if user not in inter.user_vocab:
        raise _fail(f"unknown user {user!r} in {dataset}")
    recommender = create_model(model, None, context_for(ds)).fit(inter)
    history = inter.item_vocab.decode(inter.sequences()[inter.user_vocab.index(user)])
    explainer = Explainer(ds)
    backend = OpenAICompatibleBackend(endpoint, llm_model) if endpoint else None
    profile = explainer.profile(history, backend=backend)
    console.print(f"[bold]user {user}[/]: {profile.n_items} items")
    for value, share in profile.interests:
        console.print(f"  {share:>5.0%}  {value}")
    if profile.summary:
        console.print(f"  [italic]{profile.summary}[/]")
    for i, item in enumerate(recommender.recommend(Query(user=user, k=k)).items, start=1):
        console.print(f"{i:>2}. {explainer.explain(history, item).text}")


def register(app: typer.Typer) -> None:
    app.command("llm-rank")(llm_rank)
    app.command("explain")(explain)
