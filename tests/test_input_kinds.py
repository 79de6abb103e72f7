"""Inputs of the kinds every surface checks the same way: numbers with ranges on the serving
commands, field separators, output paths (refused before any work, naming the option)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli, write


@pytest.fixture
def shop(shop_data: Path) -> Path:
    return shop_data


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("serve -d shop -m pop", "--port", "70000"),
        ("serve -d shop -m pop", "--port", "0"),
        ("serve -d shop -m pop", "--port", "-1"),
        ("serve -d shop -m pop", "--max-k", "0"),
        ("serve -d shop -m pop", "--max-body-kb", "0"),
        ("llm serve --llm smollm2-135m", "--port", "65536"),
    ],
)
def test_numbers_out_of_range_are_refused_before_anything_starts(
    shop: Path, command: str, option: str, value: str
) -> None:
    result = run_cli(None, command, option, value, *(["--data-dir", str(shop)] * ("-d" in command)))
    assert result.exit_code == 2 and option in result.output, result.output


@pytest.mark.parametrize("sep", [";;", "", '"', "\n"])
def test_a_separator_that_is_not_one_character_is_refused(tmp_path: Path, sep: str) -> None:
    log = write(tmp_path / "log.csv", "user_id,item_id\n1,10\n2,20\n")
    result = run_cli(tmp_path / "data", "data import", "x1", "--from", str(log), "--sep", sep)
    assert result.exit_code == 2 and "field separator must be one character" in result.output


def test_an_output_path_that_takes_no_files_is_refused_before_the_run(shop: Path) -> None:
    result = run_cli(shop, "evaluate", "-d", "shop", "-m", "pop", "-o", "/proc/nope/x.json")
    assert result.exit_code == 2 and "does not take files" in result.output
