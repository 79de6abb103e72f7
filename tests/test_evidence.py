"""Evidence from the model itself (occlusion, greedy counterfactual sets) on a log where the
answer is known: item X is bought with A and only with A, so A is why X is recommended."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

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
    model = fitted(tmp_path)
    explainer = toy_explainer(tmp_path)
    found = explainer.from_evidence(model, ["B", "C", "A"], "X", k=3)
    assert found.supporting == ("A",) and found.contributions[0] > 0
    assert found.text == '"Film X": because you watched "Film A" — Horror'
    nothing = explainer.from_evidence(model, ["B"], "X", k=3)
    assert nothing.supporting == () and "no item of your history" in nothing.text


def toy_explainer(tmp_path: Path) -> Any:
    from lmrec.data.containers import Dataset, Field, FieldType, ItemCatalog, Vocabulary
    from lmrec.llm.explain.explainer import Explainer

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
    return Explainer(Dataset("ml-toy", log(tmp_path), catalog))


@pytest.mark.parametrize(
    ("reply", "accepted", "reason"),
    [
        ('You watched "Film A", so "Film X" could be your next one.', True, None),
        ('You watched "Film A", so "Film X", another horror film, suits you.', True, None),
        ('I\'m glad you liked "Film A"! "Film X" is great.', False, "assistant talk"),
        ('Since you watched "Film A", why not "Film X"?', False, "assistant talk"),
        ('"Film X" is a must-see.', False, "dropped 'Film A'"),
        ('You watched "Film A" and "Film B", so "Film X".', False, "outside the evidence"),
        ('You watched "Film A", so "Film X", a comedy, suits you.', False, "claims 'Comedy'"),
        ('Rewrite: you watched "Film A", so "Film X".', False, "repeats the instruction"),
        ('You watched "Film X" and "Film A".', False, "already have the recommended item"),
        ('"Film X" suits you since you watched "Film A".', True, None),
        ("", False, "empty"),
        ('You watched "Film A", so "Film X".' + " Truly." * 60, False, "longer than"),
    ],
)
def test_a_rewrite_is_shown_only_when_it_keeps_to_the_evidence(
    tmp_path: Path, reply: str, accepted: bool, reason: str | None
) -> None:
    from lmrec.testing.scripted import FunctionBackend

    explainer = toy_explainer(tmp_path)
    found, shown = explainer.rewritten(
        fitted(tmp_path), ["B", "C", "A"], "X", FunctionBackend(lambda _: reply), k=3
    )
    assert shown.accepted is accepted, shown.reason
    if accepted:
        assert shown.text == reply.strip()
    else:
        assert reason is not None and reason in (shown.reason or "")
        assert shown.text == found.text  # the deterministic sentence, true by construction


def test_no_explanation_carries_assistant_talk_or_a_raw_kg_id(data_dir: Path) -> None:
    from lmrec.data.registry import load_dataset
    from lmrec.llm.explain.explainer import Explainer
    from lmrec.llm.explain.rewrite import ASSISTANT_TALK
    from lmrec.models.build import build_model

    ds = load_dataset("ml-100k", data_dir)
    model = build_model(ds, "itemknn-seq")
    explainer = Explainer(ds)
    sequences = ds.interactions.sequences()
    for row in range(0, 200, 10):
        history = list(ds.interactions.item_vocab.decode(sequences[row]))
        for item in model.recommend(Query(history=tuple(history), k=3)).items:
            text = explainer.from_evidence(model, history, item).text
            bare = re.sub(r'"[^"]*"', " ", text)  # titles may hold anything
            assert not ASSISTANT_TALK.search(bare) and not re.search(r"\bm\.[0-9a-z_]+\b", text)


def test_item_knn_evidence_is_its_neighbour_contributions(data_dir: Path) -> None:
    """For item-kNN (decay 1), removing a history item lowers the score by exactly its
    similarity to the recommended item; and occlusion equals re-scoring by hand."""
    import numpy as np

    from lmrec.data.registry import load_dataset
    from lmrec.models.build import build_model

    ds = load_dataset("ml-100k", data_dir)
    model = build_model(ds, "itemknn")
    assert isinstance(model, ItemKNN)
    vocab = ds.interactions.item_vocab
    history = list(vocab.decode(ds.interactions.sequences()[5]))
    item = model.recommend(Query(history=tuple(history), k=10)).items[0]
    evidence = occlusion(model, history, item, k=10)
    sim = model.similarity.tocsc()[:, vocab.index(item)].toarray().ravel()  # type: ignore[attr-defined]
    for h, drop in evidence.contributions:
        assert np.isclose(drop, sim[vocab.index(h)], atol=1e-5)
    gone = evidence.contributions[0][0]
    by_hand = model.recommend(Query(history=tuple(x for x in history if x != gone), k=1_682))
    whole = model.recommend(Query(history=tuple(history), k=1_682))
    before = dict(zip(whole.items, whole.scores.tolist(), strict=True))[item]
    after = dict(zip(by_hand.items, by_hand.scores.tolist(), strict=True)).get(item)
    assert after is not None and np.isclose(before - after, evidence.contributions[0][1], atol=1e-5)
    if evidence.counterfactual:
        assert remove(model, history, item, evidence.counterfactual) > 10


def test_a_title_may_be_written_with_its_article_in_front() -> None:
    from lmrec.llm.explain.rewrite import problem
    from lmrec.llm.explain.written import Grounding

    grounding = Grounding(["Crow, The", "Piano, The", "Heat"])
    titles = ["Crow, The", "Piano, The"]
    assert problem('You watched "The Piano", so "The Crow" is next.', titles, grounding) is None
    assert "dropped" in (problem('You watched "The Piano".', titles, grounding) or "")


def test_a_title_with_a_comma_cannot_hide_that_the_roles_are_swapped() -> None:
    from lmrec.llm.explain.rewrite import problem
    from lmrec.llm.explain.written import Grounding

    titles = ["Nightmare on Elm Street, A", "Candyman"]
    grounding = Grounding(titles)
    swapped = (
        'You watched "Candyman" and "Nightmare on Elm Street, A," so "Nightmare on Elm Street, '
        'A" could be your next one.'
    )  # seen in a real SmolLM2 rewrite: the comma inside the title split the clause
    assert "already have" in (problem(swapped, titles, grounding) or "")
    fine = 'You watched "Candyman", so "A Nightmare on Elm Street" could be your next one.'
    assert problem(fine, titles, grounding) is None


def test_a_format_label_is_read_past_and_the_rest_checked(tmp_path: Path) -> None:
    from lmrec.testing.scripted import FunctionBackend

    explainer = toy_explainer(tmp_path)
    reply = 'Reason: "Film X" could be your next one, since you watched "Film A".'
    _, shown = explainer.rewritten(
        fitted(tmp_path), ["B", "C", "A"], "X", FunctionBackend(lambda _: reply), k=3
    )
    assert shown.accepted and shown.text == reply.removeprefix("Reason: ")
    echo = 'Reason: "Film X": because you watched "Film A". Rewritten: "Film X".'
    _, again = explainer.rewritten(
        fitted(tmp_path), ["B", "C", "A"], "X", FunctionBackend(lambda _: echo), k=3
    )
    assert not again.accepted and "repeats the instruction" in (again.reason or "")
