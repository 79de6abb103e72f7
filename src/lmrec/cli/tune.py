"""``lmrec tune``: hyper-parameter search on Ray Tune, scored on the validation cases."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lmrec.cli._common import (
    CutoffOpt,
    DataDir,
    DatasetOpt,
    ProtocolOpt,
    RayWorkersOpt,
    check_output,
    console,
    fail,
    load,
    prepare,
    ray_or_fail,
    write_json,
)
from lmrec.cli._protocol_options import ColdOptions, ColdShareOpt, HistoryLimitOpt

if TYPE_CHECKING:
    from lmrec.distributed.tune import TuneOutcome


def tune_cmd(
    dataset: DatasetOpt,
    space_file: Annotated[
        Path, typer.Option("--space", help="YAML search space (model, metric, samples, space).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Write the best trial as a run config (for train --config)."
        ),
    ],
    ray: Annotated[
        str, typer.Option("--ray", help="local (default), auto, HOST:PORT or ray://HOST:PORT.")
    ] = "local",
    workers: RayWorkersOpt = 0,
    protocol: ProtocolOpt = None,
    seed: int = 0,
    cutoff_quantile: CutoffOpt = 0.9,
    cold_share: ColdShareOpt = None,
    history_limit: HistoryLimitOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Search a model's options with Ray Tune on the validation cases; write the best as a run
    config (model + config) that `lmrec train --config` reads. --workers: trials at a time."""
    import yaml

    from lmrec.distributed.space import load_space
    from lmrec.distributed.tune import tune_search

    check_output(output)
    space = load_space(space_file)  # a ConfigError is printed by the command group
    from lmrec.models.registry import model_specs

    if space.model not in model_specs():
        raise fail(f"{space_file}: unknown model {space.model!r} (see `lmrec models`)")
    ds = load(dataset, data_dir)
    cold = ColdOptions(cold_share, history_limit)
    prepared = prepare(ds, protocol, None, seed, cutoff_quantile, "valid", cold=cold)
    with ray_or_fail(ray) as session:
        try:
            outcome = tune_search(prepared, space, session.workers(workers), progress=False)
        except (RuntimeError, ValueError) as exc:
            raise fail(str(exc)) from None
    console.print(_trials_table(outcome))
    best = outcome.best
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        f"# lmrec tune: best of {len(outcome.trials)} trials on {dataset} validation, "
        f"{outcome.metric} {best.metric:.4f}\n"
        + yaml.safe_dump({"model": space.model, "config": best.config}, sort_keys=False),
        encoding="utf-8",
    )
    write_json(
        output.with_suffix(".trials.json"),
        {
            "dataset": dataset,
            "split": "valid",
            "metric": outcome.metric,
            "seconds": round(outcome.seconds, 1),
            "trials": [t.__dict__ for t in outcome.trials],
        },
    )
    console.print(
        f"best {outcome.metric} {best.metric:.4f} (validation) in {outcome.seconds:.0f} s; "
        f"wrote {output}: lmrec train -d {dataset} --config {output} -o DIR"
    )


def _trials_table(outcome: TuneOutcome) -> Table:
    keys = sorted({k for t in outcome.trials for k in t.params})
    table = Table(*keys, outcome.metric, "epochs", "status", "s", title="trials (validation)")
    for t in sorted(outcome.trials, key=lambda t: -(t.metric or -1.0)):
        status = "error" if t.error else "stopped early" if t.stopped_early else "done"
        table.add_row(
            *(
                f"{t.params.get(k):.4g}"
                if isinstance(t.params.get(k), float)
                else str(t.params.get(k))
                for k in keys
            ),
            "-" if t.metric is None else f"{t.metric:.4f}",
            str(t.epochs),
            status + (" *" if t is outcome.best else ""),
            f"{t.seconds:.0f}",
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("tune")(tune_cmd)
