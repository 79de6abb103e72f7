"""LoRA on local language models: TALLRec's yes/no examples, the peft-tuned verbalizer, the
LlamaRec-style re-ranker and the two commands (``train -m llm-lora``, ``llm-score``).

The learning tests tune the real SmolLM2-135M; contract tests use a tiny random Llama."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from lmrec.core.fitted import ModelContext
from lmrec.core.query import QueryBatch
from lmrec.data.containers import Interactions, Sequences
from lmrec.data.errors import DataError
from lmrec.data.registry import load_dataset
from lmrec.errors import ConfigError
from lmrec.llm.lora.examples import (
    PreferenceExample,
    auc,
    auc_interval,
    preference_examples,
    read_examples,
    split_by_time,
    write_examples,
)
from lmrec.llm.lora.fusion import HeldOut, tail_cases
from lmrec.llm.lora.preference import labels, p_yes
from lmrec.llm.lora.tuning import LoraSettings, TunedLM
from lmrec.models.llm_lora import LoraReranker
from lmrec.models.registry import create_model
from lmrec.protocols.base import EvalCases


def test_auc_is_the_mann_whitney_statistic() -> None:
    assert auc([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3]) == 1.0
    assert auc([1, 0, 1, 0], [0.1, 0.9, 0.2, 0.8]) == 0.0
    assert auc([1, 0], [0.5, 0.5]) == 0.5  # a tie counts one half
    assert auc([1, 0, 0, 1], [0.2, 0.4, 0.1, 0.9]) == 0.75
    with pytest.raises(ValueError, match="both positive and negative"):
        auc([1, 1], [0.2, 0.3])


def test_auc_interval_narrows_with_more_examples() -> None:
    rng = np.random.default_rng(0)
    assert auc_interval([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3]) == (1.0, 1.0)  # always separated
    widths = []
    for n in (50, 2000):
        y = rng.random(n) < 0.5
        s = y + rng.normal(0.0, 1.0, n)  # AUC about 0.76
        low, high = auc_interval(y, s)
        assert low < auc(y, s) < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 3  # about 1/sqrt(40) as wide
    assert low > 0.70 and high < 0.82
    with pytest.raises(ValueError, match="both positive and negative"):
        auc_interval([0, 0], [0.1, 0.2])


def test_preference_examples_on_movielens(data_dir: Path) -> None:
    ds = load_dataset("ml-100k", data_dir)
    examples = preference_examples(ds)
    assert len(examples) == 100_000 - 943 * 10  # every rating with ten before it
    split = split_by_time(examples)
    assert (len(split.train), len(split.valid), len(split.test)) == (72_456, 9_057, 9_057)
    assert max(e.time for e in split.train) <= min(e.time for e in split.valid)
    assert max(e.time for e in split.valid) <= min(e.time for e in split.test)
    # one example against the raw log: the target's rating decides the label, the ten before it
    # are the history, liked means rated above 3
    e = split.test[123]
    log = ds.interactions
    rows = np.flatnonzero(log.users == log.user_vocab.index(e.user))
    rows = rows[np.lexsort((log.timestamps[rows],))]
    assert log.ratings is not None
    at = next(i for i, r in enumerate(rows) if log.item_vocab.ids[log.items[r]] == e.item)
    assert e.label == bool(log.ratings[rows[at]] > 3)
    past = rows[at - 10 : at]
    assert e.history == tuple(log.item_vocab.ids[log.items[r]] for r in past)
    assert e.liked == tuple(bool(log.ratings[r] > 3) for r in past)
    assert f'Target movie: "{ds.title(e.item)} (' in e.input  # title with its year
    assert e.input.count('"') == 2 * 11 or "none" in e.input


def test_example_files_round_trip_and_clear_errors(tmp_path: Path) -> None:
    examples = [PreferenceExample("Say yes or no.", f"case {i}", i % 2 == 0) for i in range(4)]
    path = tmp_path / "examples.json"
    write_examples(examples, path)
    back = read_examples(path)
    assert [(e.prompt, e.label) for e in back] == [(e.prompt, e.label) for e in examples]
    assert json.loads(path.read_text())[0]["output"] == "Yes."
    bad = tmp_path / "bad.json"
    bad.write_text('[{"instruction": "x", "input": "y", "output": "Yes."},\n {"instruction": }]')
    with pytest.raises(DataError, match=r"bad\.json:2:\d+: not JSON"):
        read_examples(bad)
    bad.write_text('[{"instruction": "x", "input": "y", "output": "Yes."}, {"input": "y"}]')
    with pytest.raises(DataError, match="example 1: missing or non-text field.*instruction"):
        read_examples(bad)
    bad.write_text('[{"instruction": "x", "input": "y", "output": "Maybe."}]')
    with pytest.raises(DataError, match=r'example 0: output must be "Yes" or "No"'):
        read_examples(bad)


def _toy(n: int) -> list[PreferenceExample]:
    """Yes when the target is a fruit, no when it is a tool (a rule a small LM can learn)."""
    fruit = ["apple", "pear", "plum", "cherry", "mango", "grape"]
    tools = ["hammer", "wrench", "chisel", "drill", "saw", "pliers"]
    out = []
    for i in range(n):
        yes = i % 2 == 0
        target = (fruit if yes else tools)[(i // 2) % 6]
        out.append(PreferenceExample("Answer Yes or No.", f"Is {target} a fruit?", yes))
    return out


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights")


def test_lora_on_smollm2_learns_keeps_the_best_epoch_and_round_trips(
    weights: Path, tmp_path: Path
) -> None:
    settings = LoraSettings(lr=3e-3, epochs=4, batch_size=4, threads=2, seed=0)
    lm = TunedLM(settings, weights)
    train, held = _toy(12), _toy(24)[12:]
    before = p_yes(lm, held)
    seen: list[float] = []

    def validate() -> float:
        seen.append(auc(labels(held), p_yes(lm, held)))
        return seen[-1]

    from lmrec.llm.lora.preference import _rows

    report = lm.train(
        _rows(lm, train),
        [0 if e.label else 1 for e in train],
        lm.choice_tokens(("Yes", "No")),
        validate,
        "auc",
    )
    # epoch 0 (the untuned model) is validated first and competes for "best"
    assert len(report.epochs) == 4 and seen[1:] == [e.metric for e in report.epochs]
    assert report.extra["untuned_validation_auc"] == seen[0]
    assert report.epochs[-1].loss < report.epochs[0].loss
    assert report.best_metric == max(seen) and report.best_metric >= 0.9
    after = p_yes(lm, held)
    assert auc(labels(held), after) == pytest.approx(report.best_metric)  # best epoch restored
    assert not np.allclose(before, after)
    trainable, total = lm.trainable_share()
    assert 0 < trainable / total < 0.01  # LoRA r=8 on q/v: a fraction of a percent
    lm.save_adapter(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    assert not list((tmp_path / "adapter").glob("*.bin"))  # no pickle
    again = TunedLM(settings, weights)
    again.load_adapter(tmp_path / "adapter")
    np.testing.assert_allclose(p_yes(again, held), after, atol=1e-5)


def test_binary_train_and_llm_score_commands(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_cli(
        data_dir,
        "train -d ml-100k -m llm-lora --set task=binary --set shots=8 --set epochs=1 "
        f"--set valid_examples=8 --set test_examples=16 --set threads=2 -o {out}",
    )
    assert result.exit_code == 0, result.output
    assert "test AUC" in result.output and "8 examples" in result.output
    saved = json.loads((out / "results.json").read_text())
    assert saved["shots"] == 8 and saved["test_examples"] == 16
    assert 0.0 <= saved["test_auc"] <= 1.0
    assert (out / "adapter_config.json").is_file()
    # the same test examples, scored from a file through the saved adapter
    from lmrec.llm.lora.config import LlmLoraConfig
    from lmrec.llm.lora.preference import preference_data

    ds = load_dataset("ml-100k", data_dir)
    data = preference_data(ds, LlmLoraConfig(task="binary", shots=8, test_examples=16))
    write_examples(data.test, tmp_path / "test.json")
    scores = tmp_path / "scores.json"
    result = run_cli(
        None, f"llm-score --adapter {out} --examples {tmp_path / 'test.json'} -o {scores}"
    )
    assert result.exit_code == 0, result.output
    written = json.loads(scores.read_text())
    assert len(written["examples"]) == 16
    assert written["auc"] == pytest.approx(saved["test_auc"], abs=1e-6)
    low, high = written["auc_interval_95"]
    printed = " ".join(result.output.split())  # the console wraps long lines
    assert low <= written["auc"] <= high
    assert f"95% bootstrap interval {low:.4f}–{high:.4f}" in printed
    result = run_cli(None, f"llm-score --adapter {tmp_path} --examples {tmp_path / 'x'}")
    assert result.exit_code == 2 and "no adapter_config.json" in result.output
    (tmp_path / "bad.json").write_text("[]")
    result = run_cli(None, f"llm-score --llm smollm2-135m --examples {tmp_path / 'bad.json'}")
    assert result.exit_code == 2 and "non-empty JSON list" in result.output


def _log() -> tuple[Interactions, EvalCases]:
    """12 users over 8 items with a clear next-item pattern; validation = each last item."""
    from lmrec.data.containers import Vocabulary

    rows = [[(u + j) % 8 for j in range(5)] for u in range(12)]
    users = np.repeat(np.arange(12), 4)
    items = np.array([r[j] for r in rows for j in range(4)])
    train = Interactions(
        users=users.astype(np.int32),
        items=items.astype(np.int32),
        timestamps=np.tile(np.arange(4), 12).astype(np.float64),
        user_vocab=Vocabulary("user", [f"u{u}" for u in range(12)]),
        item_vocab=Vocabulary("item", [f"i{i}" for i in range(8)]),
    )
    valid = EvalCases(
        np.arange(12, dtype=np.int32),
        np.array([r[4] for r in rows], dtype=np.int32),
        Sequences.from_lists([r[:4] for r in rows]),
    )
    return train, valid


def test_reranker_contract(tiny_lm_dir: Path, tmp_path: Path) -> None:
    train, valid = _log()
    config = {"base": str(tiny_lm_dir), "retriever": "pop", "depth": 4, "epochs": 1}
    model = create_model("llm-lora", config, ModelContext(cache_dir=tmp_path)).fit(train, valid)
    assert isinstance(model, LoraReranker) and model.report is not None
    extra = model.report.extra
    assert 1 <= extra["training_cases"] <= 36 and extra["held_out_cases"] == 12
    assert 0.0 <= extra["fusion"]["weight"] <= 1.0 and extra["fusion"]["cases"] == 12
    batch = QueryBatch(np.array([0, 1], dtype=np.int32), Sequences.from_lists([[0, 1], [2]]))
    scores = model.score(batch)
    assert model.retriever is not None
    retriever = model.retriever.score(batch)
    for row in range(2):
        seen = set(batch.histories[row].tolist())
        unseen = sorted((i for i in range(8) if i not in seen), key=lambda i: -retriever[row, i])
        ranked = [int(i) for i in np.argsort(-scores[row], kind="stable") if int(i) not in seen]
        assert set(ranked[:4]) == set(unseen[:4])  # the retriever's top 4, re-ordered
        assert ranked[4:] == unseen[4:]  # below the cut: the retriever's order
    cands = np.array([[5, 6, -1], [7, 0, 3]], dtype=np.int32)
    given = model.score(QueryBatch(batch.users, batch.histories, cands))
    assert (given[0, [5, 6]] > -1e6).all() and (np.delete(given[0], [5, 6]) == -1e6).all()
    model.save(tmp_path / "ckpt")
    from lmrec.models.registry import load_model

    np.testing.assert_allclose(load_model(tmp_path / "ckpt").score(batch), scores)
    with pytest.raises(ConfigError, match="task=binary answers yes/no"):
        create_model("llm-lora", {"task": "binary"})
    with pytest.raises(ConfigError, match="at most 26"):
        model.score(QueryBatch(batch.users, batch.histories, np.zeros((2, 6), dtype=np.int32)))


def test_tail_cases_take_each_users_last_items_with_their_histories() -> None:
    train, _ = _log()
    cases, rest = tail_cases(train, 1)
    assert len(cases) == 12 and len(rest) == 36
    assert cases.targets.tolist() == [(u + 3) % 8 for u in range(12)]
    assert cases.histories[0].tolist() == [0, 1, 2]
    cases, rest = tail_cases(train, 2)  # positions 2 and 3 of each user, in time order
    assert len(cases) == 24 and len(rest) == 24
    assert cases.targets[:2].tolist() == [2, 3] and cases.histories[1].tolist() == [0, 1, 2]
    cases, rest = tail_cases(train, 9)  # the first item stays: a case needs a history
    assert len(cases) == 36 and len(rest) == 12
    assert all(len(cases.histories[r]) >= 1 for r in range(len(cases)))


def test_train_rerank_checkpoint_and_recommend_commands(
    data_dir: Path, tiny_lm_dir: Path, tmp_path: Path
) -> None:
    """The re-ranker through the CLI on ML-100K (with the tiny random LM: the path, not skill)."""
    out = tmp_path / "ckpt"
    result = run_cli(
        data_dir,
        f"train -d ml-100k -m llm-lora --set base={tiny_lm_dir} --set epochs=1 --set max_cases=64 "
        f"--set threads=2 -o {out}",
    )
    assert result.exit_code == 0, result.output
    assert "saved llm-lora" in result.output
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "retriever" / "config.json").is_file()
    training = json.loads((out / "results.json").read_text())
    assert "ndcg@10" in json.dumps(training) and '"fusion"' in json.dumps(training)
    result = run_cli(data_dir, f"recommend -d ml-100k --model-dir {out} --user 196 --k 5")
    assert result.exit_code == 0, result.output
    assert "llm-lora recommendations" in result.output


def test_held_out_cases_keep_the_retrievers_top_and_find_each_hit() -> None:
    train, _ = _log()
    cases, rest = tail_cases(train, 1)
    retriever = create_model("pop").fit(rest)
    held = HeldOut.of(retriever, cases, 3)
    assert held.n == 12 and held.cand.shape == held.scores.shape == (12, 3)
    for r in range(12):  # the top 3 never repeat the history, and scores fall along the row
        assert not set(held.cand[r].tolist()) & set(cases.histories[r].tolist())
        assert (np.diff(held.scores[r]) <= 0).all()
    hit = [r for r in range(12) if cases.targets[r] in held.cand[r]]
    assert 0 < len(hit) < 12  # some targets in the top 3, some not
    assert held.rows.tolist() == hit
    for row, column, history in zip(held.rows, held.columns, held.histories, strict=True):
        assert held.cand[row, column] == cases.targets[row]
        assert history == cases.histories[int(row)].tolist()
    spread = held.full(np.ones((len(hit), 3), dtype=np.float32))
    assert spread.sum() == 3 * len(hit) and (spread[held.rows] == 1).all()


def test_a_new_adapter_depends_on_its_seed_only(tiny_lm_dir: Path, tmp_path: Path) -> None:
    """LoRA's random A matrices come from ``seed``, not from whatever drew on torch's stream
    before (a bench that fitted more first got another adapter from the same settings)."""
    import torch

    def adapter(seed: int, draws: int) -> dict[str, np.ndarray]:
        torch.manual_seed(123)
        torch.rand(draws)  # other work in the same process
        lm = TunedLM(LoraSettings(base=str(tiny_lm_dir), seed=seed), tmp_path)
        lm.add_adapter()
        after = torch.rand(1)  # the caller's stream is left where it was
        torch.manual_seed(123)
        torch.rand(draws)
        assert torch.equal(after, torch.rand(1))
        state = lm._adapter_state()
        return {k: v.float().numpy() for k, v in state.items() if "lora_A" in k}

    first, second, other = adapter(0, 5), adapter(0, 1000), adapter(1, 5)
    assert first and first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    assert any(not np.array_equal(first[k], other[k]) for k in first)
