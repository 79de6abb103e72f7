"""``lmrec llm-rank`` and ``lmrec explain``: the LLM commands.

``llm-rank`` is ``lmrec evaluate -m llm`` with the LLM's options spelled out and LLMRank's
×100 table; the model, its backend and its candidates come from the registry like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lmrec.cli._common import (
    CandidatesOpt,
    ConfigFileOpt,
    ConfigOpt,
    DataDir,
    DatasetOpt,
    EndpointModelOpt,
    EndpointOpt,
    LLMOpt,
    OutputOpt,
    ProtocolOpt,
    ThreadsOpt,
    check_output,
    console,
    fail,
    fit_and_evaluate,
    load,
    metrics_table,
    parse_set,
    prepare,
    write_json,
)
from lmrec.cli._console import shown

if TYPE_CHECKING:
    from lmrec.llm.explain.rewrite import Rewrite


def llm_rank(
    dataset: DatasetOpt,
    llm: LLMOpt = None,
    endpoint: EndpointOpt = None,
    model: EndpointModelOpt = "",
    method: Annotated[
        str | None,
        typer.Option(
            help="The llm model's `method` (its page lists them: generate, constrained, "
            "likelihood…); default generate."
        ),
    ] = None,
    protocol: ProtocolOpt = "llmrank-20",
    candidates: CandidatesOpt = None,
    users: Annotated[int, typer.Option(min=0, help="Evaluate the first N cases (0 = all).")] = 200,
    settings: ConfigOpt = None,
    config_file: ConfigFileOpt = None,
    seed: int = 0,
    output: OutputOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Rank candidates with a language model and print LLMRank's metrics table.

    The model runs here (--llm smollm2-135m | gemma3-270m | FILE.gguf | FOLDER | hub name) or at
    any OpenAI-compatible endpoint (--endpoint URL --model NAME: vLLM, Ollama, llama.cpp,
    `lmrec llm serve`). Every other option of the `llm` model (template, passes, score_by,
    threads, retriever, max_tokens, …; see its page or `lmrec models`) is --set KEY=VALUE or a
    --config file."""
    import time

    from pydantic import ValidationError

    from lmrec.experiment.config_files import load_run_config, merge
    from lmrec.llm.ranking.candidates import hit_rate, retriever_candidates
    from lmrec.llm.ranking.ranker import LLMRanker
    from lmrec.models.llm import LLMRecommenderConfig
    from lmrec.protocols.named import CANDIDATE_COLUMNS

    given = {"endpoint": endpoint, "model": model or None, "llm": llm, "method": method}
    from_file = load_run_config(config_file).config if config_file else {}
    settings_ = merge(merge(from_file, parse_set(settings)), {"seed": seed})
    settings_ = merge(settings_, {k: v for k, v in given.items() if v is not None})
    check_output(output)
    try:  # refuse bad options before any data loads
        LLMRecommenderConfig.model_validate(settings_)
    except ValidationError as exc:
        raise fail(str(exc)) from None
    ds = load(dataset, data_dir)
    prepared = prepare(ds, protocol, candidates, seed, 0.9, "test").first(users)
    start = time.perf_counter()
    ranker, result = fit_and_evaluate(prepared, "llm", settings_)
    seconds = time.perf_counter() - start
    assert isinstance(ranker, LLMRanker)
    title = f"{dataset} · {prepared.protocol.description()} · ×100"
    console.print(metrics_table(title, [result], CANDIDATE_COLUMNS, scale=100.0, upper=True))
    usage = ranker.backend.usage.as_dict()
    n_users = len(prepared.cases)
    console.print(
        f"calls {usage['calls']:.0f} · cache hits {usage['cache_hits']:.0f} · "
        f"failures {usage['failures']:.0f} · retries {usage['retries']:.0f} · tokens "
        f"{usage['prompt_tokens']:.0f}+{usage['completion_tokens']:.0f} · cost {usage['cost']:.4f}"
        f" · {seconds / max(n_users, 1):.2f} s per user (load included)"
    )
    if usage["retries"]:
        console.print(
            "[yellow]retries: requests timed out or failed and were sent again; with a local "
            "server keep --concurrency 1 and raise --timeout[/]"
        )
    cases = prepared.cases
    if cases.candidates is None:
        n = ranker.config.n_candidates
        found = hit_rate(retriever_candidates(ranker.fitted_retriever(), cases, n), cases.targets)
        source = getattr(ranker.config, "retriever", "the retriever")
        console.print(f"candidates: {source} top {n}, hit rate {found:.3f}")
    stats = ranker.stats
    if stats.prompts:
        console.print(f"parsing: {stats.line()}")
        for i, text in enumerate(stats.examples, start=1):
            console.print(f"[dim]reply {i}: {shown(repr(text[:300]), 400)}[/]")
    if output is not None:
        write_json(
            output,
            {
                **result.to_json(),
                "usage": usage,
                "parsing": stats.as_dict(),
                "sample_replies": stats.examples,
                "seconds": seconds,
            },
        )


def explain(
    dataset: DatasetOpt,
    user: Annotated[str, typer.Option(help="User id.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The recommending model.")] = (
        "itemknn-seq"
    ),
    k: Annotated[int, typer.Option(min=1, max=100, help="How many items to explain.")] = 5,
    llm: LLMOpt = None,
    endpoint: EndpointOpt = None,
    llm_model: Annotated[str, typer.Option("--llm-model", help="With --endpoint: its model.")] = "",
    threads: ThreadsOpt = None,
    output: OutputOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Recommend for a user and say why: the history items that drive the model's own score
    (evidence) and the user's profile, in sentences true by construction; with --llm (or
    --endpoint) a language model may rewrite them, shown only when the rewrite keeps to the
    evidence. --output writes the texts and the evidence (items, score drops, the
    counterfactual set) as JSON."""
    from lmrec.core.fitted import ModelContext
    from lmrec.core.query import Query
    from lmrec.llm.explain.explainer import Explainer
    from lmrec.llm.runtime.backends import LLMBackend
    from lmrec.models.registry import create_model

    if llm and endpoint:
        raise fail("give --llm or --endpoint, not both")
    if endpoint and not llm_model:
        raise fail("--endpoint needs --llm-model (the model name it serves)")
    check_output(output)
    ds = load(dataset, data_dir)
    inter = ds.interactions
    if user not in inter.user_vocab:
        raise fail(f"unknown user {user!r} in {dataset}")
    backend: LLMBackend | None = None
    if llm or endpoint:
        from lmrec.cli.llm_local import load_backend

        backend = load_backend(llm, threads, endpoint=endpoint, endpoint_model=llm_model)
    recommender = create_model(model, None, ModelContext.for_dataset(ds)).fit(inter)
    history = inter.item_vocab.decode(inter.sequences()[inter.user_vocab.index(user)])
    explainer = Explainer(ds)
    profile = explainer.profile(history, backend=backend)
    console.print(f"[bold]user {shown(user)}[/]: {shown(profile.text, 2_000)}")
    for value, count in profile.counts:
        console.print(f"  {count:>5}  {shown(value)}")
    if profile.rewrite is not None:
        console.print(f"  [italic]{shown(profile.shown, 2_000)}[/]")
        console.print(f"  [dim]{shown(_verdict(profile.rewrite), 300)}[/]")
    items = recommender.recommend(Query(user=user, k=k)).items
    out: list[dict[str, object]] = []
    for i, item in enumerate(items, start=1):
        if backend is None:
            found = explainer.from_evidence(recommender, history, item)
            console.print(f"{i:>2}. {shown(found.text, 2_000)}")
            out.append({"item_id": item, **found.to_json()})
            continue
        found, why = explainer.rewritten(recommender, history, item, backend)
        console.print(f"{i:>2}. {shown(found.text, 2_000)}")
        console.print(f"    [italic]{shown(why.text, 2_000)}[/] [dim]({shown(_verdict(why))})[/]")
        rewritten = {"shown": why.text, "accepted": why.accepted, "refused_because": why.reason}
        out.append({"item_id": item, **found.to_json(), "rewrite": rewritten})
    if output is not None:
        payload = {"user_id": user, "model": model, "profile": profile.to_json(), "items": out}
        write_json(output, payload)


def _verdict(why: Rewrite) -> str:
    verdict = "rewrite accepted" if why.accepted else f"rewrite refused: {why.reason}"
    return f"{why.seconds:.1f} s, {verdict}"


def register(app: typer.Typer) -> None:
    app.command("llm-rank")(llm_rank)
    app.command("explain")(explain)
