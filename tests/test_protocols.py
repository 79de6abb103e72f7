from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli, write
from lmrec.data.containers import Interactions, Vocabulary
from lmrec.data.errors import DataFormatError
from lmrec.protocols.candidates import CandidateFile, Candidates
from lmrec.protocols.leave_one_out import LeaveOneOut
from lmrec.protocols.temporal import Temporal


def ids(inter: Interactions, users: np.ndarray, items: np.ndarray) -> list[tuple[str, str]]:
    return list(zip(inter.user_vocab.decode(users), inter.item_vocab.decode(items), strict=True))


def test_leave_one_out_targets_and_histories(tiny: Interactions) -> None:
    split = LeaveOneOut().split(tiny)
    assert ids(tiny, split.test.users, split.test.targets) == [
        ("u1", "40"),
        ("u2", "10"),
        ("u3", "60"),
        ("u4", "30"),
    ]
    assert ids(tiny, split.valid.users, split.valid.targets) == [
        ("u1", "30"),
        ("u2", "50"),
        ("u3", "20"),
        ("u4", "20"),
    ]
    # u2's tie at t=1 keeps file order: 20 before 30. Test history includes the validation item.
    u2 = 1
    assert tiny.item_vocab.decode(split.test.histories[u2]) == ["20", "30", "50"]
    assert tiny.item_vocab.decode(split.valid.histories[u2]) == ["20", "30"]
    assert len(split.train) == 15 - 8
    train_pairs = set(ids(tiny, split.train.users, split.train.items))
    assert ("u2", "50") not in train_pairs and ("u2", "30") in train_pairs
    assert "future" in split.leakage


def test_leave_one_out_short_users(tmp_path: Path) -> None:
    from lmrec.data.loaders import load_interactions

    inter = load_interactions(
        write(
            tmp_path / "s.inter",
            "user_id:token\titem_id:token\na\t1\nb\t1\nb\t2\nc\t1\nc\t2\nc\t3\n",
        )
    )
    split = LeaveOneOut().split(inter)
    assert inter.user_vocab.decode(split.test.users) == ["b", "c"]
    assert inter.user_vocab.decode(split.valid.users) == ["c"]
    assert sorted(ids(inter, split.train.users, split.train.items)) == [
        ("a", "1"),
        ("b", "1"),
        ("c", "1"),
    ]


def test_temporal_cutoff(tiny: Interactions) -> None:
    split = Temporal(test_cutoff=3).split(tiny)
    assert float(split.train.timestamps.max()) < 3
    # first item at/after t=3 per user with a pre-cut-off history; u3 starts at t=5 (cold) → skipped
    assert ids(tiny, split.test.users, split.test.targets) == [
        ("u1", "30"),
        ("u2", "10"),
        ("u4", "30"),
    ]
    assert tiny.item_vocab.decode(split.test.histories[0]) == ["10", "20"]
    cold = Temporal(test_cutoff=3, include_cold_users=True).split(tiny)
    assert ("u3", "30") in ids(tiny, cold.test.users, cold.test.targets)
    assert len(cold.test.histories[2]) == 0
    with_valid = Temporal(test_cutoff=3, valid_cutoff=2).split(tiny)
    assert ids(tiny, with_valid.valid.users, with_valid.valid.targets) == [
        ("u1", "20"),
        ("u2", "50"),
        ("u4", "20"),
    ]
    with pytest.raises(ValueError, match="earlier"):
        Temporal(test_cutoff=2, valid_cutoff=3).split(tiny)


def test_candidate_file_recipe(tiny: Interactions, tmp_path: Path) -> None:
    split = LeaveOneOut().split(tiny)
    # u1's target (40) appears in the list and is removed; the first 2 others are kept.
    path = write(tmp_path / "c.random", "u1\t50 40 60 10\nu3\t10 50 20\nnobody\t10 20\n")
    cand = Candidates(n_negatives=2, seed=3, file=CandidateFile.read(path))
    cases = cand.apply(split.test, tiny.user_vocab, tiny.item_vocab)
    assert tiny.user_vocab.decode(cases.users) == ["u1", "u3"]  # only users in the file
    assert cases.candidates is not None
    assert sorted(tiny.item_vocab.decode(cases.candidates[0])) == ["40", "50", "60"]
    assert sorted(tiny.item_vocab.decode(cases.candidates[1])) == ["10", "50", "60"]
    again = cand.apply(split.test, tiny.user_vocab, tiny.item_vocab)
    np.testing.assert_array_equal(again.candidates, cases.candidates)  # seeded shuffle


def test_candidate_file_errors(tiny: Interactions, tmp_path: Path) -> None:
    split = LeaveOneOut().split(tiny)
    bad = write(tmp_path / "bad.random", "u1\t50 999\n")
    with pytest.raises(DataFormatError, match="line 1.*'999'"):
        Candidates(n_negatives=1, file=CandidateFile.read(bad)).apply(
            split.test, tiny.user_vocab, tiny.item_vocab
        )
    dup = write(tmp_path / "dup.random", "u1\t50\nu1\t60\n")
    with pytest.raises(DataFormatError, match="line 2.*listed twice"):
        CandidateFile.read(dup)


def test_sampled_candidates_exclude_history(tiny: Interactions) -> None:
    split = LeaveOneOut().split(tiny)
    cases = Candidates(n_negatives=2, seed=0).apply(split.test, tiny.user_vocab, tiny.item_vocab)
    assert cases.candidates is not None and cases.candidates.shape == (4, 3)
    for i in range(len(cases)):
        row = set(cases.candidates[i].tolist())
        assert int(cases.targets[i]) in row
        assert not (row - {int(cases.targets[i])}) & set(cases.histories[i].tolist())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 8), st.integers(0, 4)), min_size=1, max_size=60
    )
)
def test_leave_one_out_partitions_every_log(rows: list[tuple[int, int, int]]) -> None:
    users = [str(u) for u, _, _ in rows]
    items = [str(i) for _, i, _ in rows]
    uv, iv = Vocabulary.from_ids("user", users), Vocabulary.from_ids("item", items)
    inter = Interactions(uv.lookup(users), iv.lookup(items), [float(t) for *_, t in rows], uv, iv)
    split = LeaveOneOut().split(inter)
    assert len(split.train) + len(split.valid) + len(split.test) == len(inter)
    per_user: dict[int, list[tuple[int, int]]] = {}
    for n, (u, _item, t) in enumerate(rows):
        per_user.setdefault(uv.index(str(u)), []).append((t, n))
    for case in range(len(split.test)):
        u = int(split.test.users[case])
        ordered = sorted(per_user[u])  # stable: (time, file position)
        assert iv.ids[split.test.targets[case]] == items[ordered[-1][1]]
        assert len(split.test.histories[case]) == len(ordered) - 1


def test_temporal_protocol_from_cli(data_dir: Path) -> None:
    result = run_cli(data_dir, "evaluate -d ml-100k -m pop -p temporal --cutoff-quantile 0.8")
    assert result.exit_code == 0, result.output
    assert "80% timestamp quantile" in result.output
