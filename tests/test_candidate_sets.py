"""The general candidate protocol on hand-made files, and two-stage pipelines against hand sums."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.core.fitted import ModelContext
from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions, Vocabulary
from lmrec.data.errors import DataFormatError
from lmrec.metrics.evaluate import evaluate
from lmrec.models.classic.popularity import Popularity
from lmrec.models.registry import create_model
from lmrec.models.two_stage import TwoStage
from lmrec.protocols.base import EvalCases
from lmrec.protocols.candidates import CandidateFile, CandidateSet, candidate_hit_rate
from lmrec.protocols.leave_one_out import LeaveOneOut


def item(i: int) -> str:
    return f"i{i:02d}"


def popular_log() -> Interactions:
    """30 items; item k is used by 30 - k users among 30 'crowd' users (so i00 is the most
    popular); users a and b have short histories: a = i05, i06, then target i07; b = i10, i11, i12."""
    users: list[str] = []
    items: list[int] = []
    for k in range(30):
        for u in range(30 - k):
            users.append(f"c{u}")
            items.append(k)
    for name, seq in (("a", (5, 6, 7)), ("b", (10, 11, 12))):
        users += [name] * 3
        items += list(seq)
    user_vocab = Vocabulary.from_ids("user", users)
    return Interactions(
        user_vocab.lookup(users),
        np.array(items, dtype=np.int32),
        np.arange(len(users), dtype=np.float64),
        user_vocab,
        Vocabulary("item", tuple(item(i) for i in range(30))),
    )


def cases_for(data: Interactions, *users: str) -> EvalCases:
    test = LeaveOneOut().split(data).test
    wanted = set(data.user_vocab.lookup(list(users)).tolist())
    return test.select([u in wanted for u in test.users.tolist()])


def write_file(tmp_path: Path, lines: list[str]) -> CandidateFile:
    path = tmp_path / "cands.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return CandidateFile.read(path)


def ranks(data: Interactions, cases: EvalCases, mask: bool | None = None) -> np.ndarray:
    model = Popularity().fit(LeaveOneOut().split(data).train)
    return evaluate(model, cases, ks=(1, 10), exclude_history=mask).ranks


def test_a_missing_target_scores_zero_and_still_counts(tmp_path: Path) -> None:
    data = popular_log()
    # a: 21 candidates, none is a's target i07; b: its target i12 among three
    file = write_file(
        tmp_path,
        [
            "a\t" + " ".join(item(i) for i in range(8, 29)),
            "b\t" + " ".join(item(i) for i in (0, 12, 20)),
        ],
    )
    cases = CandidateSet(file).apply(cases_for(data, "a", "b"), data.user_vocab, data.item_vocab)
    assert cases.candidates is not None and cases.candidates.shape == (2, 21)
    assert (cases.candidates[1, 3:] == -1).all()  # b's short row is padded
    assert candidate_hit_rate(cases) == 0.5
    model = Popularity().fit(LeaveOneOut().split(data).train)
    result = evaluate(model, cases, ks=(1, 10))
    by_user = dict(zip(data.user_vocab.decode(cases.users), result.ranks.tolist(), strict=True))
    assert by_user["a"] == np.inf  # scores 0 ...
    assert by_user["b"] == 1.0  # i00 is more popular than i12; the padding never competes
    assert len(result.ranks) == 2  # ... and still counts
    assert result.value("hr@10") == 0.5


def test_duplicates_are_dropped_first_occurrence_kept_and_short_lists_kept(tmp_path: Path) -> None:
    data = popular_log()
    file = write_file(tmp_path, ["a\ti20 i07 i20 i03 i07", "b\ti12 i01"])
    cases = cases_for(data, "a", "b")
    got = CandidateSet(file, size=5).apply(cases, data.user_vocab, data.item_vocab)
    assert got.candidates is not None
    rows = {u: got.candidates[i] for i, u in enumerate(data.user_vocab.decode(got.users))}
    assert data.item_vocab.decode(rows["a"][rows["a"] >= 0]) == ["i20", "i07", "i03"]
    assert data.item_vocab.decode(rows["b"][rows["b"] >= 0]) == ["i12", "i01"]  # fewer than 5
    cut = CandidateSet(file, size=2).apply(cases, data.user_vocab, data.item_vocab)
    assert cut.candidates is not None and cut.candidates.shape == (2, 2)


def test_ensure_target_adds_a_missing_target_and_keeps_the_size(tmp_path: Path) -> None:
    data = popular_log()
    file = write_file(tmp_path, ["a\ti20 i21 i22", "b\ti12 i13 i14"])
    got = CandidateSet(file, size=3, ensure_target=True, seed=1).apply(
        cases_for(data, "a", "b"), data.user_vocab, data.item_vocab
    )
    assert got.candidates is not None
    rows = {u: set(got.candidates[i].tolist()) for i, u in enumerate(got.users.tolist())}
    a, b = data.user_vocab.lookup(["a", "b"]).tolist()
    assert rows[a] == {7, 20, 21}  # i22 gave its place to the target
    assert rows[b] == {12, 13, 14}
    assert candidate_hit_rate(got) == 1.0


def test_seen_items_compete_or_are_masked(tmp_path: Path) -> None:
    data = popular_log()
    # a's history holds i05 and i06, both more popular than the target i07
    file = write_file(tmp_path, ["a\ti05 i06 i07 i25"])
    cases = CandidateSet(file).apply(cases_for(data, "a"), data.user_vocab, data.item_vocab)
    assert ranks(data, cases, mask=False).tolist() == [2.0]  # compete: i05, i06 first
    assert ranks(data, cases, mask=True).tolist() == [0.0]  # masked: the target leads


def test_unknown_item_and_no_listed_user_are_clear_errors(tmp_path: Path) -> None:
    data = popular_log()
    cases = cases_for(data, "a")
    # the blank first line still counts: the error names the file's own line 2
    with pytest.raises(DataFormatError, match=r"line 2.*'zz' is not in the dataset"):
        CandidateSet(write_file(tmp_path, ["", "a\ti01 zz"])).apply(
            cases, data.user_vocab, data.item_vocab
        )
    with pytest.raises(DataFormatError, match="no user of the evaluated split"):
        CandidateSet(write_file(tmp_path, ["nobody\ti01"])).apply(
            cases, data.user_vocab, data.item_vocab
        )


def sessions(n_users: int = 60, n_items: int = 40, length: int = 10, seed: int = 0) -> Interactions:
    """Users walk a ring of items with random skips: sequential signal for SASRec."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        at = int(rng.integers(n_items))
        for _ in range(length):
            users.append(u)
            items.append(at)
            at = (at + int(rng.integers(1, 3))) % n_items
    return Interactions(
        np.array(users, dtype=np.int32),
        np.array(items, dtype=np.int32),
        np.arange(len(users), dtype=np.float64),
        Vocabulary("user", tuple(f"u{u}" for u in range(n_users))),
        Vocabulary("item", tuple(str(i) for i in range(n_items))),
    )


def test_sasrec_reranking_itemknn_top_50_matches_a_hand_computation() -> None:
    data = sessions(n_items=80)
    split = LeaveOneOut().split(data)
    sasrec = {"hidden_size": 16, "layers": 1, "max_len": 12, "train": {"epochs": 3}}
    config = {"reranker": "sasrec", "reranker_config": sasrec, "retriever": "itemknn-seq"}
    pipeline = create_model("two-stage", {**config, "depth": 50}, ModelContext())
    assert isinstance(pipeline, TwoStage)
    pipeline.fit(split.train, split.valid)
    cases = split.test
    result = evaluate(pipeline, cases, ks=(10, 50))

    batch = QueryBatch(cases.users, cases.histories)
    base = np.array(pipeline.retriever.score(batch), dtype=np.float64)
    rerank = np.array(pipeline.reranker.score(batch), dtype=np.float64)
    hand_ranks = []
    for row in range(len(cases)):
        seen = set(cases.histories[row].tolist())
        target = int(cases.targets[row])
        assert target not in seen  # no repeats on this ring walk: nothing to unmask
        order = [i for i in np.argsort(-base[row], kind="stable") if i not in seen]
        top = order[:50]
        top = [top[j] for j in np.argsort(-rerank[row, top], kind="stable")]
        hand_ranks.append((top + order[50:]).index(target))
    hand = np.array(hand_ranks)
    assert result.ranks.tolist() == hand.tolist()
    ndcg = np.where(hand < 10, 1.0 / np.log2(hand + 2.0), 0.0).mean()
    assert result.value("ndcg@10") == pytest.approx(ndcg)
    # re-ranking inside the top 50 cannot change which targets are in it
    alone = evaluate(pipeline.retriever, cases, ks=(50,))
    assert result.value("hr@50") == pytest.approx(alone.value("hr@50"))
    assert pipeline.run_label("two-stage") == "itemknn-seq→sasrec@50"


def test_nir_retriever_and_its_exact_recipe() -> None:
    data = sessions()
    split = LeaveOneOut().split(data)
    for recipe in ("lmrec", "nir"):
        pipeline = create_model(
            "two-stage",
            {"reranker": "pop", "retriever": "nir-user", "retriever_config": {"recipe": recipe}},
        )
        assert isinstance(pipeline, TwoStage)
        batch = QueryBatch(split.test.users, split.test.histories)
        cand = pipeline.fit(split.train).candidates(batch)
        assert cand.shape == (len(split.test), 40)  # depth 50 is cut to the 40 items there are
        for row in range(len(cand)):
            seen = set(split.test.histories[row].tolist())
            assert not set(cand[row, : 40 - len(seen)].tolist()) & seen  # unseen items first
    with pytest.raises(ValueError, match="unknown option"):
        bad = {"reranker": "pop", "retriever": "nir-user", "retriever_config": {"neighbours": 3}}
        create_model("two-stage", bad)


def test_a_candidate_file_that_is_not_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.tsv"
    path.write_bytes(b"a\ti01 i02\nb\ti03 caf\xe9\n")
    with pytest.raises(DataFormatError, match=r"latin1\.tsv, line 2, column 10: not valid UTF-8"):
        CandidateFile.read(path)
    with pytest.raises(DataFormatError, match="no such candidate file"):
        CandidateFile.read(tmp_path / "missing.tsv")
