"""``lmrec run SPEC.yaml``: one run specification, run exactly as written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli._common import (
    ConfigOpt,
    DataDir,
    OutputOpt,
    check_output,
    console,
    load,
    parse_set,
    report,
)


def run_cmd(
    spec_file: Annotated[Path, typer.Argument(help="YAML run specification.")],
    settings: ConfigOpt = None,
    output: OutputOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Run a run specification: dataset, protocol, split, model, config, cut-offs, users.

    The file's keys: dataset and model (required), config, protocol ({name: loo | llmrank-20 |
    candidates | temporal, …its options}), split (valid | test), ks, users. --set overrides
    the model's config."""
    import time

    from lmrec.experiment.spec import load_run_spec, prepare_spec, run

    check_output(output)
    spec = load_run_spec(spec_file, {"config": parse_set(settings)} if settings else None)
    prepared = prepare_spec(spec, load(spec.dataset, data_dir))
    start = time.perf_counter()
    _, result = run(spec, progress=True, prepared=prepared)
    console.print(f"{spec.model}: {time.perf_counter() - start:.1f} s")
    report(spec.dataset, prepared, [result], output)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
