"""Local scoring without the real model: a tiny model folder built here, and the title scorer's
arithmetic on a fake backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmrec.llm.ranking.ranker import LLMRankConfig, LLMRanker
from lmrec.llm.runtime.backends import GenerationParams
from lmrec.llm.runtime.cache import ResponseCache
from lmrec.metrics.evaluate import evaluate
from test_llm import _cases


def test_local_backend_loads_a_model_folder_built_here(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from lmrec.llm.runtime.local_backend import LocalBackend
    from lmrec.llm.runtime.locate import resolve_llm

    words = [
        "[pad]",
        "[eos]",
        "[unk]",
        "the",
        "a",
        "movie",
        "i",
        "watched",
        "rank",
        "these",
        "candidates",
        "1",
        "2",
        "3",
        "heat",
        "alien",
    ]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[unk]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="[pad]", eos_token="[eos]", unk_token="[unk]"
    )
    tokenizer.save_pretrained(tmp_path / "tiny-lm")
    config = GPT2Config(
        vocab_size=len(words),
        n_positions=512,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=1,
        eos_token_id=1,
        pad_token_id=0,
    )
    GPT2LMHeadModel(config).save_pretrained(tmp_path / "tiny-lm")

    cache = ResponseCache(tmp_path / "c.sqlite")
    spec = resolve_llm(str(tmp_path / "tiny-lm"))
    assert spec.gguf_file is None and spec.name == "tiny-lm"
    backend = LocalBackend(spec, threads=1, context=512, batch_size=2, cache=cache)
    assert not backend.lm.chat  # no chat template: prompts go in as plain text
    prompts = ["i watched heat", "rank these candidates", "the movie alien"]
    out = backend.complete(prompts, GenerationParams(max_tokens=4))
    assert len(out) == 3 and all(c.error is None and c.prompt_tokens > 0 for c in out)
    assert all(0 < c.completion_tokens <= 4 for c in out)
    assert backend.complete(prompts, GenerationParams(max_tokens=4))[1].cached
    too_long = backend.complete(["heat " * 600], GenerationParams(max_tokens=2))[0]
    assert too_long.text == "" and "over the context of 512" in (too_long.error or "")
    # garbage text from a random model still yields a complete ranking
    train, cases = _cases()
    ranker = LLMRanker(backend, str, LLMRankConfig(max_tokens=3)).fit(train)
    result = evaluate(ranker, cases.select(range(4)), ks=(10,))
    assert np.isfinite(result.ranks).all()


def test_title_scorer_normalises_length_and_discounts_the_prior() -> None:
    from lmrec.llm.ranking.likelihood import TitleScorer

    calls: list[str] = []

    class Fake:
        """Log-probs: -1 per token after a history, -0.5 per token after none."""

        def continuation_scores(
            self, prompt: str, continuations: list[str], answer_prefix: str = "", raw: bool = False
        ) -> list[np.ndarray]:
            calls.append(prompt)
            per = -0.5 if prompt == "null:" else -1.0
            return [np.full(len(c.split()), per, dtype=np.float32) for c in continuations]

    titles = ["A", "B C D E", "F G"]  # 1, 4 and 2 tokens
    plain = TitleScorer(Fake(), "null:", length_norm=0.0, calibrate=0.0)
    assert plain.scores("story:", titles) == [-1.0, -4.0, -2.0]  # sums
    mean = TitleScorer(Fake(), "null:", length_norm=1.0, calibrate=0.0)
    assert mean.scores("story:", titles) == [-1.0, -1.0, -1.0]
    half = TitleScorer(Fake(), "null:", length_norm=0.5, calibrate=1.0)
    got = half.scores("story:", titles)
    np.testing.assert_allclose(got, [-0.5, -1.0, -2 / np.sqrt(2) + 1 / np.sqrt(2)], atol=1e-6)
    assert half.order("story:", titles) == (0, 2, 1)
    # the no-history prior is computed once per title, whatever the prompt
    assert calls.count("null:") == 1
