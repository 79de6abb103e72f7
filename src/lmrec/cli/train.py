"""``lmrec train``: fit with early stopping on validation, save the checkpoint, report test metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli._common import (
    CandidatesOpt,
    ConfigFileOpt,
    ConfigOpt,
    CutoffOpt,
    DataDir,
    DatasetOpt,
    ProtocolOpt,
    check_output,
    console,
    fit_and_evaluate,
    load,
    model_options,
    prepare,
    report,
)


def train_cmd(
    dataset: DatasetOpt,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Write the checkpoint and results here.")
    ],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model name.")] = None,
    config_file: ConfigFileOpt = None,
    protocol: ProtocolOpt = "loo",
    candidates: CandidatesOpt = None,
    seed: int = 0,
    cutoff_quantile: CutoffOpt = 0.9,
    settings: ConfigOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Train a model on the training split (early stopping on validation), save the checkpoint
    (config.json + tensors.safetensors) and results.json, and print test metrics."""
    from lmrec.core.recommender import Persistable

    names, config = model_options([model] if model else None, config_file, settings)
    check_output(output_dir, folder=True)
    ds = load(dataset, data_dir)
    prepared = prepare(ds, protocol, candidates, seed, cutoff_quantile, "test")
    fitted, result = fit_and_evaluate(prepared, names[0], config)
    if isinstance(fitted, Persistable):
        fitted.save(output_dir)
        console.print(f"saved {names[0]} to {output_dir}")
    else:
        console.print(f"{names[0]} has no checkpoint format; only results are written")
    report(dataset, prepared, [result], output_dir / "results.json")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
