"""TextSeqRec carried to another domain: zero-shot transfer, the encoder a checkpoint keeps,
parameter-efficient tuning, IDs carried over by item id, and distillation from a saved teacher.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.data.errors import DataError
from lmrec.errors import CheckpointError, ConfigError
from lmrec.models.registry import create_model
from lmrec.models.textseq import TextSeqRec
from lmrec.protocols.leave_one_out import LeaveOneOut
from textseq_helpers import batch_of, domain, fit, hr

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on domain A, saved."""
    tmp = tmp_path_factory.mktemp("source")
    model = fit(domain("a"), tmp)
    assert hr(model, domain("a")) >= 0.8  # it learned the colour rule in-domain
    model.save(tmp / "model")
    return tmp / "model"


def test_zero_shot_transfer_to_a_domain_with_no_shared_item(source: Path, tmp_path: Path) -> None:
    b = domain("b", seed=1)
    model = fit(b, tmp_path, pretrained=str(source), tune="none")
    assert model.report is not None and model.report.stopped == "no training (tune=none)"
    original = TextSeqRec.load(source).network().state_dict()
    for key, value in model.network().state_dict().items():
        if key != "adapter.bias":  # re-centred on B's text; everything else is A's weights
            assert torch.equal(value, original[key]), key
    assert hr(model, b) >= 0.6  # chance is about 3 / 20
    with pytest.raises(ConfigError, match="needs `pretrained`"):  # refused by the config
        fit(b, tmp_path, tune="none")


def test_a_pretrained_model_keeps_the_encoder_it_was_trained_on(
    source: Path, tmp_path: Path
) -> None:
    b = domain("b", seed=1)
    trained_on = TextSeqRec.load(source).config.encoder
    assert fit(b, tmp_path, pretrained=str(source), tune="none").config.encoder == trained_on
    with pytest.raises(ConfigError, match=f"was trained on '{trained_on}' vectors"):
        fit(b, tmp_path, pretrained=str(source), tune="none", encoder=str(tmp_path / "other"))
    moved = tmp_path / "moved"  # the same encoder folder at another path is accepted
    (tmp_path / "enc").mkdir()
    (tmp_path / "enc" / "weights").write_bytes(b"same")
    moved.mkdir()
    (moved / "weights").write_bytes(b"same")
    fit(b, tmp_path, encoder=str(tmp_path / "enc"), train={"epochs": 1}).save(tmp_path / "m")
    again = fit(b, tmp_path, pretrained=str(tmp_path / "m"), tune="none", encoder=str(moved))
    assert again.config.encoder == str(moved)


@pytest.mark.parametrize("tune", ["adapter", "adapter+lora"])
def test_parameter_efficient_tuning_trains_only_its_share(
    source: Path, tmp_path: Path, tune: str
) -> None:
    b = domain("b", n_users=12, seed=2)
    model = fit(b, tmp_path, pretrained=str(source), tune=tune, train={"epochs": 3})
    trainable, total = model.parameter_counts()
    assert 0 < trainable < total
    after = model.network().state_dict()
    before = TextSeqRec.load(source).network().state_dict()
    assert not torch.equal(after["adapter.weight"], before["adapter.weight"])
    frozen = (
        "blocks.0.attn.qkv.base.weight" if tune == "adapter+lora" else "blocks.0.attn.qkv.weight"
    )
    assert torch.equal(after[frozen], before["blocks.0.attn.qkv.weight"])
    if tune == "adapter+lora":
        assert after["blocks.0.attn.qkv.up"].abs().sum() > 0  # LoRA moved away from zero
    # the tuned model reloads to the same scores
    model.save(tmp_path / "tuned")
    again = TextSeqRec.load(tmp_path / "tuned")
    batch = batch_of(LeaveOneOut().split(b.interactions).test, 0)
    np.testing.assert_allclose(again.score(batch), model.score(batch), rtol=1e-5, atol=1e-5)


def test_in_domain_ids_are_carried_over_by_item_id(source: Path, tmp_path: Path) -> None:
    a = domain("a", seed=3)
    model = fit(a, tmp_path, ids=True, train={"epochs": 2})
    model.save(tmp_path / "ids")
    again = fit(a, tmp_path, pretrained=str(tmp_path / "ids"), tune="none", ids=True)
    assert torch.equal(again.network().items.weight, model.network().items.weight)
    # the architecture comes from the checkpoint, whatever the config says
    assert (
        fit(a, tmp_path, pretrained=str(tmp_path / "ids"), tune="none", experts=3).config.experts
        == 2
    )
    sasrec = create_model("sasrec", {"hidden_size": 8, "max_len": 4, "train": {"epochs": 1}})
    sasrec.fit(LeaveOneOut().split(a.interactions).train)
    sasrec.save(tmp_path / "sasrec")  # type: ignore[attr-defined]
    with pytest.raises(CheckpointError, match="holds model 'sasrec'"):
        fit(a, tmp_path, pretrained=str(tmp_path / "sasrec"), tune="none")


@pytest.mark.parametrize("top_k", [0, 3])  # full distribution each step / cached top 3
def test_distilled_student_follows_the_teacher(source: Path, tmp_path: Path, top_k: int) -> None:
    a = domain("a")
    teacher = TextSeqRec.load(source)
    student = fit(
        a,
        tmp_path,
        teacher=str(source),
        distill_weight=1.0,
        distill_top_k=top_k,
        hidden_size=8,
        train={"epochs": 60},
    )
    cases = LeaveOneOut().split(a.interactions).test
    from lmrec.core.query import QueryBatch

    batch = QueryBatch(cases.users, cases.histories)
    t, s = teacher.score(batch), student.score(batch)
    for h in range(len(cases)):  # history items aside, the same colour group ranks first
        seen = list(cases.histories[h])
        t[h, seen] = s[h, seen] = -np.inf
    agree = np.mean(np.argmax(t, 1) // 6 == np.argmax(s, 1) // 6)
    assert agree >= 0.9
    with pytest.raises(DataError, match="other items"):
        fit(domain("b"), tmp_path, teacher=str(source), train={"epochs": 1})


def test_cached_soft_targets_give_the_exact_kl_gradient(source: Path) -> None:
    from lmrec.training.batches import TrainingRows
    from lmrec.training.distill import Distillation, SoftTargets, distillation_term

    teacher = TextSeqRec.load(source)
    net = teacher.network()
    rows = TrainingRows.from_sequences(teacher.fitted_state().histories, 5)
    n_items = len(teacher.item_vocab)
    distill = Distillation(net, temperature=2.0, top_k=n_items)  # every item: exact
    soft = SoftTargets.compute(distill, rows, 4, torch.device("cpu"))
    assert soft.items.shape == (*rows.inputs.shape, n_items)
    chosen = np.array([2, 0, 1])
    inputs, targets = (torch.from_numpy(m) for m in rows.batch(chosen))
    where = targets > 0
    logits = torch.randn(int(where.sum()), n_items, requires_grad=True)
    exact = torch.autograd.grad(distillation_term(logits, inputs, where, distill), logits)[0]
    cached = soft.batch(chosen, inputs.shape[1], torch.device("cpu"))
    got = torch.autograd.grad(distillation_term(logits, inputs, where, distill, cached), logits)[0]
    torch.testing.assert_close(got, exact, rtol=2e-3, atol=1e-5)  # float16 probabilities
    with pytest.raises(ValueError, match="top_k"):
        SoftTargets.compute(Distillation(net), rows, 4, torch.device("cpu"))


def test_distillation_needs_full_softmax(source: Path) -> None:
    from lmrec.training.config import TrainConfig
    from lmrec.training.distill import Distillation
    from lmrec.training.trainer import next_item_loss

    net = TextSeqRec.load(source).network()
    inputs = torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match="loss='ce'"):
        next_item_loss(
            net, inputs, inputs, TrainConfig(loss="sampled"), torch.Generator(), Distillation(net)
        )
