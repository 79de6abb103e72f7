from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_INTER, write
from lmrec.data.atomic import Column, read_atomic, write_atomic
from lmrec.data.containers import FieldType
from lmrec.data.errors import DataFormatError
from lmrec.data.loaders import (
    load_interactions,
    load_item_catalog,
    load_knowledge_graph,
    load_sequence_interactions,
    write_interactions,
    write_table,
)


def test_reads_typed_columns(tmp_path: Path) -> None:
    table = read_atomic(write(tmp_path / "x.inter", TINY_INTER))
    assert [c.header() for c in table.columns] == [
        "user_id:token",
        "item_id:token",
        "rating:float",
        "timestamp:float",
    ]
    assert len(table) == 15
    assert table.floats("rating")[:3].tolist() == [5.0, 4.0, 3.0]
    assert list(table.raw("user_id")[:2]) == ["u1", "u1"]


def test_wrong_column_count_names_file_and_line_7(tmp_path: Path) -> None:
    lines = TINY_INTER.splitlines()
    lines[6] += "\textra"  # line 7 of the file
    path = write(tmp_path / "bad.inter", "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as err:
        read_atomic(path)
    assert err.value.line == 7
    assert str(path) in str(err.value) and "line 7" in str(err.value)
    assert "expected 4" in str(err.value) and "found 5" in str(err.value)


def test_unknown_type_names_column(tmp_path: Path) -> None:
    path = write(tmp_path / "t.item", "item_id:token\ttitle:text\n1\tA\n")
    with pytest.raises(DataFormatError, match=r"line 1, column 2 \(title\): unknown type 'text'"):
        read_atomic(path)


def test_header_without_type(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="column 2.*not 'name:type'"):
        read_atomic(write(tmp_path / "t.item", "item_id:token\ttitle\n1\tA\n"))


@pytest.mark.parametrize("text", ["", "\n", "   \n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataFormatError, match="line 1: empty file"):
        read_atomic(write(tmp_path / "e.inter", text))


def test_header_only_interactions_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "h.inter", "user_id:token\titem_id:token\n")
    with pytest.raises(DataFormatError, match="no interactions"):
        load_interactions(path)


def test_bad_float_names_line_and_column(tmp_path: Path) -> None:
    text = TINY_INTER.replace("u2\t50\t2\t2", "u2\t50\tabc\t2")
    path = write(tmp_path / "f.inter", text)
    with pytest.raises(DataFormatError) as err:
        load_interactions(path)
    assert (err.value.line, err.value.column, err.value.column_name) == (8, 3, "rating")


def test_duplicate_item_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "d.item", "item_id:token\ttitle:token_seq\n1\tA\n2\tB\n1\tC\n")
    with pytest.raises(
        DataFormatError, match="line 4.*duplicate id '1' \\(first seen on line 2\\)"
    ):
        load_item_catalog(path)


def test_non_utf8_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "l.item"
    path.write_bytes("item_id:token\ttitle:token_seq\n1\tok\n2\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="line 3.*UTF-8"):
        read_atomic(path)


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "w.item"
    path.write_bytes(b"\xef\xbb\xbfitem_id:token\ttitle:token_seq\r\n1\tA b\r\n")
    catalog = load_item_catalog(path)
    assert catalog.title("1") == "A b"


def test_chinese_titles_round_trip(tmp_path: Path) -> None:
    src = write(
        tmp_path / "zh.item",
        "item_id:token\ttitle:token_seq\tprice:float\ttags:float_seq\n"
        "1\t我喜欢的食物是苹果、香蕉和橙子。\t3.5\t1 2.5\n2\t霸王别姬  (1993)\t10\t\n",
    )
    catalog = load_item_catalog(src)
    assert catalog.title("1") == "我喜欢的食物是苹果、香蕉和橙子。"
    assert catalog.title("2") == "霸王别姬  (1993)"
    assert catalog.value("1", "tags") == (1.0, 2.5)
    out = tmp_path / "out.item"
    write_table(catalog, out, "item_id")
    assert out.read_text(encoding="utf-8") == src.read_text(encoding="utf-8")
    again = load_item_catalog(out)
    assert again == catalog


def test_interactions_round_trip(tmp_path: Path) -> None:
    inter = load_interactions(write(tmp_path / "a.inter", TINY_INTER))
    write_interactions(inter, tmp_path / "b.inter")
    again = load_interactions(tmp_path / "b.inter")
    assert again.user_vocab == inter.user_vocab and again.item_vocab == inter.item_vocab
    np.testing.assert_array_equal(again.items, inter.items)
    np.testing.assert_array_equal(again.timestamps, inter.timestamps)
    assert again.ratings is not None and inter.ratings is not None
    np.testing.assert_array_equal(again.ratings, inter.ratings)


def test_vocabulary_is_numeric_order(tmp_path: Path) -> None:
    inter = load_interactions(
        write(tmp_path / "n.inter", "user_id:token\titem_id:token\n1\t10\n1\t9\n2\t100\n")
    )
    assert inter.item_vocab.ids == ("9", "10", "100")
    assert inter.timestamps.tolist() == [0.0, 1.0, 2.0]  # no timestamp column: file order
    with pytest.raises(ValueError):
        inter.items[0] = 1  # containers are immutable


def test_sequence_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.test.inter",
        "user_id:token\titem_id_list:token_seq\titem_id:token\na\t1 2 3\t4\nb\t\t2\n",
    )
    inter = load_sequence_interactions(path)
    seqs = inter.sequences()
    assert inter.item_vocab.decode(seqs[inter.user_vocab.index("a")]) == ["1", "2", "3", "4"]
    assert inter.item_vocab.decode(seqs[inter.user_vocab.index("b")]) == ["2"]


def test_knowledge_graph(tmp_path: Path) -> None:
    kg = write(
        tmp_path / "x.kg",
        "head_id:token\trelation_id:token\ttail_id:token\n"
        "m.1\tfilm.actor\tm.9\nm.2\tfilm.actor\tm.9\n",
    )
    link = write(tmp_path / "x.link", "item_id:token\tentity_id:token\n10\tm.1\n20\tm.2\n")
    graph = load_knowledge_graph(kg, link)
    assert len(graph) == 2
    assert graph.entities_of("10") == ["m.1"]
    assert graph.facts("m.9") == [("film.actor", "m.1"), ("film.actor", "m.2")]


def test_writer_refuses_tabs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tabs or newlines"):
        write_atomic(tmp_path / "x.item", [Column("item_id", FieldType.TOKEN)], [["a\tb"]])
    assert not list(tmp_path.iterdir())  # nothing half-written left behind
