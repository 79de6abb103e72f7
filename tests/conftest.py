"""Shared fixtures: tiny hand-made datasets, and the offline data directory when present."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from lmrec.data.containers import Interactions
from lmrec.data.loaders import load_interactions

SHARED = Path(__file__).resolve().parents[2] / "shared"


def real_data_dir() -> Path | None:
    """The directory with ml-100k/ml-1m/amazon-games: $LMREC_DATA_DIR, else ../shared/data."""
    env = os.environ.get("LMREC_DATA_DIR")
    for candidate in (Path(env) if env else None, SHARED / "data"):
        if candidate is not None and (candidate / "ml-100k" / "ml-100k.inter").exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = real_data_dir()
    if found is None:
        pytest.skip("offline data not found: set LMREC_DATA_DIR to a folder with ml-100k/, ml-1m/")
    return found


@pytest.fixture(scope="session")
def llmrank_dir() -> Path:
    folder = SHARED / "benchmarks" / "llmrank"
    if not (folder / "ml-1m-full.random").exists():
        pytest.skip(f"LLMRank candidate files not found in {folder}")
    return folder


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


TINY_INTER = """user_id:token\titem_id:token\trating:float\ttimestamp:float
u1\t10\t5\t1
u1\t20\t4\t2
u1\t30\t3\t3
u1\t40\t5\t4
u2\t20\t3\t1
u2\t30\t4\t1
u2\t50\t2\t2
u2\t10\t5\t3
u3\t30\t4\t5
u3\t40\t4\t6
u3\t20\t1\t7
u3\t60\t5\t8
u4\t10\t4\t1
u4\t20\t4\t2
u4\t30\t4\t3
"""


SHOP_ITEMS = """item_id:token\ttitle:token\tgenre:token_seq
10\tStar Wars\tSci-Fi
20\tStar Trek\tSci-Fi
30\tLove Actually\tRomance
40\tNotting Hill\tRomance
50\tAlien\tHorror
60\tAliens\tHorror
"""


@pytest.fixture
def shop_data(tmp_path: Path) -> Path:
    """A data directory holding dataset ``shop``: the tiny log and a titled catalogue."""
    root = tmp_path / "data"
    (root / "shop").mkdir(parents=True)
    write(root / "shop" / "shop.inter", TINY_INTER)
    write(root / "shop" / "shop.item", SHOP_ITEMS)
    return root


@pytest.fixture
def tiny(tmp_path: Path) -> Interactions:
    """4 users, 6 items; u2 has a timestamp tie (items 20 and 30 at t=1, file order 20 first)."""
    return load_interactions(write(tmp_path / "tiny.inter", TINY_INTER))


def run_cli(data_dir: Path | None, command: str, *extra: str) -> Any:
    """Invoke ``lmrec <command> [extra…] --data-dir DATA_DIR`` in-process (no ``--data-dir``
    when ``data_dir`` is None, for commands without one); returns the Click result."""
    import shlex

    from typer.testing import CliRunner

    from lmrec.cli import app

    where = [] if data_dir is None else ["--data-dir", str(data_dir)]
    return CliRunner().invoke(app, [*shlex.split(command), *extra, *where])


PG_SERVER = os.environ.get("LMREC_TEST_POSTGRES", "postgresql+psycopg://127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server URL (database ``test``); skipped, saying why, when none answers."""
    pytest.importorskip("psycopg")
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_SERVER)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"no PostgreSQL answers at {PG_SERVER} (set LMREC_TEST_POSTGRES): {exc}")
    finally:
        engine.dispose()
    return PG_SERVER


def fresh_postgres_database(server: str) -> tuple[str, Any]:
    """CREATE DATABASE with a unique name on ``server``; returns (its URL, a dropper)."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"lmrec_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """An empty database: a new SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    url, drop = fresh_postgres_database(request.getfixturevalue("postgres_server"))
    yield url
    drop()


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised two-layer Llama (hidden 32) with SmolLM2's real tokenizer, saved
    as a Hugging Face model folder: for contract tests of LLM code paths that need no skill."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from lmrec.llm.runtime.locate import resolve_llm

    smollm = resolve_llm("smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(smollm.source, gguf_file=smollm.gguf_file)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
