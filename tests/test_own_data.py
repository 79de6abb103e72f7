"""A user's own data, unregistered: imported from CSV + JSON lines, or a hand-made folder of
atomic files, used by every command by folder name and by path."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from conftest import run_cli
from lmrec.data.registry import load_dataset

N_USERS, N_ITEMS, LENGTH = 24, 15, 8


def write_log(path: Path) -> None:
    """A CSV with its own column names; users walk a ring of items; times are ISO dates."""
    lines = ["who,what,when,stars"]
    for u in range(N_USERS):
        for t in range(LENGTH):
            item = (u + t) % N_ITEMS
            lines.append(f"p{u},sku{item},2024-01-{t + 1:02d}T10:00:00Z,{1 + (u + t) % 5}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_catalogue(path: Path) -> None:
    """JSON lines as Amazon metadata ships: lists, tabs and newlines inside text."""
    rows = [
        {
            "asin": f"sku{i}",
            "title": f"Widget\tnumber {i}",
            "description": [f"Made of {i}", "steel"],
        }
        for i in range(N_ITEMS)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding 'mine' (imported) and 'seqmine' (sequence files, by hand)."""
    root = tmp_path_factory.mktemp("data")
    src = tmp_path_factory.mktemp("src")
    write_log(src / "log.csv")
    write_catalogue(src / "meta.jsonl")
    imported = run_cli(
        root,
        f"data import mine --from {src / 'log.csv'} --user who --item what --time when "
        f"--rating stars --items {src / 'meta.jsonl'} --item-id asin --text title "
        "--text description",
    )
    assert imported.exit_code == 0, imported.output
    assert f"{N_USERS * LENGTH:,} interactions, {N_USERS} users, {N_ITEMS} items" in imported.output
    seq = root / "seqmine"
    seq.mkdir()
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    rows = [f"s{u}\t" + " ".join(f"x{(u + t) % 9}" for t in range(5)) for u in range(12)]
    (seq / "seqmine.valid.inter").write_text(
        header + "\n".join(f"{r}\tx{u % 9}" for u, r in enumerate(rows)) + "\n"
    )
    (seq / "seqmine.test.inter").write_text(
        header + "\n".join(f"{r} x{u % 9}\tx{(u + 1) % 9}" for u, r in enumerate(rows)) + "\n"
    )
    names = "".join(f"x{i}\tGadget {i}\n" for i in range(9))
    (seq / "seqmine.item").write_text("item_id:token\ttitle:token_seq\n" + names)
    return root


def test_import_round_trip(root: Path) -> None:
    ds = load_dataset("mine", root, download=False)
    inter = ds.interactions
    assert (len(inter), inter.n_users, inter.n_items) == (N_USERS * LENGTH, N_USERS, N_ITEMS)
    assert inter.ratings is not None and set(inter.ratings.tolist()) == {1, 2, 3, 4, 5}
    # ISO dates became Unix seconds, one day apart, in the right order
    p0 = inter.sequences()[inter.user_vocab.index("p0")]
    assert inter.item_vocab.decode(p0)[:3] == ["sku0", "sku1", "sku2"]
    assert sorted(set(inter.timestamps.tolist()))[:2] == [1704103200.0, 1704189600.0]
    assert ds.title("sku3") == "Widget number 3"  # the tab folded into a space
    assert ds.catalog is not None
    assert {f.name for f in ds.catalog.fields} >= {"title", "description"}


def bad_import(root: Path, tmp_path: Path, content: bytes, name: str = "bad.csv") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    result = run_cli(root, f"data import broken --from {path} --user who --item what")
    assert result.exit_code != 0
    assert not (root / "broken").exists()  # nothing half-written
    assert not [p for p in root.iterdir() if p.name.startswith(".broken")]
    return " ".join(result.output.split())


def test_import_refuses_bad_input_naming_file_line_and_column(root: Path, tmp_path: Path) -> None:
    out = bad_import(root, tmp_path, b"who,item\np1,a\n")
    assert "bad.csv, line 1" in out and "missing column 'what'" in out
    out = bad_import(root, tmp_path, b"who,what,who\np1,a,b\n")
    assert "line 1, column 3" in out and "'who' appears twice" in out
    out = bad_import(root, tmp_path, b"")
    assert "bad.csv, line 1" in out and "empty file" in out
    out = bad_import(root, tmp_path, b"who,what\np1,a\np2,caf\xe9\n")
    assert "line 3, column 7" in out and "not valid UTF-8" in out
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text('{"item_id": "a", "title": "A"}\n{"item_id": "b", "title": \n')
    log = tmp_path / "ok.csv"
    log.write_text("who,what\np1,a\np1,b\n")
    result = run_cli(
        root, f"data import broken --from {log} --user who --item what --items {jsonl}"
    )
    assert result.exit_code != 0 and "items.jsonl, line 2" in " ".join(result.output.split())
    assert not (root / "broken").exists()


def test_import_will_not_overwrite_without_force(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "other.csv"
    log.write_text("user_id,item_id\na,1\na,2\nb,1\n")
    first = run_cli(root, f"data import twice --from {log}")
    assert first.exit_code == 0, first.output
    again = run_cli(root, f"data import twice --from {log}")
    assert again.exit_code != 0 and "--force" in again.output
    log.write_text("user_id,item_id\na,1\na,2\nb,1\nc,2\n")
    forced = run_cli(root, f"data import twice --from {log} --force")
    assert forced.exit_code == 0 and len(load_dataset("twice", root).interactions) == 4
    assert run_cli(root, f"data import ml-1m --from {log}").exit_code != 0  # registered name


@pytest.mark.parametrize("name", ["mine", "seqmine"])
@pytest.mark.parametrize("how", ["name", "path"])
def test_every_command_by_name_and_by_path(
    root: Path, tmp_path: Path, name: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "cache"))
    d = name if how == "name" else str(root / name)
    user, prefix, n_items = ("p3", "sku", N_ITEMS) if name == "mine" else ("s3", "x", 9)
    evaluated = run_cli(root, f"evaluate -d {d} -m pop -m itemknn")
    assert evaluated.exit_code == 0, evaluated.output
    assert "itemknn" in evaluated.output and "ndcg@10" in evaluated.output.lower()
    recommended = run_cli(root, f"recommend -d {d} -m itemknn --user {user} --k 3")
    assert recommended.exit_code == 0, recommended.output
    model_dir = tmp_path / "sasrec"
    trained = run_cli(
        root,
        f"train -d {d} -m sasrec -o {model_dir} --set hidden_size=8 --set max_len=8 "
        "--set train.epochs=2",
    )
    assert trained.exit_code == 0, trained.output
    loaded = run_cli(root, f"recommend -d {d} --model-dir {model_dir} --user {user} --k 3")
    assert loaded.exit_code == 0 and "sasrec recommendations" in loaded.output, loaded.output
    exported = tmp_path / "all.tsv"
    export = run_cli(root, f"recommend -d {d} --model-dir {model_dir} --all-users -o {exported}")
    assert export.exit_code == 0, export.output
    n_users = load_dataset(d, root).interactions.n_users
    assert len(exported.read_text().splitlines()) == n_users  # every evaluated user
    embedded = run_cli(root, f"embed -d {d}")
    assert embedded.exit_code == 0 and f"{n_items} item texts" in embedded.output, embedded.output
    if name == "mine":
        assert "{title}. {description}" in embedded.output  # the default text: every text field
    serve_and_ask(d, root, tmp_path, user, prefix)


def serve_and_ask(dataset: str, root: Path, tmp_path: Path, user: str, prefix: str) -> None:
    """What `lmrec serve -d DATASET` runs, on real HTTP."""
    from lmrec.service.api import create_app
    from lmrec.service.build import build_service
    from lmrec.service.store import sqlite_url
    from service_helpers import ThreadServer

    service = build_service(dataset, "itemknn", None, sqlite_url(tmp_path / "s.sqlite"), None, root)
    server = ThreadServer(create_app(service))
    try:
        answer = httpx.post(f"{server.url}/recommend", json={"user_id": user, "k": 4}, timeout=30)
        assert answer.status_code == 200, answer.text
        items = [r["item_id"] for r in answer.json()["items"]]
        assert len(items) == 4 and all(i.startswith(prefix) for i in items)
    finally:
        server.stop()
        service.close()


def test_candidate_protocol_and_two_stage_from_the_cli(root: Path, tmp_path: Path) -> None:
    cands = tmp_path / "cands.tsv"
    # p0's target is sku7 (its last item): listed once; p1's target sku8 missing; a duplicate
    cands.write_text("p0\tsku7 sku1 sku7 sku9\np1\tsku2 sku3\n")
    result = run_cli(
        root, f"evaluate -d mine -m pop -p candidates --candidates {cands} --seen mask"
    )
    assert result.exit_code == 0, result.output
    assert "candidate hit rate 0.5000" in result.output and "seen items masked" in result.output
    ensured = run_cli(
        root, f"evaluate -d mine -m pop -p candidates --candidates {cands} --ensure-target"
    )
    assert "candidate hit rate 1.0000" in ensured.output, ensured.output
    ignored = run_cli(root, f"evaluate -d mine -m pop --candidates {cands}")
    assert ignored.exit_code != 0 and "-p loo would ignore it" in ignored.output
    two = run_cli(root, "evaluate -d mine -m itemknn --retriever pop --depth 5")
    assert two.exit_code == 0 and "pop→itemknn@5" in two.output, two.output
