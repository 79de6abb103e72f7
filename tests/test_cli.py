from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli


def test_data_info(data_dir: Path) -> None:
    result = run_cli(data_dir, "data info ml-100k")
    assert result.exit_code == 0, result.output
    assert "100,000" in result.output and "943" in result.output


def test_evaluate_writes_json(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run_cli(data_dir, "evaluate -d ml-100k -m pop --output", str(out))
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert round(payload["metrics"]["ndcg@10"], 4) == 0.0449
    assert round(payload["metrics"]["hr@10"], 4) == 0.0859
    prov = payload["provenance"]
    assert prov["dataset"] == "ml-100k" and prov["users_evaluated"] == 943
    assert prov["protocol"] == "loo" and "numpy" in prov["versions"]


def test_recommend_prints_titles_and_exports(data_dir: Path, tmp_path: Path) -> None:
    result = run_cli(data_dir, "recommend -d ml-100k -m pop --user 1 --k 3")
    assert result.exit_code == 0, result.output
    assert "recommendations" in result.output
    out = tmp_path / "r.tsv"
    result = run_cli(data_dir, "recommend -d ml-100k -m pop --all-users --k 5 --output", str(out))
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 943 and all(len(line.split("\t")[1].split()) == 5 for line in lines)


def test_errors_are_clear(data_dir: Path, tmp_path: Path) -> None:
    result = run_cli(data_dir, "recommend -d ml-100k --user nope")
    assert result.exit_code == 2 and "unknown user 'nope'" in result.output
    result = run_cli(data_dir, "evaluate -d ml-100k -m nope")
    assert result.exit_code == 2 and "unknown model 'nope'" in result.output
    result = run_cli(tmp_path, "data info amazon-games")
    assert result.exit_code == 2 and "put these RecBole atomic files there" in result.output
    result = run_cli(data_dir, "evaluate -d ml-100k -m pop -p bogus")
    assert result.exit_code == 2 and "unknown protocol" in result.output


def test_train_with_yaml_config_saves_a_loadable_checkpoint(data_dir: Path, tmp_path: Path) -> None:
    from lmrec.core.query import Query
    from lmrec.models.sequential import SASRec

    config = tmp_path / "sasrec.yaml"
    config.write_text(
        "model: sasrec\nconfig:\n  hidden_size: 8\n  layers: 1\n  max_len: 10\n"
        "  train:\n    epochs: 1\n    batch_size: 256\n"
    )
    out = tmp_path / "ckpt"
    result = run_cli(data_dir, f"train -d ml-100k --config {config} --set train.seed=3 -o {out}")
    assert result.exit_code == 0, result.output
    payload = json.loads((out / "results.json").read_text())
    prov = payload["provenance"]
    assert prov["model_config"]["max_len"] == 10 and prov["model_config"]["train"]["seed"] == 3
    assert prov["training"]["epochs_run"] == 1 and prov["users_evaluated"] == 943
    assert 0.0 < payload["metrics"]["ndcg@10"] < 1.0
    loaded = SASRec.load(out)  # no training data needed
    assert len(loaded.recommend(Query(user="1", k=5))) == 5


def test_config_errors_name_the_file_and_key(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model: sasrec\nconfig:\n  train:\n    epoch: 1\n")
    result = run_cli(data_dir, f"evaluate -d ml-100k --config {config}")
    assert result.exit_code == 2 and "train.epoch" in result.output
    result = run_cli(data_dir, "evaluate -d ml-100k")
    assert result.exit_code == 2 and "--model" in result.output
    result = run_cli(data_dir, "evaluate -d ml-100k -m sasrec --set train.epochs")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_textseq_modes_are_cli_options(data_dir: Path, tmp_path: Path) -> None:
    """Pretrain, then fine-tune only the adapter from the checkpoint, all through `lmrec train`."""
    pytest.importorskip("torch")
    tiny = "--set hidden_size=8 --set layers=1 --set max_len=10 --set train.epochs=1"
    source, tuned = tmp_path / "source", tmp_path / "tuned"
    result = run_cli(data_dir, f"train -d ml-100k -m textseq {tiny} -o {source}")
    assert result.exit_code == 0, result.output
    result = run_cli(
        data_dir,
        f"train -d ml-100k -m textseq --set pretrained={source} --set tune=adapter "
        f"--set train.epochs=1 -o {tuned}",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tuned / "results.json").read_text())["provenance"]["model_config"]
    assert config["tune"] == "adapter" and config["hidden_size"] == 8  # architecture of the source
    result = run_cli(data_dir, f"train -d ml-100k -m textseq --set tune=none -o {tmp_path / 'x'}")
    assert result.exit_code == 2 and "needs `pretrained`" in result.output
