"""Evidence from the model itself (occlusion, greedy counterfactual sets) on a log where the
answer is known: item X is bought with A and only with A, so A is why X is recommended."""

from __future__ import annotations

from pathlib import Path

from conftest import write
from lmrec.core.evidence import keep_only, occlusion, remove
from lmrec.core.query import Query
from lmrec.data.containers import Interactions
from lmrec.data.loaders import load_interactions
from lmrec.models.classic.itemknn import ItemKNN

# A with X (4 users); B with Y and C with Z (4 users each); the query user has A, B and C
ROWS = (
    [f"a{u}\tA\t1\na{u}\tX\t2\n" for u in range(4)]
    + [f"b{u}\tB\t1\nb{u}\tY\t2\nb{u}\tY2\t3\n" for u in range(4)]
    + [f"c{u}\tC\t1\nc{u}\tZ\t2\n" for u in range(4)]
)


def log(tmp_path: Path) -> Interactions:
    header = "user_id:token\titem_id:token\ttimestamp:float\n"
    return load_interactions(write(tmp_path / "e.inter", header + "".join(ROWS)))


def fitted(tmp_path: Path) -> ItemKNN:
    return ItemKNN().fit(log(tmp_path))


def test_occlusion_names_the_item_that_drives_the_score(tmp_path: Path) -> None:
    model = fitted(tmp_path)
    history = ["B", "C", "A"]
    ranking = model.recommend(Query(history=tuple(history), k=6))
    assert "X" in ranking.items
    evidence = occlusion(model, history, "X", k=3)
    assert evidence.contributions[0][0] == "A" and evidence.contributions[0][1] > 0
    assert all(c == 0 for i, c in evidence.contributions if i != "A")  # B, C share nothing with X
    assert evidence.counterfactual == ("A",)  # without A, X has no score: out of the top 3
    assert evidence.cited() == ("A",)
    assert remove(model, history, "X", ["A"]) > 3  # necessary
    assert keep_only(model, history, "X", ["A"]) == 1  # sufficient
    assert remove(model, history, "X", ["B"]) <= 3  # a random other item is not


def test_no_counterfactual_when_nothing_helps(tmp_path: Path) -> None:
    model = fitted(tmp_path)
    evidence = occlusion(model, ["B"], "X", k=3)
    assert evidence.counterfactual == () and evidence.cited() == ()


def test_the_sentence_names_the_evidence_and_only_shared_attributes(tmp_path: Path) -> None:
    from lmrec.data.containers import Dataset, Field, FieldType, ItemCatalog, Vocabulary
    from lmrec.llm.explain.explainer import Explainer

    model = fitted(tmp_path)
    items = ("A", "B", "C", "X", "Y", "Y2", "Z")
    genres = (("Horror",), ("Comedy",), ("Drama",), ("Horror", "Space"), (), (), ())
    catalog = ItemCatalog(
        Vocabulary("item", items),
        (
            Field("title", FieldType.TOKEN, tuple(f"Film {i}" for i in items)),
            Field("genre", FieldType.TOKEN_SEQ, genres),
        ),
        title_field="title",
    )
    ds = Dataset("ml-toy", log(tmp_path), catalog)
    found = Explainer(ds).from_evidence(model, ["B", "C", "A"], "X", k=3)
    assert found.supporting == ("A",) and found.contributions[0] > 0
    assert found.text == '"Film X": because you watched "Film A" — Horror'
    nothing = Explainer(ds).from_evidence(model, ["B"], "X", k=3)
    assert nothing.supporting == () and "no item of your history" in nothing.text
