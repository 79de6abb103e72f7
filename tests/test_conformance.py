"""The conformance suite: every registered recommender must pass all of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lmrec.core.fitted import ModelContext, NotFittedError
from lmrec.core.query import Query, QueryBatch
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Interactions
from lmrec.data.errors import UnknownIdError
from lmrec.models.registry import available_models, create_model
from text_helpers import TrigramEncoder, tiny_catalog

MODELS = available_models()
# trained models: tiny networks and few epochs (their accuracy is tested in test_sequential.py)
QUICK: dict[str, dict[str, object]] = {
    name: {"hidden_size": 8, "max_len": 8, "train": {"epochs": 3}}
    for name in ("sasrec", "gru4rec", "textseq", "hybrid")
}
QUICK["text-encoder"] = {
    "tuning": {
        "max_steps": 2,
        "batch_size": 4,
        "eval_every": 1,
        "valid_cases": 4,
        "valid_negatives": 4,
        "threads": 1,
    }
}
QUICK["ensemble"] = {"members": [{"model": "pop"}, {"model": "itemknn", "weight": 2.0}]}
QUICK["two-stage"] = {"reranker": "itemknn", "retriever": "pop", "depth": 3}


def _reverse_order(prompt: str) -> tuple[int, str, float]:
    """A scripted LLM that ranks the shown candidates last-to-first (by number)."""
    from lmrec.testing.scripted import candidates_in

    shown = candidates_in(prompt)
    return 200, "\n".join(f"[{len(shown) - i}] {t}" for i, t in enumerate(reversed(shown))), 0.0


@pytest.fixture(scope="module", autouse=True)
def llm_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The ``llm`` model talks to a scripted OpenAI-compatible server on loopback."""
    from lmrec.testing.scripted import ScriptedServer

    with ScriptedServer(_reverse_order).running() as server:
        cache = tmp_path_factory.mktemp("llm-cache")
        QUICK["llm"] = {"endpoint": server.url, "model": "scripted", "cache_dir": str(cache)}
        QUICK["llm"]["n_candidates"] = 4
        yield


@pytest.fixture(scope="module", autouse=True)
def lora_base(tiny_lm_dir: Path) -> None:
    """``llm-lora`` re-ranks with a tiny random Llama (its skill is tested in test_llm_lora.py)."""
    QUICK["llm-lora"] = {
        "base": str(tiny_lm_dir),
        "retriever": "pop",
        "depth": 5,
        "epochs": 1,
        "max_history": 3,
        "threads": 1,
    }


@pytest.fixture
def context(tmp_path: Path) -> ModelContext:
    return ModelContext(
        "tiny", tiny_catalog(), cache_dir=tmp_path / "cache", encoder=TrigramEncoder()
    )


@pytest.fixture(params=MODELS)
def fitted(
    request: pytest.FixtureRequest, tiny: Interactions, context: ModelContext
) -> Recommender:
    return create_model(request.param, QUICK.get(request.param), context).fit(tiny)


@pytest.mark.parametrize("name", MODELS)
def test_is_a_recommender_and_rejects_unknown_config(
    name: str, tiny: Interactions, context: ModelContext
) -> None:
    model = create_model(name, QUICK.get(name), context=context)
    with pytest.raises(ValueError, match="extra"):
        create_model(name, {"no_such_option": 1})
    with pytest.raises(NotFittedError):
        model.recommend(Query(user="u1"))
    assert isinstance(model.fit(tiny), Recommender)


def test_known_user(fitted: Recommender, tiny: Interactions) -> None:
    ranking = fitted.recommend(Query(user="u4", k=3))
    assert 1 <= len(ranking) <= 3
    assert not {"10", "20", "30"} & set(ranking.items)  # u4's history is excluded
    assert np.all(np.diff(ranking.scores) <= 0)  # best first
    assert set(ranking.items) <= set(tiny.item_vocab.ids)


def test_unknown_user_and_empty_history(fitted: Recommender) -> None:
    for query in (Query(user="nobody", k=4), Query(history=(), k=4)):
        ranking = fitted.recommend(query)
        assert len(ranking) == 4
        assert np.isfinite(ranking.scores).all()


def test_k_larger_than_catalogue(fitted: Recommender, tiny: Interactions) -> None:
    ranking = fitted.recommend(Query(user="u1", k=1000))
    assert len(ranking) == tiny.n_items - 4  # all items but u1's four
    assert len(set(ranking.items)) == len(ranking)


def test_exclusions_never_returned(fitted: Recommender) -> None:
    ranking = fitted.recommend(Query(history=("10",), k=10, exclude=frozenset({"20", "60"})))
    assert not {"10", "20", "60"} & set(ranking.items)
    with_history = fitted.recommend(Query(history=("10",), k=10, exclude_history=False))
    assert "10" in with_history.items


def test_unknown_history_item_is_a_clear_error(fitted: Recommender) -> None:
    with pytest.raises(UnknownIdError, match="unknown item id 'zzz'"):
        fitted.recommend(Query(history=("zzz",)))


def test_scores_shape_and_finite(fitted: Recommender, tiny: Interactions) -> None:
    seqs = tiny.sequences()
    batch = QueryBatch(np.arange(tiny.n_users, dtype=np.int32), seqs)
    scores = fitted.score(batch)
    assert scores.shape == (tiny.n_users, tiny.n_items)
    assert scores.dtype == np.float32 and np.isfinite(scores).all()


def test_fit_save_load_recommend_serve(
    fitted: Recommender, context: ModelContext, tiny: Interactions, tmp_path: Path
) -> None:
    """Every registered model: fitted, saved, loaded back through the registry by the folder
    alone, recommends exactly as before, and the service serves the loaded model with the same
    answers as the library."""
    from lmrec.data.containers import Dataset
    from lmrec.models.registry import load_model, save_model
    from lmrec.service.engine import RecommendService
    from lmrec.service.messages import RecommendQuery
    from lmrec.service.store import Store

    save_model(fitted, tmp_path / "model")
    loaded = load_model(tmp_path / "model", context)
    assert type(loaded) is type(fitted) and loaded.item_vocab.ids == fitted.item_vocab.ids
    queries = (Query(user="u2", k=5), Query(history=("30", "10"), k=5))
    for query in queries:
        a, b = fitted.recommend(query), loaded.recommend(query)
        assert a.items == b.items
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)
    dataset = Dataset("tiny", tiny, context.catalog)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.import_dataset(dataset)
    service = RecommendService(dataset, loaded, store, model_name=fitted.name)
    try:
        for query, asked in zip(
            queries,
            (RecommendQuery(user_id="u2", k=5), RecommendQuery(history=["30", "10"], k=5)),
            strict=True,
        ):
            served = service.recommend(asked)
            assert tuple(r.item_id for r in served.items) == loaded.recommend(query).items
    finally:
        service.close()


def test_query_validation() -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            Query(k=bad)  # type: ignore[arg-type]
