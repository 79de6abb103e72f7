"""Bad interaction logs are refused with file, line, column and value; doubtful ones warned about."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from conftest import run_cli
from lmrec.data.checks import DataWarning
from lmrec.data.errors import DataFormatError
from lmrec.data.loaders import load_interactions
from lmrec.data.registry import load_dataset
from lmrec.data.tabular import ColumnMapping, read_table

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def inter(tmp_path: Path, rows: list[str], name: str = "x") -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.inter"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("row", "where", "what"),
    [
        (
            "u2\tb\t4\tnan",
            "line 3, column 4 (timestamp)",
            "timestamp must be a finite number, got nan",
        ),
        ("u2\tb\t4\tinf", "line 3, column 4 (timestamp)", "got inf"),
        ("u2\tb\t-inf\t5", "line 3, column 3 (rating)", "rating must be a finite number"),
        ("\tb\t4\t5", "line 3, column 1 (user_id)", "empty user_id"),
        ("u2\t \t4\t5", "line 3, column 2 (item_id)", "empty item_id"),
        ("u1 \tb\t4\t5", "line 3, column 1 (user_id)", "'u1 ' and 'u1' (line 2) differ only by"),
    ],
)
def test_refused_with_file_line_column_and_value(
    tmp_path: Path, row: str, where: str, what: str
) -> None:
    path = inter(tmp_path, ["u1\ta\t5\t1", row, "u3\tc\t3\t2"])
    with pytest.raises(DataFormatError) as caught:
        load_interactions(path)
    message = str(caught.value)
    assert f"{path}, {where}" in message and what in message


def test_csv_ids_are_checked_too(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("who,what\n7,a\n 7,b\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"line 3, column 1 \(who\).*differ only by"):
        read_table(path, ColumnMapping(user="who", item="what", timestamp=None))


def test_exact_duplicate_rows_are_kept_with_a_warning_and_a_count(tmp_path: Path) -> None:
    path = inter(tmp_path, ["u1\ta\t5\t1", "u1\ta\t5\t1", "u1\tb\t5\t2", "u1\ta\t5\t1"])
    with pytest.warns(
        DataWarning, match=r"2 rows repeat an earlier row exactly \(first on line 3\)"
    ):
        log = load_interactions(path)
    assert len(log) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same pair at another time is a repeat visit: no warning
        load_interactions(inter(tmp_path, ["u1\ta\t5\t1", "u1\ta\t5\t2"], "y"))


def test_items_missing_from_the_catalogue_are_counted(tmp_path: Path) -> None:
    inter(tmp_path, ["u1\ta\t5\t1", "u1\tghost\t4\t2", "u2\ta\t3\t3", "u2\tb\t3\t4"])
    (tmp_path / "x" / "x.item").write_text("item_id:token\ttitle:token_seq\na\tAlpha\nb\tBeta\n")
    with pytest.warns(
        DataWarning,
        match=r"1 of 3 interacted items are not in the item catalogue \(e\.g\. 'ghost'\)",
    ):
        load_dataset("x", tmp_path, download=False)
    shown = run_cli(tmp_path, "data info x")
    assert shown.exit_code == 0 and "warning: x: 1 of 3 interacted items" in shown.output
    strict = run_cli(tmp_path, "--strict data info x")
    assert strict.exit_code != 0 and "--strict: x: 1 of 3" in " ".join(strict.output.split())
    assert run_cli(tmp_path, "data info x").exit_code == 0  # --strict did not outlive its command


def test_output_paths_are_checked_before_any_work(tmp_path: Path) -> None:
    inter(tmp_path, ["u1\ta\t5\t1", "u1\tb\t4\t2", "u1\tc\t3\t3", "u2\ta\t3\t4", "u2\tc\t3\t5"])
    folder = tmp_path / "out"
    folder.mkdir()
    to_folder = run_cli(tmp_path, f"evaluate -d x -m pop -o {folder}")
    said = " ".join(to_folder.output.split())
    assert to_folder.exit_code != 0 and "is a folder; this option takes a file name" in said
    assert "pop:" not in said  # refused before fitting
    a_file = folder / "taken"
    a_file.write_text("")
    assert "is a file" in run_cli(tmp_path, f"train -d x -m pop -o {a_file}").output
    blocked = run_cli(tmp_path, f"recommend -d x --all-users -o {a_file}/deeper/out.tsv")
    assert blocked.exit_code != 0 and "is not a writable folder" in " ".join(blocked.output.split())


def test_csv_errors_name_the_physical_line_after_blank_lines_and_quoted_newlines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.csv"
    # records start on lines 2, 4 (after a blank line) and 5 (spanning 5-6 by a quoted newline)
    path.write_text('who,what,when\n1,a,1\n\n2,b,2\n"3\nx",c,3\n4,d,soon\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"log\.csv, line 7, column 3 \(when\)"):
        read_table(path, ColumnMapping(user="who", item="what", timestamp="when"))
    path.write_text("who,what\n1,a\n\n\n 1,b\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"line 5, column 1 \(who\).*\(line 2\)"):
        read_table(path, ColumnMapping(user="who", item="what", timestamp=None))
