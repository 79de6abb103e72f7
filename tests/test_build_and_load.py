"""One way to build, save, load and rank a model: composite models through train → folder →
recommend, the library and the service giving the same list for a heavy user, ``recommend``
without the service's extra, and the error taxonomy the command line catches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

TWO_STAGE = "model: two-stage\nconfig:\n  reranker: itemknn\n  retriever: pop\n  depth: 20\n"
ENSEMBLE = (
    "model: ensemble\nconfig:\n  members:\n    - model: pop\n    - model: itemknn-seq\n"
    "      weight: 2.0\n"
)


@pytest.mark.parametrize("name,yaml", [("two-stage", TWO_STAGE), ("ensemble", ENSEMBLE)])
def test_composite_models_recommend_train_and_load(
    data_dir: Path, tmp_path: Path, name: str, yaml: str
) -> None:
    """No dead end: fitted in place when its members are quick, trained into a folder, and
    recommended from that folder with the same list."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml)
    direct = run_cli(data_dir, f"recommend -d ml-100k --user 196 --k 5 -c {config}")
    assert direct.exit_code == 0, direct.output
    trained = run_cli(data_dir, f"train -d ml-100k -c {config} -o {tmp_path / 'run'}")
    assert trained.exit_code == 0, trained.output
    assert f"saved {name}" in trained.output
    again = run_cli(
        data_dir, f"recommend -d ml-100k --user 196 --k 5 --model-dir {tmp_path / 'run'}"
    )
    assert again.exit_code == 0, again.output
    assert f"{name} recommendations" in again.output
    assert (tmp_path / "run" / "config.json").is_file()


def test_slow_member_asks_for_training_once(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("model: two-stage\nconfig:\n  reranker: sasrec\n  retriever: pop\n")
    result = run_cli(data_dir, f"recommend -d ml-100k --user 196 -c {config}")
    assert result.exit_code == 2
    assert "trains for minutes: run `lmrec train -d ml-100k -m two-stage" in _said(result)


def _said(result: object) -> str:
    """The command's output with the console's line wrapping undone."""
    return " ".join(str(getattr(result, "output", "")).split())


def test_a_folder_of_another_model_is_refused(data_dir: Path, tmp_path: Path) -> None:
    trained = run_cli(data_dir, f"train -d ml-100k -m pop -o {tmp_path / 'pop'}")
    assert trained.exit_code == 0, trained.output
    result = run_cli(data_dir, f"recommend -d ml-100k -m itemknn --model-dir {tmp_path / 'pop'}")
    assert result.exit_code == 2 and "holds a 'pop'" in _said(result)
    result = run_cli(data_dir, f"recommend -d ml-100k --model-dir {tmp_path / 'nothing'}")
    assert result.exit_code == 2 and "no saved model here" in _said(result)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    result = run_cli(data_dir, f"recommend -d ml-100k --model-dir {tmp_path / 'bad'}")
    assert result.exit_code == 2 and "not a saved model's config" in _said(result)


BLOCK_SERVE = """
import sys
from importlib.abc import MetaPathFinder

class NoServeExtra(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sqlalchemy", "fastapi", "uvicorn", "alembic", "psycopg"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoServeExtra())
from lmrec.cli import app
app(sys.argv[1:])
"""


def test_recommend_needs_no_service_extra(data_dir: Path) -> None:
    """A user without the ``serve`` extra: SQLAlchemy, FastAPI and uvicorn cannot be imported."""
    args = ["recommend", "-d", "ml-100k", "-m", "itemknn", "--user", "1", "--k", "3"]
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_SERVE, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "itemknn recommendations" in done.stdout
    blocked = subprocess.run(
        [sys.executable, "-c", BLOCK_SERVE, "serve", "-d", "ml-100k", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert blocked.returncode != 0  # the check above is not vacuous: serve does need them
    assert "sqlalchemy" in (blocked.stdout + blocked.stderr).lower()


def test_library_and_service_agree_for_a_heavy_user(data_dir: Path, tmp_path: Path) -> None:
    """ML-100K user 405 has 737 ratings: neither path recommends an item they rated, and both
    give the same list."""
    from lmrec.core.query import Query
    from lmrec.data.registry import load_dataset
    from lmrec.models.build import build_model
    from lmrec.service.engine import RecommendService
    from lmrec.service.messages import RecommendQuery
    from lmrec.service.store import Store

    ds = load_dataset("ml-100k", data_dir)
    model = build_model(ds, "itemknn")
    inter = ds.interactions
    rated = set(inter.item_vocab.decode(inter.sequences()[inter.user_vocab.index("405")]))
    assert len(rated) > 200
    library = model.recommend(Query(user="405", k=100))
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.import_dataset(ds)
    service = RecommendService(ds, model, store, model_name="itemknn")
    try:
        served = service.recommend(RecommendQuery(user_id="405", k=100))
        long = service.recommend(RecommendQuery(history=sorted(rated)[:450], k=100))
    finally:
        service.close()
    assert not rated & set(library.items)
    assert tuple(r.item_id for r in served.items) == library.items
    assert served.history_length == len(inter.sequences()[inter.user_vocab.index("405")])
    assert long.history_length == 450
    assert not set(sorted(rated)[:450]) & {r.item_id for r in long.items}


def test_every_user_error_is_one_base_class() -> None:
    from lmrec.data.errors import DataError, DataFormatError, UnknownIdError
    from lmrec.errors import (
        BackendError,
        CheckpointError,
        ConfigError,
        LmrecError,
        NotFittedError,
    )
    from lmrec.models.registry import create_model

    for kind in (DataError, DataFormatError, UnknownIdError, ConfigError, NotFittedError):
        assert issubclass(kind, LmrecError)
    assert issubclass(CheckpointError, LmrecError) and issubclass(BackendError, LmrecError)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        create_model("nope")
    with pytest.raises(ConfigError, match="extra"):
        create_model("pop", {"nope": 1})
