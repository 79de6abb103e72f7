"""Connecting to Ray: ``local`` (a cluster in this process's machine, shut down after the job),
``auto`` (the cluster this machine belongs to) or an address (``host:port``, ``ray://host:port``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from lmrec.errors import ConfigError

RAY_HINT = "pip install 'lmrec[ray]'"


def require_ray() -> ModuleType:
    """The ``ray`` module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"--ray needs Ray: {RAY_HINT}") from exc
    return ray


@dataclass(frozen=True)
class RaySession:
    """A connected Ray driver: the address given and the CPUs the cluster offers."""

    address: str
    cpus: int
    nodes: int

    def workers(self, wanted: int) -> int:
        """``wanted`` workers, or one per cluster CPU when ``wanted`` is 0."""
        if wanted < 0:
            raise ConfigError(f"workers must be 0 (one per CPU) or positive, got {wanted}")
        return wanted or max(1, self.cpus)


def check_address(address: str) -> str:
    """``local``, ``auto``, ``host:port`` or ``ray://host:port``; anything else is refused."""
    if address in ("local", "auto") or address.startswith("ray://"):
        return address
    host, sep, port = address.rpartition(":")
    if sep and host and port.isdigit():
        return address
    raise ConfigError(f"--ray {address!r}: give local, auto, HOST:PORT or ray://HOST:PORT")


@contextmanager
def ray_session(address: str, local_cpus: int | None = None) -> Iterator[RaySession]:
    """Connect for the duration of a job; a ``local`` cluster is started and stopped here.

    Workers run this machine's Python environment; on a remote cluster, lmrec and the data
    directory must be installed on its nodes (Ray ships the job, not the packages)."""
    ray = require_ray()
    address = check_address(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        raise RuntimeError("Ray is already initialised in this process")
    options: dict[str, object] = {"log_to_driver": False, "configure_logging": False}
    if address == "local":
        ray.init(
            address="local",  # a new instance, whatever cluster this machine last knew
            num_cpus=local_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            **options,
        )
    else:
        ray.init(address=address, **options)
    try:
        resources = ray.cluster_resources()
        yield RaySession(address, int(resources.get("CPU", 1)), len(ray.nodes()))
    finally:
        ray.shutdown()
