from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lmrec.cli import app

runner = CliRunner()


def test_data_info(data_dir: Path) -> None:
    result = runner.invoke(app, ["data", "info", "ml-100k", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "100,000" in result.output and "943" in result.output


def test_evaluate_writes_json(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "-d",
            "ml-100k",
            "-m",
            "pop",
            "--output",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert round(payload["metrics"]["ndcg@10"], 4) == 0.0449
    assert round(payload["metrics"]["hr@10"], 4) == 0.0859
    prov = payload["provenance"]
    assert prov["dataset"] == "ml-100k" and prov["users_evaluated"] == 943
    assert prov["protocol"] == "loo" and "numpy" in prov["versions"]


def test_recommend_prints_titles_and_exports(data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "recommend",
            "-d",
            "ml-100k",
            "-m",
            "pop",
            "--user",
            "1",
            "--k",
            "3",
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "recommendations" in result.output
    out = tmp_path / "r.tsv"
    result = runner.invoke(
        app,
        [
            "recommend",
            "-d",
            "ml-100k",
            "-m",
            "pop",
            "--all-users",
            "--k",
            "5",
            "--output",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 943 and all(len(line.split("\t")[1].split()) == 5 for line in lines)


def test_errors_are_clear(data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["recommend", "-d", "ml-100k", "--user", "nope", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 2 and "unknown user 'nope'" in result.output
    result = runner.invoke(
        app, ["evaluate", "-d", "ml-100k", "-m", "nope", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 2 and "unknown model 'nope'" in result.output
    result = runner.invoke(app, ["data", "info", "amazon-games", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "put these RecBole atomic files there" in result.output
    result = runner.invoke(
        app, ["evaluate", "-d", "ml-100k", "-m", "pop", "-p", "bogus", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 2 and "unknown protocol" in result.output
