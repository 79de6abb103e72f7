"""Phrasings of the yes/no task: the same example written five ways, training in turn, answer
words per example, and ``llm-score`` on files whose answers are not Yes/No."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import run_cli
from lmrec.data.errors import DataError
from lmrec.llm.lora.config import LlmLoraConfig
from lmrec.llm.lora.examples import PreferenceExample, read_examples, write_examples
from lmrec.llm.lora.phrasing import HELD_OUT, PHRASINGS, TRAINING, phrasings, rotate
from lmrec.llm.lora.preference import answer_tokens, p_yes
from lmrec.llm.lora.tuning import LoraSettings, TunedLM


def _example(i: int, label: bool = True) -> PreferenceExample:
    titles = (f"Up {i} (1990)", "Heat (1995)", "Big (1988)")
    return PreferenceExample(
        "q",
        "x",
        label,
        f"u{i}",
        f"t{i}",
        ("a", "b", "c"),
        (True, False, True),
        float(i),
        titles,
        f"Target {i} (2001)",
    )


def test_every_phrasing_keeps_the_example_and_differs_in_words() -> None:
    e = _example(0, label=False)
    prompts = set()
    for p in PHRASINGS.values():
        r = p.render(e)
        assert (r.label, r.item, r.history, r.answers) == (e.label, e.item, e.history, p.answers)
        assert all(t in r.input for t in (*e.titles, e.target_title))
        assert r.to_json()["output"] == f"{p.answers[1]}."
        prompts.add(r.prompt)
    assert len(prompts) == len(PHRASINGS)
    assert set(TRAINING).isdisjoint(HELD_OUT) and {*TRAINING, *HELD_OUT} == set(PHRASINGS)
    enjoy = PHRASINGS["enjoy"].render(e).input
    assert enjoy.index("Did not enjoy") < enjoy.index("Enjoyed: ")  # disliked first
    question = PHRASINGS["question"].render(e).input
    assert question.startswith("Target movie")
    tagged = PHRASINGS["tagged"].render(e).input.splitlines()
    assert tagged[1:4] == [
        "- Up 0 (1990) (rated highly)",
        "- Heat (1995) (rated low)",
        "- Big (1988) (rated highly)",
    ]
    with pytest.raises(ValueError, match="with titles"):
        PHRASINGS["enjoy"].render(PreferenceExample("q", "x", True))


def test_rotation_uses_each_phrasing_equally_and_is_seeded() -> None:
    chosen = phrasings(TRAINING)
    out = rotate([_example(i) for i in range(30)], chosen, seed=3)
    counts = {p.name: sum(e.answers == p.answers for e in out) for p in chosen}
    assert sorted(counts.values()) == [10, 10, 10]
    assert out == rotate([_example(i) for i in range(30)], chosen, seed=3)
    assert out != rotate([_example(i) for i in range(30)], chosen, seed=4)
    with pytest.raises(ValueError, match="known: tallrec"):
        phrasings(["tallrec", "nope"])


def test_config_refuses_unknown_repeated_or_no_phrasings() -> None:
    assert LlmLoraConfig(task="binary", phrasings=["enjoy", "tallrec"]).phrasings[0] == "enjoy"
    for bad in (["nope"], ["tallrec", "tallrec"], []):
        with pytest.raises(ValidationError):
            LlmLoraConfig(task="binary", phrasings=bad)


def test_answer_words_per_example_score_as_each_alone(tiny_lm_dir: Path) -> None:
    lm = TunedLM(LoraSettings(base=str(tiny_lm_dir), threads=1))
    mixed = list(rotate([_example(i, i % 2 == 0) for i in range(9)], phrasings(TRAINING), 0))
    tokens = answer_tokens(lm, mixed)
    assert isinstance(tokens, np.ndarray) and tokens.shape == (9, 2)
    together = p_yes(lm, mixed)
    for words in {e.answers for e in mixed}:
        rows = [i for i, e in enumerate(mixed) if e.answers == words]
        alone = p_yes(lm, [mixed[i] for i in rows])
        np.testing.assert_allclose(together[rows], alone, rtol=1e-4, atol=1e-5)
    assert answer_tokens(lm, mixed[:1]) == lm.choice_tokens(mixed[0].answers)


def test_alpaca_files_with_other_answer_words(tmp_path: Path, tiny_lm_dir: Path) -> None:
    examples = list(rotate([_example(i, i % 2 == 0) for i in range(6)], phrasings(["enjoy"]), 0))
    path = tmp_path / "enjoy.json"
    write_examples(examples, path)
    assert json.loads(path.read_text())[0]["output"] in ("True.", "False.")
    back = read_examples(path, ("True", "False"))
    assert [e.label for e in back] == [e.label for e in examples]
    with pytest.raises(DataError, match=r'output must be "Yes" or "No".*--answers'):
        read_examples(path)
    no_input = tmp_path / "no_input.json"
    no_input.write_text('[{"instruction": "Is a pear a fruit?", "output": "yes"}]')
    assert read_examples(no_input)[0].prompt == "Is a pear a fruit?\n"
    result = run_cli(
        None, f"llm-score --llm {tiny_lm_dir} --examples {path} --answers True,False --threads 1"
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "(untuned): AUC" in said and "on 6 examples" in said
    for bad in ("True", "True,", "a,b,c"):
        result = run_cli(None, f"llm-score --llm {tiny_lm_dir} --examples {path} --answers {bad}")
        assert result.exit_code == 2 and "--answers" in result.output
    result = run_cli(None, f"llm-score --llm {tiny_lm_dir} --examples {path} --answers no,No")
    assert result.exit_code == 2 and "two different words" in result.output


entries = st.dictionaries(
    st.sampled_from(["instruction", "input", "output", "extra"]),
    st.one_of(st.text(max_size=8), st.integers(), st.none(), st.sampled_from(["Yes.", "no"])),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(entries, st.integers(), st.text(max_size=4)), max_size=4))
def test_any_json_list_reads_or_fails_with_a_data_error(tmp_path_factory, data: list) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("any") / "e.json"
    path.write_text(json.dumps(data))
    try:
        out = read_examples(path)
    except DataError as exc:
        assert str(path) in str(exc) or "answer words" in str(exc)
        return
    assert len(out) == len(data) and all(isinstance(e.label, bool) for e in out)
