"""Runs: dataset + protocol + model → metrics with provenance; run-config files; exports."""

from lmrec.experiment.run import Prepared, RunResult, prepare, run_model
from lmrec.protocols.named import ProtocolChoice

__all__ = ["Prepared", "ProtocolChoice", "RunResult", "prepare", "run_model"]
