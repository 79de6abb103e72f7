"""The re-ranker's fusion with its retriever: weight 0 is the retriever exactly, a helpful LM gets
weight, a useless one is switched off, and the choice never scores below the retriever on the
cases it was chosen on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lmrec.llm.lora.fusion import Fusion, choose_fusion, retriever_part
from lmrec.metrics.ranking import ndcg_from_ranks


def _ranks(scores: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1, kind="stable")


def _case(n: int, depth: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    retriever = np.sort(rng.random((n, depth)), axis=1)[:, ::-1].astype(np.float32)
    letters = rng.integers(0, depth, n)
    return retriever, letters, rng.normal(size=(n, depth)).astype(np.float32)


def test_weight_zero_is_the_retrievers_order_and_one_the_lms() -> None:
    retriever, _, lm = _case(5, 6, 0)
    for kind in ("rank", "score"):
        fused = Fusion(kind, 0.0).fuse(lm, retriever)
        assert (_ranks(fused) == np.arange(6)[None, :]).all()
    assert (_ranks(Fusion("rank", 1.0).fuse(lm, retriever)) == _ranks(lm)).all()
    padded = lm.copy()
    padded[0, -2:] = -np.inf  # padding stays last whatever the weight
    fused = Fusion("score", 0.5).fuse(padded, retriever)
    assert np.isneginf(fused[0, -2:]).all() and np.isfinite(fused[0, :-2]).all()


def test_rank_part_follows_the_scores_not_the_columns() -> None:
    part = retriever_part("rank", np.array([[0.1, 0.9, 0.5]], dtype=np.float32))
    assert part[0].argsort().tolist() == [0, 2, 1]


def test_an_lm_that_knows_the_target_gets_weight_and_a_random_one_none() -> None:
    retriever, letters, noise = _case(400, 20, 1)
    oracle = noise.copy()
    oracle[np.arange(400), letters] += 4.0  # the LM puts the target near the top
    good = choose_fusion(oracle, retriever, letters, 1000)
    assert good.weight > 0.5 and good.fused_ndcg > good.retriever_ndcg + 0.1
    assert good.cases == 1000 and good.gain_se > 0 and good.best_weight == good.weight
    retriever_first = retriever.copy()
    retriever_first[np.arange(400), letters] += 1.0  # now the retriever knows it, the LM not
    bad = choose_fusion(noise, retriever_first, letters, 400)
    assert bad.weight <= 0.1 and bad.fused_ndcg >= bad.retriever_ndcg
    assert bad.lm_ndcg < bad.retriever_ndcg


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 30),
    st.integers(2, 26),
    st.integers(0, 10_000),
    st.integers(0, 50),
)
def test_the_chosen_fusion_never_loses_to_the_retriever_where_it_was_chosen(
    n: int, depth: int, seed: int, misses: int
) -> None:
    retriever, letters, lm = _case(n, depth, seed)
    chosen = choose_fusion(lm, retriever, letters, n + misses)
    assert chosen.fused_ndcg >= chosen.retriever_ndcg
    gain = chosen.fused_ndcg - chosen.retriever_ndcg
    assert chosen.best_gain >= gain - 1e-4 and (
        chosen.weight == 0 or chosen.weight == chosen.best_weight
    )
    target = np.arange(n), letters
    alone = ndcg_from_ranks(_ranks(retriever)[target], 10).sum() / (n + misses)
    assert abs(chosen.retriever_ndcg - alone) < 1e-4
    fused = chosen.fuse(lm, retriever)
    assert (
        abs(ndcg_from_ranks(_ranks(fused)[target], 10).sum() / (n + misses) - chosen.fused_ndcg)
        < 1e-4
    )
