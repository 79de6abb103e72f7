"""Runs: dataset + protocol + model → metrics with provenance; run-config files; exports."""

from lmrec.experiment.run import Prepared, RunResult, prepare, run_model
from lmrec.protocols.named import named_protocol

__all__ = ["Prepared", "RunResult", "named_protocol", "prepare", "run_model"]
