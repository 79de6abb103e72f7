"""``lmrec llm models`` and ``lmrec llm serve``: the local language models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lmrec.cli._common import LLMOpt, PortOpt, ThreadsOpt, console, fail

if TYPE_CHECKING:
    from lmrec.llm.runtime.backends import LLMBackend

llm_app = typer.Typer(no_args_is_help=True, help="Local language models: list and serve.")


def load_backend(
    llm: str | None,
    threads: int | None = None,
    context: int = 2048,
    cache_dir: Path | None = None,
    endpoint: str | None = None,
    endpoint_model: str = "",
) -> LLMBackend:
    """The backend :func:`lmrec.llm.runtime.config.build_backend` builds from the command's
    options (a local model, or an endpoint and its model), or a clear error."""
    from pydantic import ValidationError

    from lmrec.llm.runtime.config import BackendConfig, build_backend

    try:
        config = BackendConfig(
            llm=llm,
            endpoint=endpoint,
            model=endpoint_model,
            threads=threads,
            context=context,
            cache_dir=str(cache_dir) if cache_dir else None,
        )
    except ValidationError as exc:
        raise fail(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    return build_backend(config)


@llm_app.command("models")
def models() -> None:
    """The short model names and whether their weights are installed."""
    from lmrec.errors import BackendError
    from lmrec.llm.runtime.locate import KNOWN

    for name, locate in KNOWN.items():
        try:
            found = locate()
            console.print(f"{name:<14} installed: {found.path}")
        except BackendError as exc:
            console.print(f"{name:<14} [yellow]not installed[/]: {exc}")
    console.print(
        "Any .gguf file, Hugging Face model folder or hub name also works as --llm; a bigger "
        "model behind vLLM, Ollama or a llama.cpp server works as --endpoint URL --model NAME."
    )


@llm_app.command("serve")
def serve(
    llm: LLMOpt = "smollm2-135m",
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: PortOpt = 8080,
    threads: ThreadsOpt = None,
    context: Annotated[int, typer.Option(min=16, help="Most prompt + reply tokens.")] = 2048,
    cache_dir: Annotated[Path | None, typer.Option(help="Response and weights cache.")] = None,
) -> None:
    """Serve a local model as an OpenAI-compatible endpoint (default: loopback only)."""
    import uvicorn

    from lmrec.llm.runtime.local_backend import LocalBackend
    from lmrec.llm.runtime.server import create_app

    backend = load_backend(llm or "smollm2-135m", threads, context, cache_dir)
    assert isinstance(backend, LocalBackend)  # a local model: BackendConfig(llm=...)
    console.print(
        f"serving {backend.model} ({'chat' if backend.lm.chat else 'base'} model, context "
        f"{backend.context_length}) at http://{host}:{port}/v1 — use it with "
        f"--endpoint http://{host}:{port}/v1 --model {backend.model}"
    )
    uvicorn.run(create_app(backend), host=host, port=port, log_level="warning")


def llm_score(
    examples: Annotated[
        Path, typer.Option("--examples", help="JSON list of instruction/input/output examples.")
    ],
    llm: Annotated[
        str | None,
        typer.Option("--llm", help="Base model (default: the one the adapter was trained on)."),
    ] = None,
    adapter: Annotated[
        Path | None, typer.Option("--adapter", help="A LoRA adapter folder (lmrec train -o DIR).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write P(Yes) per example (JSON).")
    ] = None,
    answers: Annotated[
        str,
        typer.Option(
            "--answers",
            help="The two answer words, positive first, as the files' outputs write them.",
        ),
    ] = "Yes,No",
    threads: ThreadsOpt = None,
) -> None:
    """P(yes) of each yes/no example (Alpaca-style JSON, as TALLRec's) and the AUC with its
    95% bootstrap interval."""
    import json

    from lmrec.cli._common import check_output
    from lmrec.llm.lora.examples import auc_interval, read_examples
    from lmrec.llm.lora.preference import adapter_base, score_file

    check_output(output)
    if adapter is not None and not (adapter / "adapter_config.json").is_file():
        raise fail(f"{adapter}: no adapter_config.json (write one with lmrec train -m llm-lora)")
    base = llm or (adapter_base(adapter) if adapter is not None else None)
    if base is None:
        raise fail("name the base model with --llm (the adapter does not record one)")
    words = tuple(w.strip() for w in answers.split(","))
    if len(words) != 2 or not all(words):
        raise fail(f"--answers: two comma-separated words (positive first), not {answers!r}")
    try:
        cases = read_examples(examples, (words[0], words[1]))
        scores, area = score_file(cases, base, adapter, threads, progress=True)
    except OSError as exc:  # an LmrecError is printed by the command group
        raise fail(str(exc)) from None
    tuned = f" + {adapter}" if adapter is not None else " (untuned)"
    interval = None
    if area is None:
        shown = "n/a (one class only)"
    else:
        interval = auc_interval([c.label for c in cases], scores)
        shown = f"{area:.4f} (95% bootstrap interval {interval[0]:.4f}–{interval[1]:.4f})"
    console.print(f"{base}{tuned}: AUC {shown} on {len(cases)} examples")
    if output is not None:
        rows = [
            {"p_yes": round(float(p), 6), "label": c.label}
            for p, c in zip(scores, cases, strict=True)
        ]
        summary = {"auc": area, "auc_interval_95": interval, "examples": rows}
        output.write_text(json.dumps(summary, indent=1))
        console.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(llm_app, name="llm")
    app.command("llm-score")(llm_score)
