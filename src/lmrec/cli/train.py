"""``lmrec train``: fit with early stopping on validation, save the checkpoint, report test metrics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    fail,
    fit_and_evaluate,
    load,
    model_options,
    prepare,
    report,
)
from lmrec.cli._protocol_options import ColdOptions, ColdShareOpt, HistoryLimitOpt
from lmrec.cli._store_options import TrainStoreOpt, recorded, with_store_or_fail

if TYPE_CHECKING:
    from lmrec.data.containers import Dataset


def train_cmd(
    dataset: DatasetOpt,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Write the checkpoint and results here.")
    ],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model name.")] = None,
    config_file: ConfigFileOpt = None,
    protocol: ProtocolOpt = None,
    candidates: CandidatesOpt = None,
    seed: int = 0,
    cutoff_quantile: CutoffOpt = 0.9,
    cold_share: ColdShareOpt = None,
    history_limit: HistoryLimitOpt = None,
    settings: ConfigOpt = None,
    store: TrainStoreOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Train a model on the training split (early stopping on validation), save the checkpoint
    (config.json + tensors.safetensors) and results.json, and print test metrics. With --store,
    the log also holds every feedback event and runtime item a service recorded."""
    from lmrec.models.registry import save_model

    names, config = model_options([model] if model else None, config_file, settings)
    check_output(output_dir, folder=True)
    ds, store_facts = with_store_or_fail(load(dataset, data_dir), store)
    if names[0] == "llm-lora" and config.get("task") == "binary":
        train_preference(ds, config, output_dir)
        return
    cold = ColdOptions(cold_share, history_limit)
    prepared = prepare(
        ds, protocol, candidates, seed, cutoff_quantile, "test", None, config_file, cold
    )
    fitted, result = fit_and_evaluate(prepared, names[0], config)
    save_model(fitted, output_dir)
    console.print(f"saved {names[0]} to {output_dir}")
    report(dataset, prepared, recorded([result], store_facts), output_dir / "results.json")


def train_preference(ds: Dataset, config: dict[str, Any], output_dir: Path) -> None:
    """TALLRec's binary preference task: tune on ``shots`` examples, print the test AUC."""
    from pydantic import ValidationError

    from lmrec.errors import field_error
    from lmrec.llm.lora.config import LlmLoraConfig
    from lmrec.llm.lora.preference import run_preference

    try:
        settings = LlmLoraConfig.model_validate(config)
    except ValidationError as exc:
        raise field_error("llm-lora: ", exc) from None
    try:
        result = run_preference(ds, settings, output_dir, progress=True)
    except OSError as exc:  # an LmrecError is printed by the command group
        raise fail(str(exc)) from None
    t = result["training"]
    console.print(
        f"{settings.base} + LoRA, {result['shots']} examples, seed {settings.seed}: test AUC "
        f"{result['test_auc']:.4f} on {result['test_examples']} examples (validation AUC "
        f"{t['best_validation_auc']:.4f} at epoch {t['best_epoch']}"
        f"{' = untuned, no epoch validated better' if t['best_epoch'] == 0 else ''}; "
        f"{t['trainable_share']:.2%} of parameters trained; {result['seconds']:.0f} s)"
    )
    console.print(f"saved the adapter and results.json to {output_dir}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
