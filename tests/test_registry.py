from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lmrec.data.errors import DataError, DatasetNotFoundError
from lmrec.data.registry import (
    DATASETS,
    Download,
    default_data_dir,
    fetch,
    load_dataset,
)


def ml100k_zip() -> bytes:
    """A tiny archive in the official ML-100K layout (Latin-1 text, '|' separators)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "ml-100k/u.data", "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n"
        )
        zf.writestr("ml-100k/u.genre", "unknown|0\nAction|1\nComedy|2\n\n")
        zf.writestr(
            "ml-100k/u.item",
            "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
            "2|Amélie (2001)|01-Jan-2001||http://y|0|1|1\n".encode("latin-1"),
        )
        zf.writestr("ml-100k/u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    return buf.getvalue()


@pytest.fixture
def server() -> Iterator[tuple[str, bytes]]:
    payload = ml100k_zip()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/ml-100k.zip":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", payload
    httpd.shutdown()


def test_download_verifies_checksum_and_converts(server: tuple[str, bytes], tmp_path: Path) -> None:
    base, payload = server
    real = DATASETS["ml-100k"]
    assert real.download is not None
    spec = replace(
        real,
        download=Download(
            f"{base}/ml-100k.zip", hashlib.md5(payload).hexdigest(), real.download.convert
        ),
    )
    fetch(spec, tmp_path / "ml-100k")
    dataset = spec.load(tmp_path / "ml-100k")
    assert len(dataset.interactions) == 3
    assert dataset.title("2") == "Amélie"
    assert dataset.catalog is not None
    assert dataset.catalog.value("2", "release_year") == "2001"
    assert dataset.catalog.value("2", "class") == ("Action", "Comedy")
    assert dataset.users is not None and dataset.users.value("2", "occupation") == "other"


def test_checksum_mismatch_leaves_nothing(server: tuple[str, bytes], tmp_path: Path) -> None:
    base, _ = server
    real = DATASETS["ml-100k"]
    assert real.download is not None
    spec = replace(real, download=Download(f"{base}/ml-100k.zip", "0" * 32, real.download.convert))
    with pytest.raises(DataError, match="MD5 .* does not match"):
        fetch(spec, tmp_path / "ml-100k")
    assert not list((tmp_path / "ml-100k").iterdir())


def test_unreachable_download_says_where_to_put_files(tmp_path: Path) -> None:
    real = DATASETS["ml-1m"]
    assert real.download is not None
    spec = replace(real, download=replace(real.download, url="http://127.0.0.1:9/ml-1m.zip"))
    with pytest.raises(DatasetNotFoundError) as err:
        fetch(spec, tmp_path / "ml-1m")
    message = str(err.value)
    assert "not reachable" in message and "ml-1m.inter" in message and str(tmp_path) in message


def test_dataset_without_download_explains(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="(?s)amazon-games.item.*LMREC_DATA_DIR"):
        load_dataset("amazon-games", tmp_path)
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        load_dataset("nope", tmp_path)


def test_data_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LMREC_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("LMREC_DATA_DIR")
    assert "lmrec" in str(default_data_dir())


def test_real_datasets_load(data_dir: Path) -> None:
    ml = load_dataset("ml-100k", data_dir, download=False)
    assert (len(ml.interactions), ml.interactions.n_users, ml.interactions.n_items) == (
        100000,
        943,
        1682,
    )
    assert ml.kg is not None and len(ml.kg) == 91631
    assert ml.title("1") == "Toy Story"
    games = load_dataset("amazon-games", data_dir, download=False)
    assert games.interactions.n_users == 50546 and games.interactions.n_items == 16859


def test_joint_dataset_by_name(data_dir: Path, tmp_path: Path) -> None:
    joint = load_dataset("ml-100k+amazon-games", data_dir, download=False)
    inter = joint.interactions
    assert (inter.n_users, inter.n_items) == (943 + 50546, 1682 + 16859)
    assert inter.item_vocab.ids[0] == "ml-100k/1" and inter.item_vocab.ids[1682].startswith(
        "amazon-games/"
    )
    assert joint.catalog is not None
    assert joint.catalog.title("ml-100k/1").startswith("Toy Story")  # ML-100K's own template
    with pytest.raises(DataError, match="two or more datasets"):
        load_dataset("ml-100k+", data_dir, download=False)
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        load_dataset("ml-100k+nope", tmp_path)


def test_new_amazon_domains_and_reviewer_ids_that_join_them(data_dir: Path) -> None:
    from lmrec.experiment import named_protocol, prepare

    counts = {"amazon-scientific": (8442, 4385, 59384), "amazon-office": (4905, 2420, 53258)}
    loaded = {}
    for name, (users, items, rows) in counts.items():
        ds = load_dataset(name, data_dir, download=False)
        inter = ds.interactions
        assert (inter.n_users, inter.n_items, len(inter)) == (users, items, rows)
        assert ds.catalog is not None and ds.title(inter.item_vocab.ids[0])  # item text
        prepared = prepare(ds, named_protocol("loo"))
        assert len(prepared.cases) == users  # the fixed test file: one target per user
        loaded[name] = ds
    assert loaded["amazon-office"].users is None  # Office ships no reviewer ids

    def reviewers(name: str) -> set[str]:
        table = (loaded.get(name) or load_dataset(name, data_dir, download=False)).users
        assert table is not None
        field = next(f for f in table.fields if f.name == "reviewer_id")
        return {str(v) for v in field.values}

    # the same people in two domains (../shared/data/README.md: 556)
    assert len(reviewers("amazon-games") & reviewers("amazon-scientific")) == 556


def test_a_folder_of_atomic_files_is_a_dataset_by_name_or_path(tmp_path: Path) -> None:
    from conftest import run_cli
    from lmrec.data.errors import DatasetNotFoundError

    mine = tmp_path / "mydata"
    mine.mkdir()
    rows = [f"u{u}\ti{(u + k) % 7}\t{k}" for u in range(6) for k in range(5)]
    (mine / "mydata.inter").write_text(
        "user_id:token\titem_id:token\ttimestamp:float\n" + "\n".join(rows) + "\n"
    )
    items = [f"i{i}\tThing number {i}\t{i}" for i in range(7)]
    (mine / "mydata.item").write_text(
        "item_id:token\tname:token_seq\tsize:float\n" + "\n".join(items) + "\n"
    )
    by_name = load_dataset("mydata", tmp_path, download=False)
    assert by_name.name == "mydata" and len(by_name.interactions) == 30
    assert by_name.title("i3") == "Thing number 3"  # the "name" field is the title
    by_path = load_dataset(str(mine), Path("/nonexistent"), download=False)
    assert by_path.interactions.n_users == 6
    seq = tmp_path / "seqdata"
    seq.mkdir()
    (seq / "seqdata.test.inter").write_text(
        "user_id:token\titem_id_list:token_seq\titem_id:token\nu1\ta b c\td\nu2\tb c\ta\n"
    )
    assert len(load_dataset("seqdata", tmp_path, download=False).interactions) == 7
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DatasetNotFoundError, match=r"neither empty\.inter .* nor empty\.test\.inter"
    ):
        load_dataset("empty", tmp_path, download=False)
    with pytest.raises(DataError, match="unknown dataset 'nope': not registered"):
        load_dataset("nope", tmp_path, download=False)
    listed = run_cli(tmp_path, "data list")
    assert listed.exit_code == 0 and "mydata" in listed.output and "seqdata" in listed.output
    info = run_cli(tmp_path, f"data info {mine}")
    assert info.exit_code == 0 and "30" in info.output
    evaluated = run_cli(tmp_path, "evaluate -d mydata -m pop")
    assert evaluated.exit_code == 0, evaluated.output
