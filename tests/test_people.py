"""The same person across domains: linked users of a joint dataset, merged histories, queries
restricted to one domain, cross-domain explanations, the service and ``lmrec recommend``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import run_cli, write
from lmrec.core.fitted import ModelContext
from lmrec.core.query import Query
from lmrec.data.containers import Dataset
from lmrec.data.errors import DataError
from lmrec.data.people import People, domain_of, merge_histories
from lmrec.data.registry import load_dataset
from lmrec.llm.explain.explainer import Explainer, ItemVectors
from lmrec.models.zeroshot import ZeroShotConfig, ZeroShotTextRecommender
from lmrec.service.api import create_app
from lmrec.service.engine import RecommendService
from lmrec.service.store import Store
from service_helpers import ThreadServer
from text_helpers import TrigramEncoder

GAMES = {  # user: items, oldest first
    "1": ["g1", "g2", "g3"],
    "2": ["g2", "g4", "g5"],
    "3": ["g1", "g5", "g6"],
}
TOOLS = {"7": ["t1", "t2"], "8": ["t3", "t4", "t5"], "9": ["t2", "t6"]}
TITLES = {
    "g1": "Space Racer racing game",
    "g2": "Dungeon Quest role playing",
    "g3": "Soldering Simulator",
    "g4": "Puzzle Box",
    "g5": "Farm Life",
    "g6": "Racing Wheel",
    "t1": "Soldering iron station",
    "t2": "Solder wire spool",
    "t3": "Digital caliper",
    "t4": "Racing wheel bearing grease",
    "t5": "Safety goggles",
    "t6": "Helping hands magnifier",
}
REVIEWERS = {"shop-games": {"1": "RA", "2": "RB"}, "shop-tools": {"7": "RA", "9": "RC"}}


def write_domain(root: Path, name: str, users: dict[str, list[str]]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    rows = [f"{u}\t{i}\t{t}" for u, items in users.items() for t, i in enumerate(items)]
    write(
        folder / f"{name}.inter",
        "user_id:token\titem_id:token\ttimestamp:float\n" + "\n".join(rows),
    )
    items = sorted({i for seq in users.values() for i in seq})
    lines = [f"{i}\t{TITLES[i]}" for i in items]
    write(folder / f"{name}.item", "item_id:token\ttitle:token_seq\n" + "\n".join(lines))
    people = [f"{u}\t{r}" for u, r in REVIEWERS[name].items()]
    write(folder / f"{name}.user", "user_id:token\treviewer_id:token\n" + "\n".join(people))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("domains")
    write_domain(root, "shop-games", GAMES)
    write_domain(root, "shop-tools", TOOLS)
    return root


@pytest.fixture(scope="module")
def joint(data_dir: Path) -> Dataset:
    return load_dataset("shop-games+shop-tools", data_dir, download=False)


@pytest.fixture(scope="module")
def model(joint: Dataset, tmp_path_factory: pytest.TempPathFactory) -> ZeroShotTextRecommender:
    context = ModelContext(
        joint.name, joint.catalog, cache_dir=tmp_path_factory.mktemp("c"), encoder=TrigramEncoder()
    )
    return ZeroShotTextRecommender(ZeroShotConfig(), context).fit(joint.interactions)


def test_joint_users_link_one_person_across_domains(joint: Dataset) -> None:
    assert joint.users is not None and joint.users.field_names == ("reviewer_id",)
    people = People.of(joint)
    assert people.linked("shop-tools/7") == ("shop-games/1", "shop-tools/7")
    assert people.linked("shop-games/3") == ("shop-games/3",)  # no reviewer id: alone
    assert people.across("shop-games", "shop-tools") == [("shop-games/1", "shop-tools/7")]
    # the other domain first, the domain recommended for last (its items count as the latest)
    merged = people.merged_history(joint, "shop-tools/7")
    assert merged == (
        "shop-games/g1",
        "shop-games/g2",
        "shop-games/g3",
        "shop-tools/t1",
        "shop-tools/t2",
    )
    assert people.merged_history(joint, "shop-tools/7", "shop-games")[:2] == (
        "shop-tools/t1",
        "shop-tools/t2",
    )
    assert people.merged_history(joint, "shop-tools/9") == ("shop-tools/t2", "shop-tools/t6")
    with pytest.raises(DataError, match="unknown user 'shop-tools/99'"):
        people.merged_history(joint, "shop-tools/99")


def test_people_need_a_link_field_and_ids_need_a_domain(data_dir: Path) -> None:
    single = load_dataset("shop-games", data_dir, download=False)
    no_link = Dataset("x", single.interactions, single.catalog)
    with pytest.raises(DataError, match="no user field 'reviewer_id'"):
        People.of(no_link)
    assert domain_of("shop-games/1") == "shop-games"
    with pytest.raises(DataError, match="not a joint id"):
        domain_of("1")


def test_query_across_domains_recommends_inside_one(model: ZeroShotTextRecommender) -> None:
    query = Query.across({"shop-games": ["g3", "g6"]}, "shop-tools", k=3)
    assert query.history == ("shop-games/g3", "shop-games/g6") and query.domain == "shop-tools"
    assert merge_histories({"b": ["2"], "a": ["1"]}, "b") == ("a/1", "b/2")
    ranking = model.recommend(query)
    assert len(ranking) == 3 and all(i.startswith("shop-tools/") for i in ranking.items)
    # text carries over: soldering and racing games lead to the soldering and racing tools
    assert set(ranking.items[:2]) <= {"shop-tools/t1", "shop-tools/t2", "shop-tools/t4"}
    unrestricted = model.recommend(Query(history=query.history, k=12))
    assert any(i.startswith("shop-games/") for i in unrestricted.items)
    with pytest.raises(DataError, match="no domain 'shop-pets'.*shop-games, shop-tools"):
        model.recommend(Query(history=query.history, domain="shop-pets"))


def test_cross_domain_explanation_names_the_other_domains_items(
    joint: Dataset, model: ZeroShotTextRecommender
) -> None:
    explainer = Explainer(joint, ItemVectors(model.item_vocab.ids, model.item_embeddings))
    history = ["shop-games/g4", "shop-games/g3", "shop-tools/t5"]
    found = explainer.explain(history, "shop-tools/t1")
    assert found.supporting[0] == "shop-games/g3" and found.similarity[0] > 0
    assert '"Soldering Simulator" (shop-games)' in found.text  # other domain: named as such
    assert '"Safety goggles" (' not in found.text  # own domain: no tag
    assert (
        Explainer(joint).explain(history, "shop-tools/t1").supporting == ()
    )  # no text, no support


def test_an_item_with_no_text_similarity_is_no_reason() -> None:
    import numpy as np

    vectors = ItemVectors(["x", "a", "b", "c"], np.array([[1, 0], [0.9, 0.1], [0.1, 1], [0, 1]]))
    found = vectors.closest("x", ["a", "b", "c"], 3)
    assert [item for item, _ in found] == ["a"]  # b (cosine 0.10) and c (0.00) are not reasons


@pytest.fixture(scope="module")
def api(
    joint: Dataset, model: ZeroShotTextRecommender, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('s') / 'store.sqlite'}")
    store.import_dataset(joint)
    service = RecommendService(joint, model, store, model_name="zeroshot")
    server = ThreadServer(create_app(service))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
    server.stop()
    service.close()


def test_service_takes_histories_of_several_domains(api: httpx.Client) -> None:
    body = {"histories": {"shop-games": ["g3", "g6"]}, "domain": "shop-tools", "k": 3}
    answer = api.post("/recommend", json={**body, "explain": True})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert len(items) == 3 and all(r["item_id"].startswith("shop-tools/") for r in items)
    assert answer.json()["history_length"] == 2
    assert "(shop-games)" in items[0]["explanation"]
    for rank, r in enumerate(items, start=1):  # ranked among shop-tools' items, as recommended
        assert r["evidence"]["rank"] == rank
        assert any(c.startswith("shop-games/") for c in r["evidence"]["cited"])
    stored = api.post("/recommend", json={"user_id": "shop-tools/7", "domain": "shop-games"})
    assert stored.status_code == 200
    assert all(r["item_id"].startswith("shop-games/") for r in stored.json()["items"])
    for bad, field in (
        ({"histories": body["histories"]}, "domain"),
        ({**body, "history": ["shop-games/g1"]}, "histories"),
        ({**body, "domain": "shop-pets"}, "domain"),
    ):
        refused = api.post("/recommend", json=bad)
        assert refused.status_code == 422, refused.text
        assert field in refused.text


def test_cli_recommends_from_the_merged_history_and_explains(
    data_dir: Path, tmp_path: Path
) -> None:
    import json

    out = tmp_path / "r.json"
    result = run_cli(
        data_dir,
        "recommend",
        "-d",
        "shop-games+shop-tools",
        "-m",
        "zeroshot",
        "--user",
        "shop-tools/7",
        "--domain",
        "shop-tools",
        "--k",
        "3",
        "--explain",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["domain"] == "shop-tools" and len(saved["items"]) == 3
    for rank, row in enumerate(saved["items"], start=1):
        evidence = row["explanation"]["evidence"]
        shown = " ".join(result.output.split())
        assert evidence["rank"] == rank and row["explanation"]["text"] in shown
        assert row["explanation"]["supporting"] == evidence["cited"]
    assert "merged with shop-games/1" in result.output and "of 5 items" in result.output
    assert (
        "in shop-tools" in result.output
        and "shop-games/g" not in result.output.split("recommendations")[1]
    )
    assert "(shop-games)" in result.output  # an explanation names a game
    wrong = run_cli(data_dir, "recommend", "-d", "shop-games", "--user", "1", "--domain", "x")
    assert wrong.exit_code != 0 and "joint dataset" in wrong.output
