"""New items: the catalogue is the item universe; text models score items nobody has touched,
ID-only models say they cannot and rank them last; the cold-items protocol and the slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmrec.core.coverage import place_unscorable, unscorable_count
from lmrec.core.fitted import ModelContext
from lmrec.core.query import Query
from lmrec.data.containers import Dataset, Field, FieldType, Interactions, ItemCatalog, Vocabulary
from lmrec.data.universe import with_catalogue_items
from lmrec.metrics.slices import HISTORY, NEWNESS, POPULARITY, cells, slice_report
from lmrec.models.registry import create_model
from lmrec.protocols.cold_items import ColdItems
from text_helpers import TrigramEncoder

NEW = "70"


def catalogue() -> ItemCatalog:
    ids = ("10", "20", "30", "40", "50", "60", NEW)
    titles = (
        "Star Wars",
        "Star Trek",
        "Love Actually",
        "Notting Hill",
        "Alien",
        "Aliens",
        "Star Wars Episode I",
    )
    return ItemCatalog(
        Vocabulary("item", ids), (Field("title", FieldType.TOKEN, titles),), title_field="title"
    )


@pytest.fixture
def wide(tiny: Interactions) -> Dataset:
    return with_catalogue_items(Dataset("tiny", tiny, catalog=catalogue()))


def test_the_catalogue_widens_the_item_universe(tiny: Interactions, wide: Dataset) -> None:
    inter = wide.interactions
    assert inter.item_vocab.ids == ("10", "20", "30", "40", "50", "60", NEW)
    # the same rows with the same original ids, only re-indexed
    assert inter.item_vocab.decode(inter.items) == tiny.item_vocab.decode(tiny.items)
    assert inter.item_counts()[inter.item_vocab.index(NEW)] == 0
    assert "1 catalogue items without interactions" in wide.prep
    assert with_catalogue_items(Dataset("same", tiny)).interactions is tiny


@pytest.mark.parametrize("name", ["zeroshot", "textseq", "hybrid"])
def test_a_text_model_recommends_an_item_nobody_touched(
    name: str, wide: Dataset, tmp_path: Path
) -> None:
    config = {"hidden_size": 8, "max_len": 8, "train": {"epochs": 2}} if name != "zeroshot" else {}
    context = ModelContext("tiny", wide.catalog, tmp_path / "cache", encoder=TrigramEncoder())
    model = create_model(name, config, context).fit(wide.interactions)
    assert unscorable_count(model) == 0
    ranking = model.recommend(Query(history=("10",), k=10))
    assert NEW in ranking.items
    if name == "zeroshot":  # "Star Wars Episode I" is the nearest text to "Star Wars"
        assert ranking.items[0] == NEW


@pytest.mark.parametrize("name", ["pop", "itemknn-seq", "als", "sasrec"])
def test_an_id_model_ranks_what_it_cannot_score_last(name: str, wide: Dataset) -> None:
    config = {"hidden_size": 8, "max_len": 8, "train": {"epochs": 2}} if name == "sasrec" else {}
    model = create_model(name, config, ModelContext("tiny", wide.catalog)).fit(wide.interactions)
    assert unscorable_count(model) == 1
    ranking = model.recommend(Query(history=("10",), k=100))
    assert ranking.items[-1] == NEW  # after every scored item, never dropped
    assert len(ranking) == 6 and np.all(np.diff(ranking.scores) <= 0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=2, max_size=12).flatmap(
        lambda xs: st.tuples(
            st.just(xs), st.lists(st.booleans(), min_size=len(xs), max_size=len(xs))
        )
    )
)
def test_unscorable_items_always_rank_below_every_scored_item(
    case: tuple[list[float], list[bool]],
) -> None:
    values, flags = case
    scores = np.array([values], dtype=np.float32)
    scorable = np.array(flags, dtype=bool)
    place_unscorable(scores, scorable)
    if scorable.any() and (~scorable).any():
        assert scores[0, ~scorable].max() < scores[0, scorable].min()
    assert np.isfinite(scores).all()


def test_cold_items_removes_every_interaction_of_a_held_out_item(data_dir: Path) -> None:
    from lmrec.data.registry import load_dataset

    data = load_dataset("ml-100k", data_dir, download=False).interactions
    protocol = ColdItems(share=0.1, seed=3)
    split = protocol.split(data)
    from lmrec.protocols.leave_one_out import LeaveOneOut

    held = protocol.held_out(LeaveOneOut().split(data).test.targets, data.n_items)
    raw_rows = np.flatnonzero(held[data.items])  # in the raw log
    assert len(raw_rows) > 100 and held.sum() > 10
    assert not held[split.train.items].any()
    assert not held[split.valid.targets].any() and not held[split.valid.histories.items].any()
    assert not held[split.test.histories.items].any()
    new_cases = held[split.test.targets]
    assert new_cases.any() and (~new_cases).any()
    assert (split.train.item_counts()[split.test.targets[new_cases]] == 0).all()
    # every held-out item's test cases are kept: as many as in plain leave-one-out
    loo = LeaveOneOut().split(data).test
    assert new_cases.sum() == held[loo.targets].sum()


def test_slices_add_up_to_the_whole() -> None:
    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 40, 500).astype(np.float64)
    counts = rng.integers(0, 300, 500)
    lengths = rng.integers(0, 80, 500)
    report = slice_report(ranks, counts, lengths, ("popularity", "history"))
    for name in ("newness", "popularity", "history"):
        rows = report[name]
        assert sum(r["cases"] for r in rows) == 500
        total = sum(r["ndcg@10"] * r["cases"] for r in rows) / 500
        whole = cells(ranks, np.zeros(500, np.int64), (("all", 0, None),))[0].ndcg
        assert total == pytest.approx(whole)
    assert next(c.label for c in cells(ranks, counts, POPULARITY)) == "0 (new)"
    assert len(HISTORY) == 6 and len(NEWNESS) == 2


def shop(root: Path) -> Path:
    """A folder of atomic files: 12 users over 8 items, and two catalogue rows nobody rated."""
    folder = root / "coldshop"
    folder.mkdir(parents=True)
    rows = [f"u{u}\t{1 + (u + t) % 8}\t{t}" for u in range(12) for t in range(5)]
    (folder / "coldshop.inter").write_text(
        "user_id:token\titem_id:token\ttimestamp:float\n" + "\n".join(rows) + "\n"
    )
    titles = [
        "Star Wars",
        "The Empire Strikes Back",
        "Toy Story",
        "A Bug's Life",
        "Titanic",
        "Notting Hill",
        "Alien",
        "Heat",
    ]
    items = [f"{i + 1}\t{t}" for i, t in enumerate(titles)]
    items += ["9001\tStar Wars: Episode I - The Phantom Menace", "9002\tToy Story 2"]
    (folder / "coldshop.item").write_text(
        "item_id:token\ttitle:token_seq\n" + "\n".join(items) + "\n"
    )
    return folder


def test_new_catalogue_rows_through_recommend_evaluate_and_the_service(tmp_path: Path) -> None:
    import json

    from conftest import run_cli
    from lmrec.data.registry import load_dataset
    from lmrec.models.build import build_model
    from lmrec.service.engine import RecommendService
    from lmrec.service.messages import RecommendQuery
    from lmrec.service.store import Store

    shop(tmp_path)
    text = run_cli(
        tmp_path, "recommend -d coldshop -m zeroshot --k 3", "--text", "Star Wars: Episode I"
    )
    assert text.exit_code == 0, text.output
    assert "9001" in text.output
    by_id = run_cli(tmp_path, "recommend -d coldshop -m pop --user u1 --k 3")
    assert by_id.exit_code == 0, by_id.output
    assert "pop cannot score 2 of 10 catalogue items" in by_id.output
    out = tmp_path / "eval.json"
    evaluated = run_cli(tmp_path, f"evaluate -d coldshop -m pop -m zeroshot -o {out}")
    assert evaluated.exit_code == 0, evaluated.output
    runs = {r["provenance"]["model"]: r["provenance"] for r in json.loads(out.read_text())["runs"]}
    assert runs["pop"]["unscorable_items"] == 2 and runs["pop"]["items"] == 10
    assert runs["zeroshot"]["unscorable_items"] == 0

    dataset = load_dataset("coldshop", tmp_path, download=False)
    model = build_model(dataset, "zeroshot", {}, None)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.import_dataset(dataset)
    service = RecommendService(dataset, model, store, model_name="zeroshot")
    try:
        served = service.recommend(RecommendQuery(history=["1", "2"], k=3))
        assert "9001" in [r.item_id for r in served.items]
        # a history of new items only: a new user who clicked a new item
        fresh = service.recommend(RecommendQuery(history=["9002"], k=3))
        assert "3" in [r.item_id for r in fresh.items]  # Toy Story, by its text
    finally:
        service.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("-p cold-items --cold-share 1.5", "share"),
        ("-p cold-items --cold-share 0", "share"),
        ("-p loo --cold-share 0.2", "--cold-share is read by -p cold-items"),
        ("-p loo --history-limit 0", "--history-limit"),
        ("--by fame", "unknown breakdown 'fame'"),
        ("-p loo --cutoff-quantile 0.5", "--cutoff-quantile is read by -p temporal"),
        ("-p temporal --candidates x.tsv", "--candidates is read by -p llmrank-20 or -p"),
    ],
)
def test_bad_cold_start_options_are_clear_errors(tmp_path: Path, extra: str, message: str) -> None:
    from conftest import run_cli

    shop(tmp_path)
    result = run_cli(tmp_path, f"evaluate -d coldshop -m pop {extra}")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_run_spec_files_check_the_new_options(tmp_path: Path) -> None:
    from lmrec.errors import ConfigError
    from lmrec.experiment.spec import load_run_spec

    good = tmp_path / "good.yaml"
    good.write_text(
        "dataset: ml-100k\nmodel: pop\nby: [popularity, history]\n"
        "protocol: {name: cold-items, share: 0.2, history_limit: 2}\n"
    )
    spec = load_run_spec(good)
    assert spec.by == ("popularity", "history")
    assert spec.protocol.history_limit == 2
    for body, field in (
        ("protocol: {name: cold-items, share: 2}", "share"),
        ("protocol: {name: loo, share: 0.2}", "share"),
        ("by: [fame]", "by"),
        ("protocol: {name: temporal, history_limit: -1}", "history_limit"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(f"dataset: ml-100k\nmodel: pop\n{body}\n")
        with pytest.raises(ConfigError, match=field):
            load_run_spec(bad)


def test_history_limit_cuts_every_evaluated_history(data_dir: Path) -> None:
    from lmrec.data.registry import load_dataset
    from lmrec.experiment.run import prepare
    from lmrec.protocols.named import named_protocol

    ds = load_dataset("ml-100k", data_dir, download=False)
    full = prepare(ds, named_protocol("loo"))
    thin = prepare(ds, named_protocol("loo", history_limit=2))
    assert thin.cases.histories.lengths.max() == 2
    assert np.array_equal(thin.cases.targets, full.cases.targets)
    last = [full.cases.histories[i][-2:].tolist() for i in range(5)]
    assert [thin.cases.histories[i].tolist() for i in range(5)] == last
    assert "histories cut to the last 2 item(s)" in thin.protocol.description()


def test_pipelines_score_what_their_members_can(wide: Dataset, tmp_path: Path) -> None:
    context = ModelContext("tiny", wide.catalog, tmp_path / "cache", encoder=TrigramEncoder())
    ensemble = create_model(
        "ensemble", {"members": [{"model": "pop"}, {"model": "zeroshot"}]}, context
    ).fit(wide.interactions)
    assert unscorable_count(ensemble) == 0  # zeroshot scores the new item
    assert NEW in ensemble.recommend(Query(history=("10",), k=3)).items
    text_then_ids = {"retriever": "zeroshot", "reranker": "pop", "depth": 3}
    two_stage = create_model("two-stage", text_then_ids, context).fit(wide.interactions)
    assert unscorable_count(two_stage) == 1  # pop cannot re-rank it
    ids_then_text = {"retriever": "pop", "reranker": "zeroshot", "depth": 3}
    retrieved = create_model("two-stage", ids_then_text, context).fit(wide.interactions)
    assert unscorable_count(retrieved) == 1  # pop never retrieves it
    assert retrieved.recommend(Query(history=("10",), k=10)).items[-1] == NEW


def test_command_line_protocol_options_apply_on_top_of_a_config_file(tmp_path: Path) -> None:
    from conftest import run_cli

    shop(tmp_path)
    spec = tmp_path / "run.yaml"
    spec.write_text("model: pop\nprotocol: {name: cold-items, share: 0.2}\n")
    out = tmp_path / "r.json"
    result = run_cli(tmp_path, f"evaluate -d coldshop --config {spec} --history-limit 1 -o {out}")
    assert result.exit_code == 0, result.output
    import json

    protocol = json.loads(out.read_text())["provenance"]["run_spec"]["protocol"]
    assert protocol["name"] == "cold-items" and protocol["share"] == 0.2
    assert protocol["history_limit"] == 1
    trained = run_cli(
        tmp_path, f"train -d coldshop -m pop -p cold-items --cold-share 0.3 -o {tmp_path / 'm'}"
    )
    assert trained.exit_code == 0, trained.output
    assert "30% of the test targets" in trained.output
