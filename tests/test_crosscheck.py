"""Exact cross-checks on the real data against independent computations written here."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare, run_model
from lmrec.experiment.export import write_rankings


def independent_popularity_loo(inter_path: Path, k: int = 10) -> dict[str, float]:
    """Plain-Python leave-one-out popularity: no lmrec code involved."""
    rows: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    with inter_path.open(encoding="utf-8") as f:
        next(f)
        for n, line in enumerate(f):
            user, item, _rating, ts = line.rstrip("\n").split("\t")
            rows[user].append((float(ts), n, int(item)))
    counts: Counter[int] = Counter()
    for seq in rows.values():
        seq.sort()
        counts.update(item for _, _, item in seq[:-2])
    items = sorted({item for seq in rows.values() for _, _, item in seq})
    order = sorted(items, key=lambda i: (-counts[i], i))
    hr = nd = rr = 0.0
    for seq in rows.values():
        seen = {item for _, _, item in seq[:-1]}
        target = seq[-1][2]
        top = [i for i in order if i not in seen][:k]
        if target in top:
            r = top.index(target)
            hr, nd, rr = hr + 1, nd + 1 / math.log2(r + 2), rr + 1 / (r + 1)
    n = len(rows)
    return {"hr@10": hr / n, "ndcg@10": nd / n, "mrr@10": rr / n}


@pytest.mark.parametrize("name", ["ml-100k", "ml-1m"])
def test_popularity_matches_independent_computation(name: str, data_dir: Path) -> None:
    expected = independent_popularity_loo(data_dir / name / f"{name}.inter")
    prepared = prepare(load_dataset(name, data_dir, download=False), named_protocol("loo"))
    _, result = run_model(prepared, "pop", ks=(10,))
    got = result.evaluation.as_dict()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    published = {"ml-100k": (0.0859, 0.0449, 0.0326), "ml-1m": (0.0369, 0.0180, None)}[name]
    assert round(got["hr@10"], 4) == published[0]
    assert round(got["ndcg@10"], 4) == published[1]
    if published[2] is not None:
        assert round(got["mrr@10"], 4) == published[2]


def test_batch_export_scores_the_same(data_dir: Path, tmp_path: Path) -> None:
    dataset = load_dataset("ml-100k", data_dir, download=False)
    prepared = prepare(dataset, named_protocol("loo"))
    model, result = run_model(prepared, "itemknn-seq", ks=(10,))
    out = tmp_path / "rankings.tsv"
    n = write_rankings(
        out,
        prepared.cases,
        result.evaluation.top,
        model.item_vocab,
        prepared.split.train.user_vocab,
    )
    assert n == 943
    # independent scorer: read the TSV and the raw file
    rows: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
    with (data_dir / "ml-100k" / "ml-100k.inter").open(encoding="utf-8") as f:
        next(f)
        for i, line in enumerate(f):
            user, item, _r, ts = line.rstrip("\n").split("\t")
            rows[user].append((float(ts), i, item))
    total = 0.0
    for line in out.read_text(encoding="utf-8").splitlines():
        user, ranked = line.split("\t")
        items = ranked.split()
        seq = sorted(rows[user])
        assert len(items) == 10 and not {it for _, _, it in seq[:-1]} & set(items)
        target = seq[-1][2]
        total += 1 / math.log2(items.index(target) + 2) if target in items else 0.0
    assert total / n == pytest.approx(result.evaluation.value("ndcg@10"), abs=1e-12)


@pytest.mark.parametrize(
    ("name", "file", "pop", "tol"),
    [
        ("ml-1m", "ml-1m-full.random", 52.24, 0.3),
        ("amazon-games", "games-6k.random", 52.81, 0.3),
    ],
)
def test_llmrank_protocol(
    name: str, file: str, pop: float, tol: float, data_dir: Path, llmrank_dir: Path
) -> None:
    dataset = load_dataset(name, data_dir, download=False)
    prepared = prepare(dataset, named_protocol("llmrank-20", file=llmrank_dir / file, seed=0))
    assert len(prepared.cases) == {"ml-1m": 6040, "amazon-games": 6000}[name]
    assert prepared.cases.candidates is not None and prepared.cases.candidates.shape[1] == 20
    _, popularity = run_model(prepared, "pop", ks=(10,))
    assert abs(100 * popularity.evaluation.value("ndcg@10") - pop) <= tol
    _, random = run_model(prepared, "random", ks=(10,))
    assert abs(100 * random.evaluation.value("ndcg@10") - 22.72) <= 1.0
