"""Kinds of input in files and options, each checked in one place: delimited rows (exactly the
header's fields), ids (kept as written, no nulls or control characters), dates (one format per
column), candidate rows (distinct items), option sets (booleans and NaN are not numbers), model
files (a damaged GGUF says so) and text shown on the console (never markup, never slow)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import run_cli, write
from lmrec.data.errors import DataFormatError
from lmrec.data.tabular import ColumnMapping, read_table
from lmrec.errors import BackendError, ConfigError

WHO = ColumnMapping(user="who", item="what", timestamp="when")


def read(path: Path, mapping: ColumnMapping = WHO) -> tuple[list[str], list[str], list[float]]:
    log = read_table(path, mapping)
    users = list(log.user_vocab.decode(log.users))
    return users, list(log.item_vocab.decode(log.items)), [float(t) for t in log.timestamps]


@pytest.mark.parametrize(
    ("body", "fields"),
    [("1,10,100,200\n2,20,200,300\n", 4), ("1,10\n2,20\n", 2), ("1,10,100\n2,20,200,\n", 4)],
)
def test_rows_must_have_exactly_the_headers_fields(tmp_path: Path, body: str, fields: int) -> None:
    path = write(tmp_path / "log.csv", "who,what,when\n" + body)
    with pytest.raises(DataFormatError, match=f"line [23]: {fields} fields where the header has 3"):
        read(path)


def test_a_date_column_is_read_one_way_or_refused(tmp_path: Path) -> None:
    one_way = write(tmp_path / "a.csv", "who,what,when\n1,10,12/01/2024\n1,11,13/01/2024\n")
    _, _, times = read(one_way)
    assert times[1] - times[0] == 86_400.0  # both day first: 12 and 13 January, in that order
    both = write(tmp_path / "b.csv", "who,what,when\n1,10,12/01/2024\n1,11,11/01/2024\n")
    with pytest.raises(DataFormatError, match="ambiguous dates.*--time-format"):
        read(both)
    fixed = ColumnMapping(user="who", item="what", timestamp="when", time_format="%d/%m/%Y")
    _, _, times = read(both, fixed)
    assert times[0] - times[1] == 86_400.0  # 12 January after 11 January
    with pytest.raises(DataFormatError, match="not a date in the format"):
        read(one_way, ColumnMapping("who", "what", "when", time_format="%m/%d/%Y"))


def test_parquet_ids_are_kept_as_written_and_nulls_refused(tmp_path: Path) -> None:
    import pandas as pd

    floats = tmp_path / "floats.parquet"
    pd.DataFrame({"who": [1.0, 2.0], "what": [10, 20], "when": [1, 2]}).to_parquet(floats)
    users, items, _ = read(floats)
    assert users == ["1", "2"] and items == ["10", "20"]
    nulls = tmp_path / "nulls.parquet"
    frame = pd.DataFrame({"who": pd.array([1, None, 3], dtype="Int64"), "what": [1, 2, 3]})
    frame.assign(when=[1, 2, 3]).to_parquet(nulls)
    with pytest.raises(DataFormatError, match=r"row 2, column 1 \(who\): no who: .*null"):
        read(nulls)
    dates = tmp_path / "dates.parquet"
    moments = pd.to_datetime(["2024-01-01", None])
    pd.DataFrame({"who": ["a", "b"], "what": ["x", "y"], "when": moments}).to_parquet(dates)
    with pytest.raises(DataFormatError, match="row 2.*finite"):
        read(dates)


@pytest.mark.parametrize("bad", ['"a\tb"', '"a\nb"', '"a\x01b"'])
def test_ids_with_control_characters_are_refused(tmp_path: Path, bad: str) -> None:
    path = write(tmp_path / "log.csv", f"who,what,when\n{bad},10,1\n2,20,2\n")
    with pytest.raises(DataFormatError, match="line 2, column 1 .*control character"):
        read(path)
    items = write(tmp_path / "items.jsonl", '{"item_id": "a\\tb", "title": "x"}\n')
    log = write(tmp_path / "l2.csv", "user_id,item_id\n1,10\n")
    result = run_cli(tmp_path / "d", "data import", "x2", "--from", str(log), "--items", str(items))
    assert result.exit_code == 2 and "line 1" in result.output and "control" in result.output


def test_a_field_kept_twice_or_a_column_in_two_roles_is_refused(tmp_path: Path) -> None:
    log = write(tmp_path / "log.csv", "user_id,item_id\n1,10\n")
    items = write(tmp_path / "items.jsonl", '{"item_id": "10", "title": "x"}\n')
    twice = run_cli(
        tmp_path / "d", "data import x3", "--from", str(log), "--items", str(items),
        "--text", "title", "--text", "title",
    )  # fmt: skip
    assert twice.exit_code == 2 and "kept twice" in twice.output
    roles = run_cli(tmp_path / "d", "data import x4", "--from", str(log), "--time", "user_id")
    assert roles.exit_code == 2 and "--time and --user name the same column" in roles.output
    assert not (tmp_path / "d" / "x3").exists() and not (tmp_path / "d" / "x4").exists()


def test_a_candidate_row_that_repeats_an_item_is_not_ranked_as_twenty(
    shop_data: Path, tmp_path: Path
) -> None:
    lines = "".join(
        f"{u}\t{' '.join(['20'] * 10 + ['50'] * 9)}\n" for u in ("u1", "u2", "u3", "u4")
    )
    file = write(tmp_path / "c.random", lines)
    result = run_cli(shop_data, "evaluate -d shop -m pop -p llmrank-20 --candidates", str(file))
    assert result.exit_code == 2, result.output
    assert "distinct candidates" in result.output and "repeated entries count once" in result.output


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("neighbors=true", "neighbors: true is not a number"),
        ("shrink=nan", "finite number"),
        ("shrink=inf", "finite number"),
        ("neighbors=-5", "greater than or equal to 0"),
    ],
)
def test_option_sets_refuse_booleans_and_non_finite_numbers(setting: str, message: str) -> None:
    from lmrec.experiment.config_files import parse_settings
    from lmrec.models.registry import create_model

    with pytest.raises(ConfigError, match=message):
        create_model("itemknn", parse_settings([setting]))


def test_a_search_space_is_checked_against_the_model_before_any_trial(tmp_path: Path) -> None:
    from lmrec.distributed.space import load_space

    typo = write(tmp_path / "s.yaml", "model: itemknn\nspace:\n  neighbours: {choice: [5, 10]}\n")
    with pytest.raises(ConfigError, match="s.yaml: model 'itemknn': unknown option 'neighbours'"):
        load_space(typo)
    low = write(tmp_path / "r.yaml", "model: itemknn\nspace:\n  shrink: {uniform: [-1.0, 2.0]}\n")
    with pytest.raises(ConfigError, match="field 'shrink'.*got -1.0"):
        load_space(low)


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("llm-rank -d shop --llm smollm2-135m", "--users", "-1"),
        ("evaluate -d shop -m pop", "--depth", "0"),
        ("evaluate -d shop -m pop", "--cold-share", "2"),
        ("evaluate -d shop -m pop", "--history-limit", "0"),
        ("serve -d shop -m pop", "--workers", "0"),
        ("serve -d shop -m pop", "--threads", "0"),
        ("serve -d shop -m pop", "--retrain-every", "0"),
        ("demo -d shop", "--users", "0"),
        ("serve -d shop -m pop", "--deadline", "nan"),
        ("evaluate -d shop -m pop -p temporal", "--cutoff-quantile", "nan"),
        ("evaluate -d shop -m pop -p cold-items", "--cold-share", "inf"),
    ],
)
def test_counts_out_of_range_are_refused_naming_the_option(
    shop_data: Path, command: str, option: str, value: str
) -> None:
    result = run_cli(shop_data, command, option, value)
    assert result.exit_code == 2 and option in result.output, result.output


@pytest.mark.parametrize(("text", "problem"), [("  ", "is blank"), ("a\x01b", "control")])
def test_free_text_on_the_command_line_follows_the_services_rule(
    shop_data: Path, text: str, problem: str
) -> None:
    result = run_cli(shop_data, "recommend -d shop --text", text)
    assert result.exit_code == 2 and problem in result.output, result.output


def test_a_damaged_model_file_says_so(tmp_path: Path) -> None:
    from lmrec.llm.runtime.locate import resolve_llm

    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"hello")
    with pytest.raises(BackendError, match="not a GGUF model file"):
        resolve_llm(str(junk))
    short = tmp_path / "short.gguf"
    short.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 16 + b"\x05")
    model = resolve_llm(str(short))  # a whole header: the body is read at load time
    from lmrec.llm.runtime.causal_lm import CausalLM

    with pytest.raises(BackendError, match="truncated or damaged"):
        CausalLM(model)


def test_titles_are_shown_as_written_and_quickly(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "odd").mkdir(parents=True)
    inter = "user_id:token\titem_id:token\ttimestamp:float\nu1\t1\t1\nu2\t2\t1\nu2\t3\t2\n"
    write(root / "odd" / "odd.inter", inter)
    titles = f"item_id:token\ttitle:token\n1\t{'x' * 100_000}\n2\t[/]\n3\t[bold]plain\n"
    write(root / "odd" / "odd.item", titles)
    started = time.perf_counter()
    result = run_cli(root, "recommend -d odd -m pop --user u1")
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - started < 20  # was 59 s in the terminal highlighter
    assert "[bold]plain" in result.output and "[/]" in result.output and "…" in result.output
