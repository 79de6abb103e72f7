"""``lmrec serve``: the HTTP service (API, OpenAPI docs at /docs, web page at /)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli._common import (
    ConfigFileOpt,
    ConfigOpt,
    DataDir,
    DatasetOpt,
    LLMOpt,
    ThreadsOpt,
    console,
    fail,
    model_options,
)


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
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    max_k: Annotated[int, typer.Option(help="Largest k a request may ask for.")] = 100,
    max_body_kb: Annotated[int, typer.Option(help="Largest request body (KiB).")] = 256,
    max_pending: Annotated[
        int, typer.Option(help="Scoring requests in flight; more are answered 503 + Retry-After.")
    ] = 256,
    deadline: Annotated[
        float, typer.Option(help="Seconds a scoring request may take before a 503.")
    ] = 5.0,
    config_file: ConfigFileOpt = None,
    settings: ConfigOpt = None,
    llm: LLMOpt = None,
    threads: ThreadsOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Serve recommendations for one dataset and model over HTTP; with --llm, a local language
    model writes the page's "why?" texts (grounded in the user's history)."""
    from sqlalchemy.exc import SQLAlchemyError

    from lmrec.data.errors import DataError
    from lmrec.service.build import build_service, default_store_url
    from lmrec.service.engine import ServiceLimits
    from lmrec.service.store import StoreError

    names, config = model_options([model] if model else None, config_file, settings)
    if max_pending < 1 or deadline <= 0:
        raise fail("--max-pending must be at least 1 and --deadline positive")
    limits = ServiceLimits(
        max_k=max_k,
        max_body_bytes=max_body_kb * 1024,
        max_pending=max_pending,
        deadline=deadline,
    )
    url = store or default_store_url(dataset)
    console.print(f"store: {url}")
    try:
        service = build_service(
            dataset, names[0], config, url, model_dir, data_dir, limits, progress=True
        )
    except (DataError, StoreError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    except SQLAlchemyError as exc:  # connection/operational errors: say which store failed
        raise fail(f"store {url}: {exc}") from None
    import uvicorn

    from lmrec.cli.llm_local import load_backend
    from lmrec.service.api import create_app

    if llm:
        service.writer = load_backend(llm, threads, 2048, None)

    console.print(
        f"serving {names[0]} on {dataset} at http://{host}:{port}/ (API docs: /docs); Ctrl-C stops"
    )
    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level="warning")
    finally:
        service.close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
