"""``lmrec serve``: the HTTP service (API, OpenAPI docs at /docs, web page at /)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lmrec.cli._common import (
    ConfigFileOpt,
    ConfigOpt,
    DataDir,
    DatasetOpt,
    LLMOpt,
    PortOpt,
    ThreadsOpt,
    check_output,
    console,
    fail,
    finite,
    load,
    model_options,
)

if TYPE_CHECKING:
    from lmrec.service.workers import WorkerSpec


def serve_cmd(
    dataset: DatasetOpt,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model name.")] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Database URL, e.g. postgresql+psycopg://user@host/db "
            "(default: SQLite in the user data directory).",
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option("--model-dir", help="Serve a checkpoint written by `lmrec train`."),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: PortOpt = 8000,
    max_k: Annotated[int, typer.Option(min=1, help="Largest k a request may ask for.")] = 100,
    max_body_kb: Annotated[int, typer.Option(min=1, help="Largest request body (KiB).")] = 256,
    max_pending: Annotated[
        int,
        typer.Option(
            min=1, help="Scoring requests in flight; more are answered 503 + Retry-After."
        ),
    ] = 256,
    deadline: Annotated[
        float,
        typer.Option(callback=finite, help="Seconds a scoring request may take before a 503."),
    ] = 5.0,
    auth: Annotated[
        str,
        typer.Option(
            help="auto: writes need a write API key unless --host is loopback | required: every "
            "endpoint but /health needs a key | off",
        ),
    ] = "auto",
    read_only: Annotated[bool, typer.Option(help="Refuse every write (feedback).")] = False,
    config_file: ConfigFileOpt = None,
    settings: ConfigOpt = None,
    llm: LLMOpt = None,
    threads: ThreadsOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Service processes on one port; the model is fitted (or loaded) once and "
            "each process loads its checkpoint.",
        ),
    ] = 1,
    watch: Annotated[
        Path | None,
        typer.Option(
            help="Swap in the checkpoint in this folder whenever it changes (loaded and checked "
            "in the background first; a refused one leaves the old model serving)."
        ),
    ] = None,
    retrain_every: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="After this many new feedback events, train the model on the store in a "
            "separate process and swap the result in.",
        ),
    ] = None,
    retrain_dir: Annotated[
        Path | None,
        typer.Option(help="Where retraining writes its checkpoints (default: beside the store)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve recommendations for one dataset and model over HTTP; with --llm, a local language
    model writes the page's "why?" texts (grounded in the user's history). Items can be put and
    retired at runtime, and a new checkpoint swapped in without a failed request."""
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from lmrec.service.build import build_service, default_store_url
    from lmrec.service.keys import AuthPolicy
    from lmrec.service.messages import ServiceLimits

    if auth not in ("auto", "required", "off"):
        raise fail(f"--auth must be auto, required or off, got {auth!r}")
    policy = AuthPolicy(auth, read_only, host)  # type: ignore[arg-type]
    names, config = model_options([model] if model else None, config_file, settings)
    if max_pending < 1 or deadline <= 0:
        raise fail("--max-pending must be at least 1 and --deadline positive")
    limits = ServiceLimits(
        max_k=max_k,
        max_body_bytes=max_body_kb * 1024,
        max_pending=max_pending,
        deadline=deadline,
    )
    if workers < 1:
        raise fail("--workers must be at least 1")
    loaded = load(dataset, data_dir)
    url = store or default_store_url(loaded)
    console.print(f"store: {url}")
    model_dir = _watched(watch, model_dir)
    retrainer = _retrainer(dataset, names[0], config, url, retrain_every, retrain_dir, data_dir)
    if workers > 1:
        from lmrec.service.workers import WorkerSpec

        if llm:
            raise fail("--llm loads a language model per process: serve it with --workers 1")
        _serve_workers(
            WorkerSpec(
                dataset,
                names[0],
                url,
                config,
                None if model_dir is None else str(model_dir),
                None if data_dir is None else str(data_dir),
                asdict(limits),
                asdict(policy),
                watch=None if watch is None else str(watch),
                started_at=time.time(),
            ),
            workers,
            host,
            port,
            retrainer,
        )
        return
    try:
        service = build_service(
            loaded, names[0], config, url, model_dir, data_dir, limits, progress=True
        )
    except OSError as exc:  # an LmrecError (data, config, store) is printed by the group
        raise fail(str(exc)) from None
    except SQLAlchemyError as exc:  # connection/operational errors: say which store failed
        raise fail(f"store {url}: {exc}") from None
    import uvicorn

    from lmrec.cli.llm_local import load_backend
    from lmrec.service.api import create_app

    if llm:
        service.writer = load_backend(llm, threads, 2048, None)
    _print_recall(service.search_recall)

    console.print(
        f"serving {names[0]} on {dataset} at http://{host}:{port}/ (API docs: /docs); Ctrl-C stops"
    )
    writes = policy.needs(write=True)
    console.print(
        "writes: refused (read-only)"
        if read_only
        else f"API keys: reads {policy.needs(write=False) or 'open'}, writes {writes or 'open'}"
        + ("" if writes else " (loopback only; use --auth required beyond it)")
    )
    from lmrec.service.follow import Follower

    service.follower = Follower(service, watch=watch).start()
    if retrainer is not None:
        retrainer.start()
    try:
        uvicorn.run(create_app(service, policy), host=host, port=port, log_level="warning")
    finally:
        if retrainer is not None:
            retrainer.stop()
        service.follower.stop()
        service.close()


def _watched(watch: Path | None, model_dir: Path | None) -> Path | None:
    """The checkpoint to start from: --model-dir, else the watched folder's."""
    if watch is None:
        return model_dir
    if not watch.is_dir():
        raise fail(f"--watch {watch}: no such folder")
    if model_dir is None and not (watch / "config.json").is_file():
        raise fail(f"--watch {watch}: no checkpoint there yet (write one with `lmrec train -o`)")
    return model_dir or watch


def _retrainer(
    dataset: str,
    model: str,
    config: dict[str, Any],
    url: str,
    every: int | None,
    folder: Path | None,
    data_dir: Path | None,
) -> Any:
    """The retraining thread of --retrain-every (not started), or None."""
    if every is None:
        return None
    if every < 1:
        raise fail("--retrain-every must be at least 1 event")
    import json

    from lmrec.service.retrain import Retrainer, RetrainPlan

    default = Path(url.split("///", 1)[1]).parent if url.startswith("sqlite:///") else Path.cwd()
    check_output(folder, folder=True)
    plan = RetrainPlan(
        dataset,
        model,
        url,
        folder or default / f"{Path(dataset).name}-rounds",
        every,
        tuple(f"{k}={json.dumps(v)}" for k, v in config.items()),
        None if data_dir is None else str(data_dir),
    )
    console.print(f"retraining {model} every {every:,} feedback events into {plan.folder}")
    return Retrainer(plan)


def _print_recall(recall: float | None) -> None:
    if recall is not None:
        console.print(
            f"search: approximate index, recall@10 {recall:.3f} against exact scoring on 200 "
            "users' histories"
        )


def _serve_workers(
    spec: WorkerSpec, workers: int, host: str, port: int, retrainer: Any = None
) -> None:
    """Prepare once (store import, checkpoint), then ``workers`` uvicorn processes."""
    import os
    import tempfile

    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from lmrec.service.workers import SPEC_ENV, prepare_workers

    with tempfile.TemporaryDirectory(prefix="lmrec-serve-") as tmp:
        try:
            ready = prepare_workers(spec, Path(tmp) / "model", progress=True)
        except (OSError, SQLAlchemyError) as exc:
            raise fail(
                f"store {spec.store_url}: {exc}" if isinstance(exc, SQLAlchemyError) else str(exc)
            ) from None
        _print_recall(ready.search_recall)
        source = "its checkpoint" if ready.model_dir else "a fit of its own (no checkpoint format)"
        console.print(
            f"serving {spec.model} on {spec.dataset} at http://{host}:{port}/ with {workers} "
            f"worker processes, each loading {source}; Ctrl-C stops"
        )
        os.environ[SPEC_ENV] = str(ready.write(Path(tmp) / "spec.json"))
        share = str(max(1, (os.cpu_count() or 1) // workers))  # BLAS threads per process
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, share)
        if retrainer is not None:  # in this (the supervising) process: never a worker's threads
            retrainer.start()
        try:
            uvicorn.run(
                "lmrec.service.workers:worker_app",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                log_level="warning",
            )
        finally:
            if retrainer is not None:
                retrainer.stop()


keys_app = typer.Typer(no_args_is_help=True, help="API keys of a service's store.")
StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Database URL (default: the dataset's SQLite store).")
]


def _store(dataset: str, store: str | None, data_dir: Path | None) -> Any:
    """The store of ``dataset`` (its default one without ``--store``; the dataset must exist
    either way, and a given store must hold it or nothing yet)."""
    from sqlalchemy.exc import SQLAlchemyError

    from lmrec.service.build import default_store_url
    from lmrec.service.store import Store, StoreError

    loaded = load(dataset, data_dir)  # an unknown dataset creates no store
    url = store or default_store_url(loaded)
    try:
        opened = Store.open(url)
        held = opened.imported_dataset()
    except (StoreError, SQLAlchemyError, OSError) as exc:
        raise fail(f"store {url}: {exc}") from None
    if held is not None and held != dataset:
        opened.close()
        raise fail(f"store {url} holds dataset {held!r}, not {dataset!r}")
    return opened


@contextmanager
def _writing(opened: Any) -> Iterator[None]:
    """Work on an open store: a database error (read-only file, lost connection) is a one-line
    error naming the store; the store is closed either way."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        raise fail(
            f"store {opened.url}: {str(getattr(exc, 'orig', None) or exc).splitlines()[0]}"
        ) from None
    finally:
        opened.close()


@keys_app.command("create")
def keys_create(
    dataset: DatasetOpt,
    scope: Annotated[
        str, typer.Option(help="read | write (feedback, items) | admin (also /admin/reload)")
    ] = "read",
    label: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
    store: StoreOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API key; it is printed once (the store keeps only its hash)."""
    from lmrec.service.keys import create_key

    if scope not in ("read", "write", "admin"):
        raise fail(f"--scope must be read, write or admin, got {scope!r}")
    opened = _store(dataset, store, data_dir)
    with _writing(opened):
        key, record = create_key(opened, scope, label)  # type: ignore[arg-type]
    console.print(f"key {record.id} ({record.scope}{', ' + label if label else ''}):")
    print(key)  # plain, so scripts can capture it
    console.print("[yellow]shown once:[/] store it now; the service keeps only its hash")


@keys_app.command("list")
def keys_list(dataset: DatasetOpt, store: StoreOpt = None, data_dir: DataDir = None) -> None:
    """List the store's API keys (id, scope, label, created, revoked)."""
    import datetime

    from rich.table import Table

    from lmrec.service.keys import list_keys

    opened = _store(dataset, store, data_dir)
    with _writing(opened):
        table = Table("id", "scope", "label", "created (UTC)", "revoked")
        for k in list_keys(opened):
            when = datetime.datetime.fromtimestamp(k.created_at, datetime.timezone.utc)
            table.add_row(str(k.id), k.scope, k.label, f"{when:%Y-%m-%d %H:%M}", str(k.revoked))
        console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    dataset: DatasetOpt,
    key_id: Annotated[int, typer.Argument(help="The key's id (see `lmrec keys list`).")],
    store: StoreOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key; requests with it are refused from then on."""
    from lmrec.service.keys import revoke_key

    opened = _store(dataset, store, data_dir)
    with _writing(opened):
        found = revoke_key(opened, key_id)
    if not found:
        raise fail(f"no API key with id {key_id}")
    console.print(f"revoked key {key_id}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.add_typer(keys_app, name="keys")
