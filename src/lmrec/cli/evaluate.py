"""``lmrec models``, ``lmrec evaluate`` and ``lmrec recommend``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lmrec.cli._common import (
    CandidatesOpt,
    ConfigFileOpt,
    ConfigOpt,
    CutoffOpt,
    DataDir,
    DatasetOpt,
    OutputOpt,
    ProtocolOpt,
    RayOpt,
    RayWorkersOpt,
    check_output,
    console,
    evaluate_with_ray,
    fail,
    fit_and_evaluate,
    load,
    model_options,
    note_unscorable,
    prepare,
    ray_or_fail,
    report,
    write_json,
)
from lmrec.cli._console import shown
from lmrec.cli._protocol_options import (
    ByOpt,
    CandidatesSizeOpt,
    ColdOptions,
    ColdShareOpt,
    EnsureTargetOpt,
    HistoryLimitOpt,
    SeenOpt,
    candidate_set_options,
)
from lmrec.cli._store_options import TrainStoreOpt, recorded, with_store_or_fail
from lmrec.metrics.slices import parse_breakdowns

if TYPE_CHECKING:
    from lmrec.core.recommender import Recommender
    from lmrec.data.containers import Dataset, Vocabulary
    from lmrec.experiment.run import Prepared, RunResult


def models() -> None:
    """List registered models."""
    from lmrec.models.registry import model_specs

    table = Table("name", "description")
    for spec in model_specs().values():
        table.add_row(spec.name, spec.description)
    console.print(table)


def evaluate_cmd(
    dataset: DatasetOpt,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="Model name (repeatable); `lmrec models` lists them all."
        ),
    ] = None,
    config_file: ConfigFileOpt = None,
    protocol: ProtocolOpt = None,
    candidates: CandidatesOpt = None,
    candidates_size: CandidatesSizeOpt = 0,
    ensure_target: EnsureTargetOpt = False,
    seen: SeenOpt = "compete",
    retriever: Annotated[
        str | None,
        typer.Option(
            help="Two-stage: every -m model re-ranks this model's top --depth items "
            "(a model name, nir-user or nir-item)."
        ),
    ] = None,
    depth: Annotated[
        int, typer.Option(min=1, help="Two-stage: how many retrieved items compete.")
    ] = 50,
    split: Annotated[str, typer.Option(help="valid | test")] = "test",
    seed: int = 0,
    cutoff_quantile: CutoffOpt = 0.9,
    cold_share: ColdShareOpt = None,
    history_limit: HistoryLimitOpt = None,
    by: ByOpt = None,
    output: OutputOpt = None,
    settings: ConfigOpt = None,
    ray: RayOpt = None,
    workers: RayWorkersOpt = 0,
    store: TrainStoreOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Fit models on the training split and print a metrics table (and write JSON).

    Model names: `lmrec models`. With --retriever, each model re-ranks the retriever's top
    --depth items (--set options go to the re-ranker)."""
    names, config = model_options(model, config_file, settings)
    check_output(output)
    if depth < 1:
        raise fail("--depth must be at least 1")
    options = candidate_set_options(candidates_size, ensure_target, seen)
    breakdowns = parse_breakdowns(by)
    if store is not None and ray is not None:
        raise fail("--store runs in this process: drop --ray (Ray workers read the dataset files)")
    ds, store_facts = with_store_or_fail(load(dataset, data_dir), store)
    cold = ColdOptions(cold_share, history_limit)
    prepared = prepare(
        ds, protocol, candidates, seed, cutoff_quantile, split, options, config_file, cold
    )
    runs = [(name, config) for name in names]
    if retriever is not None:
        runs = [
            (
                "two-stage",
                {
                    "reranker": name,
                    "reranker_config": config,
                    "retriever": retriever,
                    "depth": depth,
                },
            )
            for name in names
        ]
    if ray is None:
        results = [fit_and_evaluate(prepared, name, cfg, by=breakdowns)[1] for name, cfg in runs]
    else:
        with ray_or_fail(ray) as session:
            results = [
                evaluate_with_ray(prepared, name, cfg, session, workers, by=breakdowns).result
                for name, cfg in runs
            ]
    report(dataset, prepared, recorded(results, store_facts), output)


def recommend_cmd(
    dataset: DatasetOpt,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (default: pop).")
    ] = None,
    user: Annotated[str | None, typer.Option(help="User id (original).")] = None,
    domain: Annotated[
        str | None,
        typer.Option(
            help="A joint dataset: recommend only this domain's items (default: the user's "
            "domain; the history merges the person's accounts in every domain)."
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Say which history items led to each item.")
    ] = False,
    text: Annotated[
        list[str] | None,
        typer.Option("--text", help="Free-text history sentence (repeatable; zero-shot model)."),
    ] = None,
    k: int = 10,
    protocol: ProtocolOpt = None,
    candidates: CandidatesOpt = None,
    split: str = "test",
    all_users: Annotated[
        bool, typer.Option("--all-users", help="Export every evaluated user.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="TSV for --all-users; JSON for --user (with --explain: each item's evidence).",
        ),
    ] = None,
    seed: int = 0,
    cutoff_quantile: CutoffOpt = 0.9,
    cold_share: ColdShareOpt = None,
    history_limit: HistoryLimitOpt = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            "--model-dir",
            help="Use a checkpoint written by `lmrec train` (its model is read from it) "
            "instead of fitting.",
        ),
    ] = None,
    settings: ConfigOpt = None,
    config_file: ConfigFileOpt = None,
    ray: RayOpt = None,
    workers: RayWorkersOpt = 0,
    data_dir: DataDir = None,
) -> None:
    """Recommend for one user (titles), or export rankings of every evaluated user as TSV."""
    from lmrec.core.coverage import unscorable_count
    from lmrec.core.query import Query

    if k < 1:
        raise fail("--k must be at least 1")
    if ray is not None and not all_users:
        raise fail("--ray scores every user: use it with --all-users --output FILE.tsv")
    check_output(output)
    if model_dir is not None:
        saved = checkpoint_model(model_dir)
        if model is not None and model != saved:
            raise fail(f"--model {model} but {model_dir} holds a {saved!r} checkpoint")
        model = saved
    if model is None and config_file is None:
        model = "pop"
    names, config = model_options([model] if model else None, config_file, settings)
    model = names[0]
    ds = load(dataset, data_dir)
    if all_users:
        if output is None:
            raise fail("--all-users needs --output FILE.tsv")
        cold = ColdOptions(cold_share, history_limit)
        prepared = prepare(
            ds, protocol, candidates, seed, cutoff_quantile, split, None, config_file, cold
        )
        if ray is None:
            fitted, result = _fit_or_load(prepared, model, config, model_dir, k)
            items = fitted.item_vocab
        else:
            with ray_or_fail(ray) as session:
                run = evaluate_with_ray(prepared, model, config, session, workers, model_dir, (k,))
            result, items = run.result, run.item_vocab
            if model_dir is not None:
                _same_items(items, prepared, model_dir)
        from lmrec.experiment.export import write_rankings

        n = write_rankings(
            output, prepared.cases, result.evaluation.top, items, prepared.split.train.user_vocab
        )
        console.print(
            f"wrote {n} users to {output} (ndcg@{k} {result.evaluation.value(f'ndcg@{k}'):.4f})"
        )
        return
    if text:
        _recommend_text(ds, text, k, config)
        return
    if user is None:
        raise fail("give --user ID, --text SENTENCE, or --all-users --output FILE.tsv")
    inter = ds.interactions
    if user not in inter.user_vocab:
        raise fail(
            f"unknown user {user!r} in {dataset}: a user without history gets recommendations "
            "from --text SENTENCE (what they like, in words)"
        )
    full_history, domain, linked = _user_history(ds, user, domain)
    recommender = _model_for(ds, model, config, model_dir)
    note_unscorable(model, unscorable_count(recommender), len(recommender.item_vocab))
    # the whole logged history, also for a checkpoint trained before the latest events
    known = [i for i in full_history if i in recommender.item_vocab]
    ranking = recommender.recommend(Query(user=user, history=tuple(known), k=k, domain=domain))
    history = full_history[-10:]
    merged = f" (merged with {', '.join(linked)})" if linked else ""
    console.print(
        f"[bold]user {shown(user)}[/]{merged}, last {len(history)} of {len(known)} items:"
    )
    for item in history:
        console.print(f"  {shown(item):>6}  {shown(ds.title(item))}")
    where = f" in {domain}" if domain else ""
    table = Table("#", "item", "title", "score", title=f"{model} recommendations{where}")
    for i, (item, score) in enumerate(zip(ranking.items, ranking.scores, strict=True), start=1):
        table.add_row(str(i), shown(item), shown(ds.title(item)), f"{score:.4g}")
    console.print(table)
    notes: list[dict[str, Any] | None] = [None] * len(ranking.items)
    if explain:
        from lmrec.llm.explain.explainer import Explainer

        explainer = Explainer.for_model(ds, recommender, title_chars=60)
        for i, item in enumerate(ranking.items):
            found = explainer.from_evidence(recommender, known, item, k, domain=domain)
            console.print(f"{i + 1}. {shown(found.text, 2_000)}")
            notes[i] = found.to_json()
    if output is not None:
        listed = zip(ranking.items, ranking.scores.tolist(), notes, strict=True)
        rows = [
            {"item_id": i, "title": ds.title(i), "score": s, "explanation": n} for i, s, n in listed
        ]
        write_json(output, {"user_id": user, "model": model, "domain": domain, "items": rows})


def _user_history(
    ds: Dataset, user: str, domain: str | None
) -> tuple[list[str], str | None, list[str]]:
    """The user's history, the domain to recommend in and the linked accounts merged in: on a
    joint dataset whose users name a person (``reviewer_id``), every account's history merged
    (other domains first); elsewhere the user's own history."""
    from lmrec.data.joint import LINK_FIELD, is_joint
    from lmrec.data.people import People, domain_of

    if not is_joint(ds) and domain is not None:
        raise fail(f"--domain needs a joint dataset ('a+b'); {ds.name} is one domain")
    if not is_joint(ds) or ds.users is None or LINK_FIELD not in ds.users.field_names:
        inter = ds.interactions
        own = inter.item_vocab.decode(inter.sequences()[inter.user_vocab.index(user)])
        return own, (domain or domain_of(user)) if is_joint(ds) else None, []
    domain = domain or domain_of(user)
    people = People.of(ds)
    linked = [u for u in people.linked(user) if u != user]
    return list(people.merged_history(ds, user, domain)), domain, linked


def checkpoint_model(model_dir: Path) -> str:
    """The registered model a folder written by ``lmrec train`` holds."""
    from lmrec.models.registry import saved_model_name

    return saved_model_name(model_dir)


def _model_for(
    ds: Dataset, name: str, config: dict[str, Any], model_dir: Path | None
) -> Recommender:
    """Fitted on the whole dataset, or loaded from the saved folder."""
    from lmrec.models.build import build_model

    return build_model(ds, name, config, model_dir, progress=True)


def _fit_or_load(
    prepared: Prepared, name: str, config: dict[str, Any], model_dir: Path | None, k: int
) -> tuple[Recommender, RunResult]:
    """Fitted on the split's training data and evaluated, or a checkpoint evaluated as it is."""
    from lmrec.experiment.run import describe_run, run_model, spec_for
    from lmrec.metrics.evaluate import evaluate

    if model_dir is None:
        return run_model(prepared, name, config, ks=(k,), progress=True)
    model = _model_for(prepared.dataset, name, config, model_dir)
    _same_items(model.item_vocab, prepared, model_dir)
    evaluation = evaluate(
        model,
        prepared.cases,
        ks=(k,),
        exclude_history=prepared.protocol.exclude_history,
        popularity=prepared.split.train.item_counts(),
        progress=True,
    )
    return model, describe_run(prepared, spec_for(prepared, name, config, (k,)), model, evaluation)


def _same_items(items: Vocabulary, prepared: Prepared, model_dir: Path) -> None:
    if items.ids != prepared.split.train.item_vocab.ids:
        raise fail(
            f"{model_dir}: the checkpoint's items differ from {prepared.dataset.name!r}'s; "
            "--all-users needs a checkpoint trained on this dataset"
        )


def _recommend_text(ds: Dataset, sentences: list[str], k: int, config: dict[str, Any]) -> None:
    from lmrec.core.fitted import ModelContext
    from lmrec.core.query import Query
    from lmrec.data.checks import text_problem
    from lmrec.models.registry import create_model
    from lmrec.models.zeroshot import ZeroShotTextRecommender

    for sentence in sentences:  # the rule /recommend's free text follows
        problem = "is blank" if not sentence.strip() else text_problem(sentence)
        if problem:
            raise fail(f"--text {shown(sentence, 60)!r} {problem}")
    model = create_model("zeroshot", config, ModelContext.for_dataset(ds, progress=True))
    assert isinstance(model, ZeroShotTextRecommender)
    encoder = model.encoder
    if not encoder.multilingual and any(not s.isascii() for s in sentences):
        console.print(
            f"[yellow]warning:[/] encoder {encoder.identity!r} is not multilingual; non-English "
            "text will match poorly (try --set encoder=use-multilingual)"
        )
    model.fit(ds.interactions)
    ranking = model.recommend(Query(text=tuple(sentences), k=k))
    table = Table("#", "item", "title", "cosine", title="zero-shot recommendations for your text")
    for i, (item, score) in enumerate(zip(ranking.items, ranking.scores, strict=True), start=1):
        table.add_row(str(i), shown(item), shown(ds.title(item)), f"{score:.3f}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("evaluate")(evaluate_cmd)
    app.command("recommend")(recommend_cmd)
