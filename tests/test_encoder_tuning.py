"""Tuning a sentence encoder on next-item prediction (:mod:`lmrec.text.tuning`): on a toy log
whose answer the untuned encoder cannot know (each word is followed by one unrelated word), the
loss falls and the held-out MRR rises; a saved encoder loads by path with identical vectors; the
embedding cache keys a re-tuned encoder at the same path apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.text.tuning import EncoderTuningConfig, TuningCase, cases_from_sequences, tune_encoder

pytest.importorskip("sentence_transformers")

WORDS = [
    "zebra",
    "piano",
    "cloud",
    "tiger",
    "lemon",
    "anchor",
    "violin",
    "desert",
    "pepper",
    "rocket",
    "castle",
    "meadow",
    "glacier",
    "tulip",
    "hammer",
    "falcon",
]
NEXT = {w: WORDS[(i * 7 + 3) % len(WORDS)] for i, w in enumerate(WORDS)}  # arbitrary pairs


def toy_config(**changes: object) -> EncoderTuningConfig:
    base = {
        "batch_size": 8,
        "negatives": 0,
        "lr": 2e-4,
        "train_layers": 2,
        "max_steps": 40,
        "eval_every": 20,
        "valid_negatives": 8,
        "threads": 1,
        "history": 1,
    }
    return EncoderTuningConfig.model_validate({**base, **changes})


def test_cases_take_every_position_with_the_history_before_it() -> None:
    cases = cases_from_sequences([["a", "b", "c"], ["d"]], history=1)
    assert cases == [TuningCase(("a",), "b"), TuningCase(("b",), "c")]
    assert cases_from_sequences([["a", "b", "c"]], 5, every_position=False) == [
        TuningCase(("a", "b"), "c")
    ]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("enc") / "tuned"
    train = [TuningCase((f"the {w}",), f"the {NEXT[w]}") for w in WORDS] * 4
    valid = [TuningCase((f"the {w}",), f"the {NEXT[w]}") for w in WORDS]
    popularity = [(f"the {w}", 1.0) for w in WORDS]
    report = tune_encoder(train, valid, popularity, toy_config(), out)
    return out, report


def test_the_loss_falls_and_validation_rises_on_a_known_answer(
    tuned: tuple[Path, object],
) -> None:
    _, report = tuned
    losses = report.losses  # type: ignore[attr-defined]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses
    valid = dict(report.valid)  # type: ignore[attr-defined]
    assert valid[report.best_step] > valid[0] + 0.2, valid  # type: ignore[attr-defined]


def test_steps_after_the_last_check_are_validated_too(tmp_path: Path) -> None:
    train = [TuningCase((f"the {w}",), f"the {NEXT[w]}") for w in WORDS]
    popularity = [(f"the {w}", 1.0) for w in WORDS]
    report = tune_encoder(train, train, popularity, toy_config(max_steps=5), tmp_path / "t")
    assert [step for step, _ in report.valid] == [0, 5]  # the budget ended between checks
    full = tune_encoder(train, train, popularity, toy_config(max_steps=4, eval_every=2), tmp_path)
    assert [step for step, _ in full.valid] == [0, 2, 4]  # no second check of the same step


def test_the_saved_encoder_reads_as_much_text_as_its_base(tmp_path: Path) -> None:
    from lmrec.text.encoders import create_encoder

    train = [TuningCase((f"the {w}",), f"the {NEXT[w]}") for w in WORDS]
    popularity = [(f"the {w}", 1.0) for w in WORDS]
    # nothing trains, and tuning read 8 tokens per text: the saved folder must still be MiniLM
    tune_encoder(train, [], popularity, toy_config(train_layers=0, max_tokens=8), tmp_path / "e")
    long = [" ".join(WORDS)]  # about 20 tokens
    saved = create_encoder(str(tmp_path / "e")).encode(long)
    np.testing.assert_allclose(saved, create_encoder("minilm").encode(long), atol=1e-5)


def test_a_tuned_encoder_loads_by_path_with_identical_vectors(
    tuned: tuple[Path, object], tmp_path: Path
) -> None:
    from lmrec.text.cache import EmbeddingCache
    from lmrec.text.encoders import create_encoder

    out, _ = tuned
    texts = [f"the {w}" for w in WORDS]
    first = create_encoder(str(out)).encode(texts)
    again = create_encoder(str(out)).encode(texts)
    np.testing.assert_array_equal(first, again)
    base = create_encoder("minilm").encode(texts)
    assert not np.allclose(first, base, atol=1e-3)  # it did change
    # the same path re-tuned: a new identity, so the cache never serves the old vectors
    encoder = create_encoder(str(out))
    cache = EmbeddingCache(tmp_path / "cache")
    cache.encode(encoder, texts)
    identity = encoder.identity
    (out / "marker.txt").write_text("re-tuned", encoding="utf-8")
    moved = create_encoder(str(out))
    assert moved.identity != identity and moved.identity.startswith(f"sentence-transformers:{out}@")
    _, stats = EmbeddingCache(tmp_path / "cache").encode(moved, texts)
    assert stats.hits == 0 and stats.encoded == len(texts)
    (out / "marker.txt").unlink()
    _, stats = EmbeddingCache(tmp_path / "cache").encode(create_encoder(str(out)), texts)
    assert stats.hits == len(texts)


def test_train_text_encoder_then_any_text_model_loads_it_by_path(
    shop_data: Path, tmp_path: Path
) -> None:
    import json

    from conftest import run_cli

    out = tmp_path / "enc"
    tiny = "--set tuning.max_steps=2 --set tuning.batch_size=4 --set tuning.eval_every=1"
    result = run_cli(shop_data, f"train -d shop -m text-encoder {tiny} -o {out}")
    assert result.exit_code == 0, result.output
    assert (out / "encoder" / "config.json").exists()
    again = run_cli(shop_data, f"recommend -d shop --model-dir {out} --user u4 --k 2")
    assert again.exit_code == 0, again.output
    assert "text-encoder recommendations" in again.output  # the checkpoint, loaded with its encoder
    used = run_cli(
        shop_data,
        f"evaluate -d shop -m zeroshot --set encoder={out / 'encoder'} -o {tmp_path / 'r.json'}",
    )
    assert used.exit_code == 0, used.output
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["provenance"]["model_config"]["encoder"] == str(out / "encoder")
