"""SASRec / GRU4Rec, their batches and the trainer, on small synthetic sequences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lmrec.core.query import Query
from lmrec.data.containers import Interactions, Sequences, Vocabulary
from lmrec.metrics.evaluate import evaluate
from lmrec.models.registry import create_model
from lmrec.protocols.leave_one_out import LeaveOneOut
from lmrec.training.batches import (
    MIN_SPANS,
    LossWeights,
    TrainingRows,
    batch_order,
    pad_left,
    split_windows,
    trim,
)
from lmrec.training.config import TrainConfig

torch = pytest.importorskip("torch")

SMALL = {"hidden_size": 16, "layers": 1, "dropout": 0.0, "max_len": 12}


def cyclic(n_users: int = 48, n_items: int = 15, length: int = 14, seed: int = 0) -> Interactions:
    """Every user walks the item cycle 0 → 1 → … → n_items-1 → 0 from a random start."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for t in range(length):
            users.append(u)
            items.append((start + t) % n_items)
            times.append(float(t))
    return Interactions(
        np.array(users, dtype=np.int32),
        np.array(items, dtype=np.int32),
        np.array(times),
        Vocabulary("user", tuple(f"u{u}" for u in range(n_users))),
        Vocabulary("item", tuple(str(i) for i in range(n_items))),
    )


def fit_small(name: str, data: Interactions, **train: Any) -> tuple[Any, Any]:
    split = LeaveOneOut().split(data)
    settings = {"epochs": 25, "batch_size": 8, "lr": 0.01, "patience": 0, **train}
    model = create_model(name, {**SMALL, "train": settings})
    model.fit(split.train, split.valid)  # type: ignore[call-arg]
    return model, evaluate(model, split.test, ks=(1, 10))


@pytest.mark.parametrize(
    ("name", "loss"), [("sasrec", "ce"), ("sasrec", "sampled"), ("gru4rec", "ce")]
)
def test_learns_the_successor_of_each_item(name: str, loss: str) -> None:
    model, result = fit_small(name, cyclic(), loss=loss, negatives=5)
    # the next item is fully determined by the last one: a working model ranks it first
    assert result.value("hr@1") >= 0.9, result.as_dict()
    assert model.report.best_metric >= 0.9
    assert model.report.epochs[-1].loss < model.report.epochs[0].loss


def test_same_seed_same_metrics_different_seed_differs() -> None:
    data = cyclic(n_items=25, length=6)  # short: not learnable perfectly, metrics vary
    runs = [fit_small("sasrec", data, epochs=3, seed=seed)[1] for seed in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0].ranks, runs[1].ranks)
    assert runs[0].as_dict() == runs[1].as_dict()
    assert not np.array_equal(runs[0].ranks, runs[2].ranks)


def test_early_stopping_restores_the_best_epoch() -> None:
    from lmrec.models.sequential.networks import SASRecNetwork
    from lmrec.training.trainer import Trainer

    scripted = iter([0.1, 0.5, 0.3, 0.2, 0.9])
    seen: list[dict[str, Any]] = []
    net = SASRecNetwork(10, 8, 1, 1, 0.0, 6)

    def validate() -> float:
        seen.append({k: v.clone() for k, v in net.state_dict().items()})
        return next(scripted)

    rows = TrainingRows.from_sequences(Sequences.from_lists([[1, 2, 3, 4], [5, 6, 7]]), 6)
    report = Trainer(TrainConfig(epochs=5, patience=2, lr=0.05)).fit(net, rows, validate)
    assert [e.epoch for e in report.epochs] == [1, 2, 3, 4]  # stopped before the 0.9
    assert report.best_epoch == 2 and report.best_metric == 0.5
    assert "no validation gain" in report.stopped
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, seen[1][key])
    assert not torch.equal(net.state_dict()["items.weight"], seen[3]["items.weight"])


def test_time_budget_stops_training() -> None:
    model, _ = fit_small("gru4rec", cyclic(), epochs=500, max_minutes=1e-4)
    assert len(model.report.epochs) == 1
    assert "time budget" in model.report.stopped


def test_pad_left_and_trim() -> None:
    seqs = Sequences.from_lists([[4, 5, 6], [], [7]])
    padded = pad_left(seqs, 2)
    np.testing.assert_array_equal(padded, [[6, 7], [0, 0], [0, 8]])  # shifted by one
    np.testing.assert_array_equal(trim(pad_left(seqs, 5)), [[5, 6, 7], [0, 0, 0], [0, 0, 8]])


def test_training_rows_and_windows() -> None:
    seqs = Sequences.from_lists([[0, 1, 2, 3, 4, 5, 6], [7], [8, 9]])
    rows = TrainingRows.from_sequences(seqs, 3)
    np.testing.assert_array_equal(rows.inputs, [[4, 5, 6], [0, 0, 9]])
    np.testing.assert_array_equal(rows.targets, [[5, 6, 7], [0, 0, 10]])
    windows = split_windows(seqs.take([0, 2]), 3)
    assert [list(windows[i]) for i in range(len(windows))] == [[3, 4, 5, 6], [0, 1, 2, 3], [8, 9]]
    every = TrainingRows.from_sequences(seqs, 3, windows=True)
    targets = np.sort(every.targets[every.targets > 0] - 1)
    np.testing.assert_array_equal(targets, [1, 2, 3, 4, 5, 6, 9])  # each item once, first excluded
    inputs, batch_targets = every.batch(np.array([2]))
    assert inputs.shape == (1, 1) and batch_targets.tolist() == [[10]]


def test_fast_dropout_keeps_the_expected_share() -> None:
    from lmrec.models.sequential.networks import FastDropout

    drop = FastDropout(0.25)
    x = torch.ones(200_000)
    y = drop(x)
    assert abs(float((y == 0).float().mean()) - 0.25) < 0.01
    assert abs(float(y.mean()) - 1.0) < 0.02  # kept values are scaled up
    assert torch.equal(drop.eval()(x), x)


def test_learning_rate_schedule() -> None:
    from lmrec.training.trainer import lr_factor

    cfg = TrainConfig(warmup_steps=4, schedule="cosine")
    assert [lr_factor(s, cfg, 14) for s in (0, 3)] == [0.25, 1.0]
    assert lr_factor(9, cfg, 14) == pytest.approx(0.5)
    assert lr_factor(14, cfg, 14) == pytest.approx(0.0)
    assert lr_factor(100, TrainConfig(), 14) == 1.0


def test_config_rejects_unknown_nested_keys() -> None:
    with pytest.raises(ValueError, match=r"train\.nope"):
        create_model("sasrec", {"train": {"nope": 1}})
    with pytest.raises(ValueError, match="divisible"):
        create_model("sasrec", {"hidden_size": 10, "heads": 3}).fit(cyclic())


def test_unknown_user_gets_finite_scores_and_checkpoint_holds_training_log(
    tmp_path: Path,
) -> None:
    model, _ = fit_small("sasrec", cyclic(), epochs=2)
    assert len(model.recommend(Query(user="stranger", k=3))) == 3
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["config"]["_training"]["epochs_run"] == 2
    loaded = type(model).load(tmp_path / "m")
    query = Query(history=("3", "4"), k=5)
    assert loaded.recommend(query).items == model.recommend(query).items


def test_yaml_run_config(tmp_path: Path) -> None:
    from lmrec.errors import ConfigError
    from lmrec.experiment.config_files import load_run_config, merge

    good = tmp_path / "good.yaml"
    good.write_text("model: sasrec\nconfig:\n  layers: 1\n  train:\n    epochs: 3\n")
    run = load_run_config(good)
    assert run.model == "sasrec" and run.config == {"layers": 1, "train": {"epochs": 3}}
    assert merge(run.config, {"train": {"lr": 0.1}}) == {
        "layers": 1,
        "train": {"epochs": 3, "lr": 0.1},
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: sasrec\nconfig:\n  layers: [1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml, line \d+, column \d+: invalid YAML"):
        load_run_config(bad)
    extra = tmp_path / "extra.yaml"
    extra.write_text("modle: sasrec\n")
    with pytest.raises(ConfigError, match="extra.yaml: unknown option 'modle'"):
        load_run_config(extra)


def test_length_buckets_cut_padding_and_keep_every_row_once() -> None:
    lengths = np.random.default_rng(0).integers(1, 50, size=1000)
    plain = batch_order(lengths, 32, np.random.default_rng(1))
    bucketed = batch_order(lengths, 32, np.random.default_rng(1), bucket=8)
    for batches in (plain, bucketed):
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
        assert max(len(b) for b in batches) == 32

    def cells(batches: list[np.ndarray]) -> int:  # a batch is padded to its longest row
        return sum(len(b) * int(lengths[b].max()) for b in batches)

    assert cells(bucketed) < 0.7 * cells(plain)
    maxima = [int(lengths[b].max()) for b in bucketed]
    assert maxima != sorted(maxima)  # the batches are shuffled, not served short to long


def test_small_datasets_get_new_batches_every_epoch() -> None:
    # 48 batches (ML-1M's count) at bucket 50 would be one sorted run: the same batches each epoch
    lengths = np.random.default_rng(0).permutation(48 * 16)  # all lengths distinct
    epochs = [batch_order(lengths, 16, np.random.default_rng(seed), bucket=50) for seed in (1, 2)]
    first, second = ({frozenset(b.tolist()) for b in batches} for batches in epochs)
    assert len(first & second) <= 2
    # runs of 48 / MIN_SPANS = 6 batches: a batch covers about a sixth of the range of lengths
    spread = [int(np.ptp(lengths[b])) for b in epochs[0]]
    assert np.median(spread) < 2 * len(lengths) / MIN_SPANS
    assert max(spread) > 2 * 16  # …but not one sorted run of consecutive lengths


def test_loss_weights_balance_domains_of_different_lengths() -> None:
    seqs = Sequences.from_lists([[0, 1, 2, 3, 4]] * 4 + [[5, 6]] * 6)  # 4 and 1 targets a row
    rows = TrainingRows.from_sequences(seqs, 8)
    groups = rows.segments([0, 5, 7])  # per batch of 2: 8 targets in group 0, 2 in group 1
    overall = 22 / 5  # targets per batch over both groups
    balanced = LossWeights.of(rows, 2, groups, bucketed=True, balance=1.0)
    assert balanced(0, 8) == pytest.approx(1.0) and balanced(1, 2) == pytest.approx(1.0)
    assert balanced(1, 1) == pytest.approx(0.5)  # a short batch weighs its share of targets
    per_target = LossWeights.of(rows, 2, groups, bucketed=True, balance=0.0)
    assert per_target(0, 8) == pytest.approx(8 / overall)
    assert per_target(1, 2) == pytest.approx(2 / overall)
    half = LossWeights.of(rows, 2, groups, bucketed=True, balance=0.5)
    assert half(0, 8) == pytest.approx((8 / overall) ** 0.5)
    plain = LossWeights.of(rows, 2, groups, bucketed=False, balance=0.0)
    assert plain(0, 3) == pytest.approx(8 / overall)  # batch means: only the domain factor
    alone = LossWeights.of(rows, 2, None, bucketed=True, balance=0.0)
    assert alone(0, 4) == pytest.approx(4 / overall)


def test_domain_balance_reaches_the_shared_weights() -> None:
    from lmrec.models.sequential.networks import SASRecNetwork
    from lmrec.training.trainer import Trainer

    # domain 0 (items 0-4): long sequences; domain 1 (items 5-9): pairs
    seqs = Sequences.from_lists([[0, 1, 2, 3, 4, 0, 1, 2]] * 8 + [[5, 6], [7, 8], [9, 5]] * 8)
    rows = TrainingRows.from_sequences(seqs, 8)

    def trained(balance: float) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        net = SASRecNetwork(10, 8, 1, 1, 0.0, 8)
        config = TrainConfig(epochs=2, batch_size=4, lr=0.05, warmup_steps=0, seed=3)
        Trainer(config.model_copy(update={"domain_balance": balance})).fit(
            net, rows, segments=[0, 5, 10]
        )
        return net.state_dict()

    once, again, per_target = trained(1.0), trained(1.0), trained(0.0)
    shared = [k for k in once if not k.startswith("items")]
    assert all(torch.equal(once[k], again[k]) for k in once)  # deterministic
    assert any(not torch.allclose(once[k], per_target[k]) for k in shared)


def test_grouped_batches_never_mix_groups() -> None:
    groups = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [50, 30, 21]))
    lengths = np.random.default_rng(1).integers(1, 9, size=len(groups))
    for bucket in (0, 2):
        batches = batch_order(lengths, 16, np.random.default_rng(2), bucket, groups)
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(len(groups)))
        assert all(len(set(groups[b].tolist())) == 1 for b in batches)
        assert {int(groups[b[0]]) for b in batches[:4]} != {0}  # groups interleave


def test_training_rows_know_their_item_range() -> None:
    rows = TrainingRows.from_sequences(Sequences.from_lists([[0, 1, 2], [5, 6], [3, 4]]), 3)
    np.testing.assert_array_equal(rows.segments([0, 3, 7]), [0, 1, 1])
    crossing = TrainingRows.from_sequences(Sequences.from_lists([[1, 2], [2, 3]]), 3)
    with pytest.raises(ValueError, match="training row 1 holds items 2 and 3"):
        crossing.segments([0, 3, 7])
