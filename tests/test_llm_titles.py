"""How prompts write items: natural titles and title formats over the catalogue's fields."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmrec.data.containers import Field, FieldType, Interactions, ItemCatalog, Vocabulary
from lmrec.errors import ConfigError
from lmrec.llm.ranking.titles import natural_title, title_function


def catalog() -> ItemCatalog:
    return ItemCatalog(
        Vocabulary("item", ("1", "2", "3")),
        (
            Field(
                "movie_title",
                FieldType.TOKEN_SEQ,
                (("Usual", "Suspects,", "The"), ("Toy", "Story"), ("Vie", "en", "Rose,", "La")),
            ),
            Field("release_year", FieldType.TOKEN, ("1995", "1995", "2007")),
            Field("genre", FieldType.TOKEN_SEQ, (("Crime", "Thriller"), ("Comedy",), ())),
        ),
        title_field="movie_title",
    )


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Usual Suspects, The", "The Usual Suspects"),
        ("Seventh Seal, The (Sjunde inseglet, Det)", "The Seventh Seal (Sjunde inseglet, Det)"),
        ("Vie en Rose, La", "La Vie en Rose"),
        ("Few Good Men, A", "A Few Good Men"),
        ("Toy Story", "Toy Story"),
        ("Crying Game, The Special Edition", "Crying Game, The Special Edition"),
        ("Fire Emblem: The Sacred Stones", "Fire Emblem: The Sacred Stones"),
    ],
)
def test_natural_title_moves_only_a_trailing_article(title: str, expected: str) -> None:
    assert natural_title(title) == expected


@given(st.text().filter(lambda t: ", " not in t))
def test_a_title_without_a_comma_is_unchanged(title: str) -> None:
    assert natural_title(title) == title


def test_title_format_fills_fields_and_natural_applies_to_the_title_field() -> None:
    title = title_function(catalog(), "{movie_title} ({release_year})", natural=True)
    assert [title(i) for i in ("1", "2", "3")] == [
        "The Usual Suspects (1995)",
        "Toy Story (1995)",
        "La Vie en Rose (2007)",
    ]
    assert title("unknown-id") == "unknown-id"


def test_a_sequence_field_reads_as_a_list() -> None:
    title = title_function(catalog(), "{movie_title} ({release_year}; {genre})")
    assert [title(i) for i in ("1", "2", "3")] == [
        "Usual Suspects, The (1995; Crime, Thriller)",
        "Toy Story (1995; Comedy)",
        "Vie en Rose, La (2007; )",
    ]


def test_the_default_is_the_catalogue_title() -> None:
    assert title_function(catalog())("1") == "Usual Suspects, The"
    assert title_function(catalog(), natural=True)("1") == "The Usual Suspects"
    assert title_function(None, natural=True)("Lion King, The") == "The Lion King"


@pytest.mark.parametrize(
    ("title_format", "message"),
    [
        ("{tags}", "no item field 'tags'; the catalogue has movie_title, release_year, genre"),
        ("{movie_title", "title_format '{movie_title'"),
        ("{} ({release_year})", "each placeholder names a field"),
        ("{0}", "each placeholder names a field"),
    ],
)
def test_a_bad_title_format_names_what_is_wrong(title_format: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("{", r"\{")):
        title_function(catalog(), title_format)


def test_title_format_needs_a_catalogue() -> None:
    with pytest.raises(ConfigError, match="needs an item catalogue"):
        title_function(None, "{movie_title}")


class RecordingScorer:
    """A continuation scorer that records prompts and titles; the longer title scores higher."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []

    def continuation_scores(
        self, prompt: str, continuations: list[str], answer_prefix: str = "", raw: bool = False
    ) -> list[np.ndarray]:
        self.seen.append((prompt, list(continuations)))
        return [np.full(3, len(c) / 100, dtype=np.float32) for c in continuations]


def test_the_ranker_writes_items_in_the_title_format_and_the_list_template() -> None:
    from lmrec.llm.ranking.ranker import LLMRankConfig, LLMRanker

    backend = RecordingScorer()
    config = LLMRankConfig(method="likelihood", likelihood_template="next_item_list")
    title = title_function(catalog(), "{movie_title} ({release_year})", natural=True)
    ranker = LLMRanker(backend, title, config)
    items = Vocabulary("item", ("1", "2", "3"))
    train = Interactions(
        np.zeros(3), np.arange(3), np.arange(3.0), Vocabulary("user", ("u",)), items
    )
    ranker.fit(train)
    assert ranker.order([0, 1], [2, 0]) == [0, 2]  # the longer written title first
    prompt, titles = backend.seen[0]
    assert prompt.endswith("1. The Usual Suspects (1995)\n2. Toy Story (1995)\n3.")
    assert titles == [" La Vie en Rose (2007)", " The Usual Suspects (1995)"]


def test_build_llm_ranker_refuses_a_title_format_the_catalogue_cannot_fill() -> None:
    from lmrec.core.fitted import ModelContext
    from lmrec.models.llm import LLMRecommenderConfig, build_llm_ranker

    config = LLMRecommenderConfig(
        endpoint="http://127.0.0.1:9/v1", model="m", title_format="{tags} {movie_title}"
    )
    with pytest.raises(ConfigError, match="no item field 'tags'"):
        build_llm_ranker(config, ModelContext("ml-1m", catalog()), None)


@pytest.mark.parametrize("title_format", ["{movie_title", "{}", "{0} x", "{a.b}"])
def test_the_config_refuses_a_malformed_title_format_before_any_data(title_format: str) -> None:
    from pydantic import ValidationError

    from lmrec.llm.ranking.ranker import LLMRankConfig

    with pytest.raises(ValidationError, match="title_format"):
        LLMRankConfig(title_format=title_format)
    assert LLMRankConfig(title_format="{any_field} ({year})").title_format == "{any_field} ({year})"
