from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import write
from lmrec.data.errors import DataFormatError
from lmrec.data.tabular import ColumnMapping, read_table


def test_csv_with_mapping(tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv", "who,what,when,stars\nalice,b1,3,5\nbob,b2,1,4\nalice,b2,2,3\n"
    )
    inter = read_table(
        path, ColumnMapping(user="who", item="what", timestamp="when", rating="stars")
    )
    assert inter.user_vocab.ids == ("alice", "bob") and len(inter) == 3
    seq = inter.sequences()
    assert inter.item_vocab.decode(seq[0]) == ["b2", "b1"]  # sorted by time
    assert inter.ratings is not None and inter.ratings.tolist() == [5.0, 4.0, 3.0]


def test_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["1", "2"],
            "item_id": ["x", "y"],
            "timestamp": pd.to_datetime(["2020-01-01", "2020-01-02"]),
        }
    )
    frame.to_parquet(tmp_path / "log.parquet")
    inter = read_table(tmp_path / "log.parquet")
    assert inter.timestamps[1] - inter.timestamps[0] == 86400.0


def test_missing_column_and_bad_number(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "user_id,item_id\n1,2\n")
    with pytest.raises(DataFormatError, match="missing column 'timestamp'"):
        read_table(path)
    bad = write(tmp_path / "b.csv", "user_id,item_id,timestamp\n1,2,3\n1,3,soon\n")
    with pytest.raises(DataFormatError, match=r"line 3, column 3 \(timestamp\): not a number"):
        read_table(bad)
    with pytest.raises(DataFormatError, match="unsupported file type"):
        read_table(write(tmp_path / "c.xlsx", ""))
