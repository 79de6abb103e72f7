"""The ``lmrec`` command line: resolves options, loads data, calls the library, prints."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="lmrec: language-model-powered recommendation."
)
data_app = typer.Typer(no_args_is_help=True, help="Datasets: list and inspect.")
app.add_typer(data_app, name="data")
console = Console(width=None if Console().is_terminal else 110)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (default: $LMREC_DATA_DIR, else the user cache directory).",
    ),
]
DatasetOpt = Annotated[
    str,
    typer.Option(
        "--dataset",
        "-d",
        help="Dataset name (see `lmrec data list`); 'a+b' is the joint dataset of a and b.",
    ),
]
ProtocolOpt = Annotated[str, typer.Option("--protocol", "-p", help="loo | llmrank-20 | temporal")]
CandidatesOpt = Annotated[
    Path | None,
    typer.Option(
        "--candidates",
        help="Candidate file in LLMRank's format (llmrank-20; default: sampled candidates).",
    ),
]
CutoffOpt = Annotated[
    float, typer.Option("--cutoff-quantile", help="temporal: cut-off as a quantile of timestamps.")
]
ConfigOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Model option KEY=VALUE (repeatable), e.g. --set decay=0.8."),
]


ConfigFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML run configuration (keys: model, config); --set overrides it."
    ),
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _load(name: str, data_dir: Path | None) -> Any:
    from lmrec.data.errors import DataError
    from lmrec.data.registry import load_dataset

    with console.status(f"loading {name}"):
        try:
            return load_dataset(name, data_dir)
        except DataError as exc:
            raise _fail(str(exc)) from None


def _prepare(
    ds: Any, protocol: str, candidates: Path | None, seed: int, cutoff: float, split: str
) -> Any:
    from lmrec.data.errors import DataError
    from lmrec.experiment import ProtocolChoice, prepare

    try:
        return prepare(ds, ProtocolChoice(protocol, candidates, seed, cutoff), split)
    except (DataError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None


def _parse_set(pairs: list[str] | None) -> dict[str, Any]:
    from lmrec.config_files import parse_settings

    try:
        return parse_settings(pairs or [])
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _model_options(
    models: list[str] | None, config_file: Path | None, settings: list[str] | None
) -> tuple[list[str], dict[str, Any]]:
    """Model names and their config from ``--model``, ``--config FILE`` and ``--set``."""
    from lmrec.config_files import load_run_config, merge
    from lmrec.data.errors import DataError

    config: dict[str, Any] = {}
    names = list(models or [])
    if config_file is not None:
        try:
            run = load_run_config(config_file)
        except DataError as exc:
            raise _fail(str(exc)) from None
        config = run.config
        if not names and run.model:
            names = [run.model]
    if not names:
        raise _fail("name a model with --model NAME (or 'model:' in the --config file)")
    return names, merge(config, _parse_set(settings))


@data_app.command("list")
def data_list(data_dir: DataDir = None) -> None:
    """List the registered datasets and whether their files are present."""
    from lmrec.data.registry import DATASETS, dataset_dir, missing_files

    table = Table("name", "description", "present", "folder")
    for name, spec in DATASETS.items():
        present = "yes" if not missing_files(name, data_dir) else "no"
        table.add_row(name, spec.description, present, str(dataset_dir(name, data_dir)))
    console.print(table)


@data_app.command("info")
def data_info(name: str, data_dir: DataDir = None) -> None:
    """Counts, density and fields of a dataset."""
    ds = _load(name, data_dir)
    inter = ds.interactions
    lengths = inter.sequences().lengths
    table = Table("property", "value", title=f"{name}")
    density = len(inter) / (inter.n_users * inter.n_items)
    rows = [
        ("interactions", f"{len(inter):,}"),
        ("users", f"{inter.n_users:,}"),
        ("items (interacted)", f"{inter.n_items:,}"),
        ("items (catalogue)", f"{len(ds.catalog):,}" if ds.catalog else "-"),
        ("density", f"{density:.4%}"),
        (
            "history length min/median/max",
            f"{lengths.min()} / {int(sorted(lengths)[len(lengths) // 2])} / {lengths.max()}",
        ),
        (
            "item fields",
            ", ".join(f"{f.name}:{f.type.value}" for f in ds.catalog.fields) if ds.catalog else "-",
        ),
        ("user fields", ", ".join(f.name for f in ds.users.fields) if ds.users else "-"),
        (
            "knowledge graph",
            f"{len(ds.kg):,} triples, {len(ds.kg.link_items):,} item links" if ds.kg else "-",
        ),
        ("prep", ds.prep),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


@app.command("models")
def models() -> None:
    """List registered models."""
    from lmrec.models.registry import model_specs

    table = Table("name", "description")
    for spec in model_specs().values():
        table.add_row(spec.name, spec.description)
    console.print(table)


def metrics_table(title: str, results: list[Any], keys: list[str]) -> Table:
    table = Table("model", *keys, "users", title=title)
    for r in results:
        values = r.evaluation.as_dict()
        table.add_row(
            r.model,
            *(f"{values[k]:.4f}" if k in values else "-" for k in keys),
            str(r.provenance["users_evaluated"]),
        )
    return table


@app.command("evaluate")
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
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write results JSON here.")
    ] = None,
    settings: ConfigOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Fit models on the training split and print a metrics table (and write JSON)."""
    names, config = _model_options(model, config_file, settings)
    ds = _load(dataset, data_dir)
    prepared = _prepare(ds, protocol, candidates, seed, cutoff_quantile, split)
    results = [_fit_and_evaluate(prepared, name, config)[1] for name in names]
    _report(dataset, prepared, protocol, split, results, output)


def _fit_and_evaluate(prepared: Any, name: str, config: dict[str, Any]) -> tuple[Any, Any]:
    from lmrec.experiment import run_model

    start = time.perf_counter()
    try:
        fitted, result = run_model(prepared, name, config, progress=True)
    except (KeyError, ValueError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"{name}: {time.perf_counter() - start:.1f} s")
    return fitted, result


def _report(
    dataset: str, prepared: Any, protocol: str, split: str, results: list[Any], output: Path | None
) -> None:
    keys = (
        ["ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20", "hr@10"]
        if protocol == "llmrank-20"
        else ["hr@10", "ndcg@10", "mrr@10", "ndcg@20", "coverage@20"]
    )
    console.print(
        metrics_table(f"{dataset} · {prepared.protocol.describe()} · {split}", results, keys)
    )
    if output is not None:
        payload: Any = (
            results[0].to_json()
            if len(results) == 1
            else {
                "metrics": results[0].evaluation.as_dict(),
                "provenance": results[0].provenance,
                "runs": [r.to_json() for r in results],
            }
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
        console.print(f"wrote {output}")


@app.command("recommend")
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
    from lmrec.experiment import context_for, run_model
    from lmrec.models.base import Query
    from lmrec.models.registry import create_model

    if k < 1:
        raise _fail("--k must be at least 1")
    ds = _load(dataset, data_dir)
    if all_users:
        if output is None:
            raise _fail("--all-users needs --output FILE.tsv")
        prepared = _prepare(ds, protocol, candidates, seed, cutoff_quantile, split)
        fitted, result = run_model(prepared, model, _parse_set(settings), ks=(k,), progress=True)
        from lmrec.export import write_rankings

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
        _recommend_text(ds, text, k, _parse_set(settings))
        return
    if user is None:
        raise _fail("give --user ID, --text SENTENCE, or --all-users --output FILE.tsv")
    inter = ds.interactions
    if user not in inter.user_vocab:
        raise _fail(f"unknown user {user!r} in {dataset}")
    recommender = create_model(model, _parse_set(settings), context_for(ds, progress=True)).fit(
        inter
    )
    ranking = recommender.recommend(Query(user=user, k=k))
    history = inter.item_vocab.decode(inter.sequences()[inter.user_vocab.index(user)][-10:])
    console.print(f"[bold]user {user}[/], last {len(history)} items:")
    for item in history:
        console.print(f"  {item:>6}  {ds.title(item)}")
    table = Table("#", "item", "title", "score", title=f"{model} recommendations")
    for i, (item, score) in enumerate(zip(ranking.items, ranking.scores, strict=True), start=1):
        table.add_row(str(i), item, ds.title(item), f"{score:.4g}")
    console.print(table)


@app.command("demo")
def demo(
    dataset: DatasetOpt = "ml-100k",
    users: Annotated[int, typer.Option(help="Example users to show.")] = 5,
    data_dir: DataDir = None,
) -> None:
    """The main job (`make run`): every baseline under leave-one-out, and example users."""
    from lmrec.demo import run_demo

    run_demo(_load(dataset, data_dir), users, console)


def _recommend_text(ds: Any, sentences: list[str], k: int, config: dict[str, Any]) -> None:
    from lmrec.experiment import context_for
    from lmrec.models.base import Query
    from lmrec.models.registry import create_model

    model = create_model("zeroshot", config, context_for(ds, progress=True))
    encoder = model.encoder  # type: ignore[attr-defined]
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


@app.command("embed")
def embed(
    dataset: DatasetOpt,
    encoder: Annotated[
        str, typer.Option(help="minilm | use-multilingual | model name/dir")
    ] = "minilm",
    template: Annotated[str | None, typer.Option(help="Item text template.")] = None,
    threads: int = 1,
    data_dir: DataDir = None,
) -> None:
    """Pre-compute (and cache) the text embeddings of a dataset's items."""
    from lmrec.text.cache import EmbeddingCache
    from lmrec.text.encoders import create_encoder
    from lmrec.text.templates import item_template

    ds = _load(dataset, data_dir)
    if ds.catalog is None:
        raise _fail(f"{dataset} has no item catalogue")
    chosen = item_template(dataset, ds.catalog, template)
    texts = chosen.render(ds.catalog, ds.interactions.item_vocab.ids)
    model = create_encoder(encoder, threads=threads)
    cache = EmbeddingCache()
    start = time.perf_counter()
    vectors, stats = cache.encode(model, texts, progress=True)
    seconds = time.perf_counter() - start
    rate = stats.encoded / seconds if stats.encoded else float("nan")
    console.print(
        f"{dataset}: {len(texts):,} item texts ({chosen.template!r}) → {vectors.shape[1]}-d · "
        f"cache hits {stats.hits:,} · encoded {stats.encoded:,} · {seconds:.1f} s "
        f"({rate:.0f} items/s) · cache {cache.folder(model.identity)}"
    )


from lmrec.cli_llm import register  # noqa: E402  (more commands live in their own modules)
from lmrec.cli_serve import register as register_serve  # noqa: E402
from lmrec.cli_train import register as register_train  # noqa: E402

register(app)
register_train(app)
register_serve(app)
