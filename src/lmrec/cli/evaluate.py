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
    console,
    fail,
    fit_and_evaluate,
    load,
    model_options,
    parse_set,
    prepare,
    report,
)

if TYPE_CHECKING:
    from lmrec.data.containers import Dataset


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
        list[str] | None, typer.Option("--model", "-m", help="Model name (repeatable).")
    ] = None,
    config_file: ConfigFileOpt = None,
    protocol: ProtocolOpt = "loo",
    candidates: CandidatesOpt = None,
    split: Annotated[str, typer.Option(help="valid | test")] = "test",
    seed: int = 0,
    cutoff_quantile: CutoffOpt = 0.9,
    output: OutputOpt = None,
    settings: ConfigOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Fit models on the training split and print a metrics table (and write JSON)."""
    names, config = model_options(model, config_file, settings)
    ds = load(dataset, data_dir)
    prepared = prepare(ds, protocol, candidates, seed, cutoff_quantile, split)
    results = [fit_and_evaluate(prepared, name, config)[1] for name in names]
    report(dataset, prepared, results, output)


def recommend_cmd(
    dataset: DatasetOpt,
    model: Annotated[str, typer.Option("--model", "-m")] = "pop",
    user: Annotated[str | None, typer.Option(help="User id (original).")] = None,
    text: Annotated[
        list[str] | None,
        typer.Option("--text", help="Free-text history sentence (repeatable; zero-shot model)."),
    ] = None,
    k: int = 10,
    protocol: ProtocolOpt = "loo",
    candidates: CandidatesOpt = None,
    split: str = "test",
    all_users: Annotated[
        bool, typer.Option("--all-users", help="Export every evaluated user.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="TSV for --all-users.")
    ] = None,
    seed: int = 0,
    cutoff_quantile: CutoffOpt = 0.9,
    settings: ConfigOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Recommend for one user (titles), or export rankings of every evaluated user as TSV."""
    from lmrec.core.fitted import ModelContext
    from lmrec.core.query import Query
    from lmrec.experiment.run import run_model
    from lmrec.models.registry import create_model

    if k < 1:
        raise fail("--k must be at least 1")
    ds = load(dataset, data_dir)
    if all_users:
        if output is None:
            raise fail("--all-users needs --output FILE.tsv")
        prepared = prepare(ds, protocol, candidates, seed, cutoff_quantile, split)
        fitted, result = run_model(prepared, model, parse_set(settings), ks=(k,), progress=True)
        from lmrec.experiment.export import write_rankings

        n = write_rankings(
            output,
            prepared.cases,
            result.evaluation.top,
            fitted.item_vocab,
            prepared.split.train.user_vocab,
        )
        console.print(
            f"wrote {n} users to {output} (ndcg@{k} {result.evaluation.value(f'ndcg@{k}'):.4f})"
        )
        return
    if text:
        _recommend_text(ds, text, k, parse_set(settings))
        return
    if user is None:
        raise fail("give --user ID, --text SENTENCE, or --all-users --output FILE.tsv")
    inter = ds.interactions
    if user not in inter.user_vocab:
        raise fail(f"unknown user {user!r} in {dataset}")
    recommender = create_model(
        model, parse_set(settings), ModelContext.for_dataset(ds, progress=True)
    ).fit(inter)
    ranking = recommender.recommend(Query(user=user, k=k))
    history = inter.item_vocab.decode(inter.sequences()[inter.user_vocab.index(user)][-10:])
    console.print(f"[bold]user {user}[/], last {len(history)} items:")
    for item in history:
        console.print(f"  {item:>6}  {ds.title(item)}")
    table = Table("#", "item", "title", "score", title=f"{model} recommendations")
    for i, (item, score) in enumerate(zip(ranking.items, ranking.scores, strict=True), start=1):
        table.add_row(str(i), item, ds.title(item), f"{score:.4g}")
    console.print(table)


def _recommend_text(ds: Dataset, sentences: list[str], k: int, config: dict[str, Any]) -> None:
    from lmrec.core.fitted import ModelContext
    from lmrec.core.query import Query
    from lmrec.models.registry import create_model
    from lmrec.models.zeroshot import ZeroShotTextRecommender

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
        table.add_row(str(i), item, ds.title(item), f"{score:.3f}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("evaluate")(evaluate_cmd)
    app.command("recommend")(recommend_cmd)
