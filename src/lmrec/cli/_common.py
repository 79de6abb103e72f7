"""What every ``lmrec`` command shares: the console, option types, and the steps each command
takes (load a dataset, prepare a protocol, read model options, fit and report)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lmrec.cli._console import console as console  # re-exported: commands import them here
from lmrec.cli._console import fail as fail
from lmrec.cli._paths import check_output as check_output
from lmrec.cli._protocol_options import CandidateSetOptions, ColdOptions
from lmrec.cli._protocol_options import finite as finite
from lmrec.protocols.named import protocol_help

if TYPE_CHECKING:
    from lmrec.core.recommender import Recommender
    from lmrec.data.containers import Dataset
    from lmrec.distributed.cluster import RaySession
    from lmrec.distributed.scoring import RayRun
    from lmrec.experiment.run import Prepared, RunResult


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (default: $LMREC_DATA_DIR, else the user cache directory).",
    ),
]

PortOpt = Annotated[int, typer.Option(min=1, max=65535, help="TCP port (1-65535).")]
DatasetOpt = Annotated[
    str,
    typer.Option(
        "--dataset",
        "-d",
        help="Dataset name (see `lmrec data list`), or a path to a folder of RecBole atomic "
        "files; 'a+b' is the joint dataset of a and b.",
    ),
]
ProtocolOpt = Annotated[
    str | None,
    typer.Option(
        "--protocol", "-p", help=f"{protocol_help()}. Default: the --config file's, else loo."
    ),
]
CandidatesOpt = Annotated[
    Path | None,
    typer.Option(
        "--candidates",
        help="Candidate file in LLMRank's format (llmrank-20; default: the dataset's published "
        "LLMRank file when it has one, else sampled candidates).",
    ),
]
CutoffOpt = Annotated[
    float,
    typer.Option(
        "--cutoff-quantile",
        min=0.0,
        max=1.0,
        callback=finite,
        help="temporal: cut-off as a quantile of timestamps.",
    ),
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
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write results JSON here.")]
LLMOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="Local language model: smollm2-135m, gemma3-270m, a .gguf file, a model folder "
        "or a hub name.",
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(help="OpenAI-compatible base URL instead of --llm, e.g. http://127.0.0.1:8000/v1"),
]
EndpointModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="With --endpoint: the model name it serves.")
]
RayOpt = Annotated[
    str | None,
    typer.Option(
        "--ray",
        help="Run on Ray (pip install 'lmrec[ray]'): local (start one here), auto (this "
        "machine's cluster), HOST:PORT or ray://HOST:PORT. Default: one process, no Ray.",
    ),
]
RayWorkersOpt = Annotated[
    int,
    typer.Option("--workers", min=0, help="With --ray: worker actors (0 = one per cluster CPU)."),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Local model: CPU threads (default: half the cores, at most 8)."),
]


# protocol options of the command line: their flag and their default (= not given)
PROTOCOL_FLAGS: dict[str, tuple[str, Any]] = {
    "file": ("--candidates", None),
    "seed": ("--seed", 0),
    "cutoff_quantile": ("--cutoff-quantile", 0.9),
    "size": ("--candidates-size", 0),
    "ensure_target": ("--ensure-target", False),
    "seen": ("--seen", "compete"),
    "share": ("--cold-share", None),
    "history_limit": ("--history-limit", None),
}


def load(name: str, data_dir: Path | None) -> Dataset:
    from lmrec.data.checks import DataWarning
    from lmrec.data.errors import DataError
    from lmrec.data.registry import load_dataset

    with console.status(f"loading {name}"):
        try:
            return load_dataset(name, data_dir)
        except (DataError, DataWarning) as exc:  # a warning is an error under --strict
            raise fail(f"{exc}" if isinstance(exc, DataError) else f"--strict: {exc}") from None


def prepare(
    ds: Dataset,
    protocol: str | None,
    candidates: Path | None,
    seed: int,
    cutoff: float,
    split: str,
    candidate_set: CandidateSetOptions | None = None,
    config_file: Path | None = None,
    cold: ColdOptions | None = None,
) -> Prepared:
    """The named protocol with the options the command line gave; an option given that the
    protocol does not read (``--candidates`` with ``-p loo``, ``--cold-share`` with ``-p
    temporal``) is an error naming the protocols that read it. Without ``-p``, the ``--config``
    file's protocol with the command line's options on top, else ``loo``. LLMRank-20 without a file takes the
    dataset's published one (see :func:`lmrec.experiment.spec.resolve_protocol`)."""
    from lmrec.experiment.config_files import load_run_config
    from lmrec.experiment.run import prepare as prepare_run
    from lmrec.experiment.spec import resolve_protocol
    from lmrec.protocols.named import PROTOCOLS, named_protocol

    file = load_run_config(config_file) if config_file else None
    if file is not None and config_file is not None:
        if file.dataset is not None and file.dataset != ds.name:
            raise fail(f"{config_file} is a run on {file.dataset!r}, not {ds.name!r}")
        extra = [k for k in ("split", "ks", "users") if getattr(file, k) is not None]
        if extra:
            raise fail(
                f"{config_file}: {', '.join(extra)} belong to a whole run: "
                f"`lmrec run {config_file}` runs it as written"
            )
    options = candidate_set or CandidateSetOptions()
    cold = cold or ColdOptions()
    given = {
        "file": candidates,
        "seed": seed,
        "cutoff_quantile": cutoff,
        "size": options.size,
        "ensure_target": options.ensure_target,
        "seen": options.seen,
        "share": cold.share,
        "history_limit": cold.history_limit,
    }
    explicit = {k: v for k, v in given.items() if v != PROTOCOL_FLAGS[k][1]}
    base = file.protocol if protocol is None and file is not None else None
    name = base.name if base is not None else protocol or "loo"
    fields = PROTOCOLS[name].model_fields if name in PROTOCOLS else {}
    ignored = [k for k in explicit if k not in fields]
    if name in PROTOCOLS and ignored:
        readers = [n for n, cls in PROTOCOLS.items() if ignored[0] in cls.model_fields]
        raise fail(
            f"{PROTOCOL_FLAGS[ignored[0]][0]} is read by -p {' or -p '.join(readers)}; "
            f"-p {name} would ignore it"
        )
    # the --config file's protocol, with what the command line gave on top
    start = {} if base is None else base.model_dump(exclude={"name"}, exclude_none=True)
    choice = named_protocol(name, **{**start, **explicit})
    try:
        return prepare_run(ds, resolve_protocol(choice, ds.name), split)
    except OSError as exc:
        raise fail(str(exc)) from None


def parse_set(pairs: list[str] | None) -> dict[str, Any]:
    from lmrec.experiment.config_files import parse_settings

    try:
        return parse_settings(pairs or [])
    except ValueError as exc:
        raise fail(str(exc)) from None


def model_options(
    models: list[str] | None, config_file: Path | None, settings: list[str] | None
) -> tuple[list[str], dict[str, Any]]:
    """Model names and their config from ``--model``, ``--config FILE`` and ``--set``."""
    from lmrec.experiment.config_files import load_run_config, merge

    config: dict[str, Any] = {}
    names = list(models or [])
    if config_file is not None:
        run = load_run_config(config_file)
        config = run.config
        if not names and run.model:
            names = [run.model]
    if not names:
        raise fail("name a model with --model NAME (or 'model:' in the --config file)")
    return names, merge(config, parse_set(settings))


def metrics_table(
    title: str,
    results: Sequence[RunResult],
    keys: Sequence[str],
    scale: float = 1.0,
    upper: bool = False,
) -> Table:
    """One row per run; ``scale=100`` prints LLMRank-style figures (two decimals)."""
    digits = 4 if scale == 1.0 else 2
    headers = [k.upper() if upper else k for k in keys]
    table = Table("model", *headers, "users", title=title)
    for r in results:
        values = r.evaluation.as_dict()
        table.add_row(
            r.model,
            *(f"{scale * values[k]:.{digits}f}" if k in values else "-" for k in keys),
            str(r.provenance["users_evaluated"]),
        )
    return table


def fit_and_evaluate(
    prepared: Prepared,
    name: str,
    config: dict[str, Any],
    ks: Sequence[int] = (1, 5, 10, 20),
    by: Sequence[str] = (),
) -> tuple[Recommender, RunResult]:
    """One run on the command's prepared cases (its provenance records the run spec)."""
    from lmrec.experiment.run import run_model

    start = time.perf_counter()
    fitted, result = run_model(prepared, name, config, ks, progress=True, by=by)
    console.print(f"{name}: {time.perf_counter() - start:.1f} s")
    return fitted, result


@contextmanager
def ray_or_fail(address: str) -> Iterator[RaySession]:
    """A Ray session for a command; a missing package or a bad address is a clear error."""
    from lmrec.distributed.cluster import ray_session

    stack = ExitStack()
    try:
        session = stack.enter_context(ray_session(address))
    except (ImportError, ValueError, ConnectionError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    with stack:
        console.print(f"ray: {address} · {session.nodes} node(s) · {session.cpus} CPU(s)")
        yield session


def evaluate_with_ray(
    prepared: Prepared,
    name: str,
    config: dict[str, Any],
    session: RaySession,
    workers: int,
    model_dir: Path | None = None,
    ks: Sequence[int] = (1, 5, 10, 20),
    by: Sequence[str] = (),
) -> RayRun:
    """:func:`lmrec.distributed.scoring.evaluate_on_ray` for a command, timed and reported."""
    from lmrec.distributed.scoring import evaluate_on_ray
    from lmrec.experiment.run import spec_for

    spec = spec_for(prepared, name, config, ks, by)
    start = time.perf_counter()
    try:
        run = evaluate_on_ray(spec, prepared, model_dir, session.workers(workers), progress=True)
    except OSError as exc:  # an LmrecError is printed by the command group
        raise fail(str(exc)) from None
    console.print(
        f"{name}: {time.perf_counter() - start:.1f} s on {run.workers} Ray worker(s), "
        f"{run.batches} batches, model {run.model_source}"
    )
    return run


def report(
    dataset: str,
    prepared: Prepared,
    results: Sequence[RunResult],
    output: Path | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """The metrics table of the protocol's columns; with ``output``, the results JSON."""
    keys = prepared.protocol.report_columns
    title = f"{dataset} · {prepared.protocol.description()} · {prepared.split_name}"
    console.print(metrics_table(title, results, keys))
    for r in results:
        note_unscorable(r.model, r.provenance.get("unscorable_items") or 0, r.provenance["items"])
    print_slices(results)
    hit = results[0].provenance.get("candidate_hit_rate") if results else None
    if hit is not None:
        console.print(
            f"candidate hit rate {hit:.4f}: the share of the {len(prepared.cases):,} cases whose "
            "target is among their candidates (no re-ranker can do better)"
        )
    if output is not None:
        payload: dict[str, Any] = (
            results[0].to_json()
            if len(results) == 1
            else {
                "metrics": results[0].evaluation.as_dict(),
                "provenance": results[0].provenance,
                "runs": [r.to_json() for r in results],
            }
        )
        write_json(output, {**payload, **(extra or {})})


def note_unscorable(name: str, missing: int, items: int) -> None:
    """Say how many catalogue items model ``name`` cannot score (they rank last)."""
    if missing:
        console.print(
            f"note: {name} cannot score {missing:,} of {items:,} catalogue items (no "
            "interactions; an ID-only model); they rank last. A text model (zeroshot, textseq, "
            "hybrid) scores them from their text"
        )


def print_slices(results: Sequence[RunResult]) -> None:
    """One table per breakdown (warm/new when any case has a new item; the ``--by`` ones)."""
    if not results:
        return
    names = list(results[0].slices)
    for name in names:
        labels = [c["label"] for c in results[0].slices[name]]
        if name == "newness" and labels != ["warm", "new"] and len(names) == 1:
            continue  # every target was seen in training: nothing to set apart
        table = Table("model", *labels, title=f"NDCG@10 ± s.e. (cases) by {name}")
        for r in results:
            row = {c["label"]: c for c in r.slices.get(name, [])}
            table.add_row(
                r.model,
                *(
                    f"{row[lb]['ndcg@10']:.4f} ± {row[lb]['ndcg@10_se']:.4f} ({row[lb]['cases']:,})"
                    if lb in row
                    else "-"
                    for lb in labels
                ),
            )
        console.print(table)


def write_json(output: Path, payload: dict[str, Any]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(f"wrote {output}")
