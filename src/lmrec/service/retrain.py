"""``lmrec serve --retrain-every N``: after every N new feedback events, train the served model
on the store in a separate, lower-priority process (``lmrec train --store``) and ask every
service process to swap the result in. Nothing runs on the serving threads: this thread only
counts events, starts the child and waits for it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lmrec.service.catalogue import request_swap
from lmrec.service.store import Store

log = logging.getLogger("lmrec.service")


@dataclass(frozen=True)
class RetrainPlan:
    """What to train and where: the ``lmrec train`` arguments besides ``--store`` and ``-o``."""

    dataset: str
    model: str
    store_url: str
    folder: Path  # checkpoints go to folder/round-N (the last ``keep`` are kept)
    every: int
    settings: tuple[str, ...] = ()  # --set KEY=VALUE pairs of the served model's config
    data_dir: str | None = None
    keep: int = 2

    def command(self, output: Path) -> list[str]:
        cmd = [sys.executable, "-m", "lmrec", "train", "-d", self.dataset, "-m", self.model]
        cmd += ["--store", self.store_url, "-o", str(output)]
        for pair in self.settings:
            cmd += ["--set", pair]
        if self.data_dir:
            cmd += ["--data-dir", self.data_dir]
        return cmd


def _feedback_count(store: Store) -> int:
    from sqlalchemy import func, select

    from lmrec.service import schema

    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.feedback)).scalar_one())


@dataclass
class RetrainStats:
    rounds: int = 0
    failures: int = 0
    last_seconds: float | None = None
    last_error: str | None = None


class Retrainer:
    """Counts feedback every ``interval`` seconds; past ``plan.every`` new events, trains and asks
    for a swap (one round at a time)."""

    def __init__(self, plan: RetrainPlan, interval: float = 5.0) -> None:
        self.plan = plan
        self.interval = interval
        self.stats = RetrainStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lmrec-retrainer", daemon=True)
        self._child: subprocess.Popen[bytes] | None = None

    def start(self) -> Retrainer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        store = Store.open(self.plan.store_url)
        try:
            base = _feedback_count(store)
            while not self._stop.wait(self.interval):
                try:
                    now = _feedback_count(store)
                except Exception as exc:  # the store is down: try again next tick
                    self.stats.last_error = str(exc)
                    continue
                if now - base >= self.plan.every:
                    base = now
                    self.round(store)
        finally:
            store.close()

    def round(self, store: Store) -> Path | None:
        """Train once and ask for the swap; the new checkpoint's folder, or None on failure."""
        n = self.stats.rounds + self.stats.failures + 1
        output = self.plan.folder / f"round-{n}"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        start = time.time()
        log.warning("retraining %s on the store (round %d) into %s", self.plan.model, n, output)
        self._child = subprocess.Popen(
            self.plan.command(output),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # lmrec prints its errors on stdout
            preexec_fn=lambda: os.nice(10),
        )
        err, _ = self._child.communicate()
        seconds = time.time() - start
        if self._child.returncode != 0:
            self.stats.failures += 1
            self.stats.last_error = err.decode("utf-8", "replace")[-2000:]
            log.warning(
                "retraining failed (exit %d): %s", self._child.returncode, self.stats.last_error
            )
            return None
        self.stats.rounds += 1
        self.stats.last_seconds = seconds
        request_swap(store, str(output), "retrain")
        self._prune()
        return output

    def _prune(self) -> None:
        import shutil

        rounds = sorted(
            (p for p in self.plan.folder.glob("round-*") if p.is_dir()),
            key=lambda p: int(p.name.split("-")[1]),
        )
        for old in rounds[: -self.plan.keep]:
            shutil.rmtree(old, ignore_errors=True)
