"""Batch jobs on a real Ray cluster: a head and one more worker node on this machine, started
here and stopped afterwards. The distributed outputs must equal the single process's."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli, write

pytest.importorskip("ray", reason="Ray is not installed: pip install 'lmrec[ray]'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_cli() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else shutil.which("ray") or "ray"


@dataclass(frozen=True)
class Cluster:
    """A running test cluster: its address and the environment (auth token) its clients need."""

    address: str
    env: dict[str, str]

    def lmrec(self, data_dir: Path, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """``lmrec COMMAND`` in a fresh process that carries the cluster's token."""
        import shlex

        args = [str(Path(sys.executable).with_name("lmrec")), *shlex.split(command), *extra]
        return subprocess.run(
            [*args, "--data-dir", str(data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """``ray start --head`` plus one worker node (1 CPU each, token auth), both ``--block`` in
    their own process groups so the teardown stops exactly what it started."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    common = ["--num-cpus", "1", "--object-store-memory", str(100 * 2**20), "--block"]
    common += ["--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    logs = tmp_path_factory.mktemp("ray-logs")
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], log: str) -> None:
        out = (logs / log).open("wb")
        procs.append(
            subprocess.Popen(
                [_ray_cli(), "start", *args, *common],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    wait = (
        f"import ray, time; ray.init(address={address!r}, log_to_driver=False)\n"
        "t = time.monotonic()\n"
        "while sum(n['Alive'] for n in ray.nodes()) < 2 and time.monotonic() - t < 60:\n"
        "    time.sleep(0.5)\n"
        "assert sum(n['Alive'] for n in ray.nodes()) == 2, ray.nodes()"
    )
    try:
        start(["--head", "--port", str(port), "--include-dashboard", "false"], "head.log")
        _wait_for_port(port, procs[0], logs / "head.log")
        start(["--address", address], "worker.log")
        up = subprocess.run([sys.executable, "-c", wait], env=env, capture_output=True, text=True)
        assert up.returncode == 0, up.stderr + (logs / "worker.log").read_text(errors="replace")
        yield Cluster(address, env)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start --head exited: {log.read_text(errors='replace')}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise RuntimeError(f"the Ray head did not open port {port}: {log.read_text()}")


def _ok(result: object) -> str:
    """The output of a command that must have succeeded (in-process or a subprocess)."""
    if isinstance(result, subprocess.CompletedProcess):
        assert result.returncode == 0, result.stdout + result.stderr
        return " ".join((result.stdout + result.stderr).split())
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return " ".join(str(result.output).split())  # type: ignore[attr-defined]


def test_export_and_metrics_equal_the_single_process(
    ray_cluster: Cluster, data_dir: Path, tmp_path: Path
) -> None:
    # a cheap model fitted by each worker, and a trained one shipped as a checkpoint
    ckpt = tmp_path / "sasrec"
    _ok(
        run_cli(
            data_dir,
            f"train -d ml-100k -m sasrec -o {ckpt}",
            "--set",
            "hidden_size=16",
            "--set",
            "max_len=20",
            "--set",
            "train.epochs=1",
        )
    )
    for label, extra in (("itemknn", ["-m", "itemknn"]), ("sasrec", ["--model-dir", str(ckpt)])):
        alone, spread = tmp_path / f"{label}-1.tsv", tmp_path / f"{label}-ray.tsv"
        _ok(run_cli(data_dir, f"recommend -d ml-100k --all-users -o {alone}", *extra))
        output = _ok(
            ray_cluster.lmrec(
                data_dir,
                f"recommend -d ml-100k --all-users -o {spread} --ray {ray_cluster.address} "
                "--workers 2",
                *extra,
            )
        )
        assert "2 Ray worker(s)" in output and "2 node(s)" in output
        assert alone.read_bytes() == spread.read_bytes()
        assert len(alone.read_text().splitlines()) == 943
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _ok(run_cli(data_dir, f"evaluate -d ml-100k -m pop -m itemknn -o {one}"))
    _ok(
        ray_cluster.lmrec(
            data_dir, f"evaluate -d ml-100k -m pop -m itemknn -o {two} --ray {ray_cluster.address}"
        )
    )
    runs = [json.loads(p.read_text())["runs"] for p in (one, two)]
    assert [r["metrics"] for r in runs[0]] == [r["metrics"] for r in runs[1]]
    assert runs[0][1]["metrics"]["ndcg@10"] > runs[0][0]["metrics"]["ndcg@10"] > 0
    specs = [[r["provenance"]["run_spec"] for r in rs] for rs in runs]  # one spec, both runners
    assert specs[0] == specs[1] and specs[0][1]["model"] == "itemknn"


def test_embed_fills_the_cache_a_single_process_reads(
    ray_cluster: Cluster, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmrec.data.registry import load_dataset
    from lmrec.data.templates import item_template
    from lmrec.text.cache import EmbeddingCache
    from lmrec.text.encoders import create_encoder

    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "ray-cache"))
    cluster = Cluster(
        ray_cluster.address, {**ray_cluster.env, "LMREC_CACHE_DIR": str(tmp_path / "ray-cache")}
    )
    output = _ok(cluster.lmrec(data_dir, f"embed -d ml-100k --ray {cluster.address} --workers 2"))
    assert "cache hits 0" in output and "encoded 1,664" in output
    again = _ok(run_cli(data_dir, "embed -d ml-100k"))
    assert "encoded 0" in again and "cache hits 1,682" in again
    ds = load_dataset("ml-100k", data_dir)
    assert ds.catalog is not None
    texts = item_template("ml-100k", ds.catalog, None).render(
        ds.catalog, ds.interactions.item_vocab.ids
    )
    encoder = create_encoder("minilm")
    spread, stats = EmbeddingCache(tmp_path / "ray-cache").encode(encoder, texts)
    assert stats.encoded == 0
    alone, _ = EmbeddingCache(tmp_path / "local-cache").encode(encoder, texts[:200])
    np.testing.assert_allclose(spread[:200], alone, atol=1e-5)


def test_tune_writes_a_config_train_accepts(
    ray_cluster: Cluster, data_dir: Path, tmp_path: Path
) -> None:
    space = write(
        tmp_path / "space.yaml",
        """model: sasrec
metric: ndcg@10
samples: 3
config:
  hidden_size: 16
  max_len: 20
  train: {epochs: 3, batch_size: 256}
space:
  dropout: {choice: [0.1, 0.3]}
  train.lr: {loguniform: [0.001, 0.01]}
early_stopping: {grace: 1, reduction: 2}
""",
    )
    best = tmp_path / "best.yaml"
    _ok(
        ray_cluster.lmrec(
            data_dir, f"tune -d ml-100k --space {space} -o {best} --ray {ray_cluster.address}"
        )
    )
    trials = json.loads(best.with_suffix(".trials.json").read_text())
    assert trials["split"] == "valid" and len(trials["trials"]) == 3
    finished = [t for t in trials["trials"] if t["metric"] is not None]
    top = max(finished, key=lambda t: t["metric"])
    import yaml

    written = yaml.safe_load(best.read_text())
    assert written["model"] == "sasrec" and written["config"] == top["config"]
    assert written["config"]["train"]["lr"] == top["params"]["train.lr"]
    _ok(run_cli(data_dir, f"train -d ml-100k --config {best} -o {tmp_path / 'trained'}"))


def test_bad_addresses_and_files_are_refused(data_dir: Path, tmp_path: Path) -> None:
    result = run_cli(data_dir, "evaluate -d ml-100k -m pop --ray nowhere")
    assert result.exit_code == 2 and "HOST:PORT" in result.output
    result = run_cli(data_dir, "recommend -d ml-100k --user 1 --ray local")
    assert result.exit_code == 2 and "--all-users" in result.output
    bad = write(tmp_path / "space.yaml", "model: sasrec\nspace:\n  train.lr: {normal: [0, 1]}\n")
    result = run_cli(data_dir, f"tune -d ml-100k --space {bad} -o {tmp_path / 'b.yaml'}")
    assert result.exit_code == 2 and "space.yaml" in result.output and "choice" in result.output
