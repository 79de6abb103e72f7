"""TextSeqRec in each mode, rank fusion and the joint dataset, on two tiny synthetic text domains.

In both domains an item's text is a colour and a noun; every user stays with one colour. Domain A
(fruit) and domain B (clothes) share no item and no noun, only the colours, so a model that learned
"the next item has the colour of the last ones" on A can rank B's items without training on B.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lmrec.data.errors import DataError
from lmrec.data.joint import combine
from lmrec.models.fusion import ranks_of
from lmrec.models.registry import create_model
from lmrec.models.textseq import TextSeqRec
from lmrec.protocols.base import Split
from lmrec.protocols.leave_one_out import LeaveOneOut
from textseq_helpers import COLOURS, batch_of, context, domain, fit, hr

torch = pytest.importorskip("torch")


def test_items_never_trained_on_are_scored_by_their_text(tmp_path: Path) -> None:
    ds = domain("a")
    split = LeaveOneOut().split(ds.interactions)
    # drop every training interaction with a "plum": those 4 items are never seen in training
    plums = [i for i, t in enumerate(ds.catalog.field("text").values) if "plum" in str(t)]  # type: ignore[union-attr]
    train = split.train.select(~np.isin(split.train.items, plums))
    model = fit(ds, tmp_path, Split("loo", train, split.valid, split.test, ""))
    for row in range(8):
        # the user's colour's plum (only ever a softmax negative) beats most other-colour items
        colour = int(split.test.users[row]) % len(COLOURS)
        scores = model.score(batch_of(split.test, row))[0]
        own = np.arange(colour * 6, colour * 6 + 6)
        assert scores[plums[colour]] > np.quantile(np.delete(scores, own), 0.75)


def test_text_initialised_ids_learn_in_domain_and_reload(tmp_path: Path) -> None:
    ds = domain("a")
    with pytest.raises(ValueError, match="needs ids: true"):
        fit(ds, tmp_path, fusion="init")
    model = fit(ds, tmp_path, ids=True, fusion="init", temperature=0.0)
    assert hr(model, ds) >= 0.8
    # the adapter is unused: it neither trains nor counts
    net = model.network()
    adapter = sum(p.numel() for p in net.adapter.parameters())
    assert adapter > 0 and not any(p.requires_grad for p in net.adapter.parameters())
    built = sum(p.numel() for p in net.parameters())
    assert model.parameter_counts() == (built - adapter, built - adapter)
    model.save(tmp_path / "model")
    again = TextSeqRec.load(tmp_path / "model")
    batch = batch_of(LeaveOneOut().split(ds.interactions).test, 0)
    np.testing.assert_allclose(again.score(batch), model.score(batch), rtol=1e-5)


def test_text_prior_transfers_its_weight_and_uses_the_target_text(tmp_path: Path) -> None:
    a, b = domain("a"), domain("b", seed=1)
    model = fit(a, tmp_path, prior=True, train={"epochs": 5})
    weight = model.network().prior_weights().detach()  # it learned (it starts at 7, 3)
    assert not torch.allclose(weight, torch.tensor([[7.0, 3.0]]), atol=0.05)
    model.save(tmp_path / "prior")
    tuned = fit(
        b, tmp_path, pretrained=str(tmp_path / "prior"), tune="adapter", train={"epochs": 2}
    )
    assert tuned.config.prior  # architecture from the checkpoint
    assert tuned.network().prior_weight is not None
    assert tuned.network().prior_weight.requires_grad  # the adapter mode tunes it
    unit = tuned.network().unit
    assert unit.shape == (24, tuned.text.shape[1])
    np.testing.assert_allclose(unit.mean(0).numpy(), 0.0, atol=0.05)  # centred on B, not A
    with pytest.raises(ValueError, match="prior: true needs train.loss='ce'"):
        create_model("textseq", {"prior": True, "train": {"loss": "sampled"}})


def test_transformer_weight_scales_the_transformer_against_the_prior(tmp_path: Path) -> None:
    a, b = domain("a"), domain("b", seed=1)
    fit(a, tmp_path, prior=True, train={"epochs": 3}).save(tmp_path / "prior")
    cases = LeaveOneOut().split(b.interactions).test
    batch = batch_of(cases, 0)

    def attached(**config: Any) -> np.ndarray:
        model = fit(b, tmp_path, pretrained=str(tmp_path / "prior"), tune="none", **config)
        return model.score(batch)

    full, half, prior_only = (
        attached(),
        attached(transformer_weight=0.5),
        attached(transformer_weight=0),
    )
    assert not np.allclose(full, prior_only)
    # scores are linear in the weight: transformer + prior, 0.5 transformer + prior, prior
    np.testing.assert_allclose(half, (full + prior_only) / 2, rtol=1e-4, atol=1e-4)


def test_ranks_of_breaks_ties_by_item_index() -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.1]], dtype=np.float32)
    assert ranks_of(scores).tolist() == [[2.0, 1.0, 3.0, 4.0]]


def test_rank_fusion_follows_its_heaviest_member(tmp_path: Path) -> None:
    a = domain("a")
    split = LeaveOneOut().split(a.interactions)
    ctx = context(a, tmp_path)
    solo = create_model("itemknn", {}, ctx).fit(split.train)
    members = [{"model": "pop"}, {"model": "itemknn", "weight": 1000.0}]
    fused = create_model("ensemble", {"members": members, "k": 0}, ctx).fit(split.train)
    batch = batch_of(split.test, 3)
    assert (
        np.argsort(-fused.score(batch)[0])[:5].tolist()
        == np.argsort(-solo.score(batch)[0], kind="stable")[:5].tolist()
    )
    with pytest.raises(ValueError, match="members"):
        create_model("ensemble", {"members": [{"model": "pop"}]})


def test_joint_dataset_prefixes_ids_and_keeps_each_domains_text() -> None:
    a, b = domain("a"), domain("b")
    texts = [list(d.catalog.field("text").values) for d in (a, b)]  # type: ignore[union-attr]
    joint = combine([a, b], texts)  # type: ignore[arg-type]
    inter = joint.interactions
    assert inter.n_items == 48 and inter.n_users == 120 and len(inter) == 600
    assert inter.item_vocab.ids[24] == "colours-b/b0"
    assert joint.catalog is not None and joint.catalog.title("colours-b/b0") == "red red red shirt"
    # user 0 of B keeps their own items, in order, under the new indices
    seq = inter.sequences()[60]
    assert [inter.item_vocab.ids[i] for i in seq] == [
        "colours-b/" + b.interactions.item_vocab.ids[i] for i in b.interactions.sequences()[0]
    ]
    with pytest.raises(DataError, match="once"):
        combine([a, a], texts)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="texts for"):
        combine([a, b], [texts[0], texts[1][:3]])  # type: ignore[arg-type]


def test_joint_model_scores_each_domain_against_its_own_items(tmp_path: Path) -> None:
    import torch.nn.functional as F

    from lmrec.data.joint import domain_bounds
    from lmrec.training.config import TrainConfig
    from lmrec.training.trainer import next_item_loss

    a, b = domain("a"), domain("b", seed=1)
    texts = [list(d.catalog.field("text").values) for d in (a, b)]  # type: ignore[union-attr]
    joint = combine([a, b], texts)  # type: ignore[arg-type]
    model = fit(joint, tmp_path, domains=True, prior=True, train={"epochs": 25})
    assert model.item_segments() == [0, 24, 48]
    net = model.network()
    # the prior centres each domain on its own mean text vector
    text_b = torch.from_numpy(model.text[24:])
    unit = net.unit  # type: ignore[union-attr]
    torch.testing.assert_close(unit[24:], F.normalize(text_b - text_b.mean(0), dim=-1))
    # one pair of prior weights per domain, each trained on its own domain's steps
    assert net.prior_weight is not None and net.prior_weight.shape == (2, 2)
    with torch.no_grad():
        net.prior_weight[1] = torch.tensor([5.0, -2.0])  # B's differ from A's
    # scoring B's range gives B's columns of the full scores, on both prior paths
    inputs = torch.tensor([[0, 25, 27, 30], [26, 31, 40, 44]])
    for where in (
        inputs > 0,
        torch.zeros_like(inputs, dtype=torch.bool).index_fill_(1, torch.tensor([3]), True),
    ):
        full = net.scores(inputs, where)
        torch.testing.assert_close(net.scores(inputs, where, items=(24, 48)), full[:, 24:48])
    # the loss is the softmax over B's items only
    targets = torch.tensor([[0, 27, 30, 33], [31, 40, 44, 48]])
    where = targets > 0
    want = F.cross_entropy(net.scores(inputs, where)[:, 24:48], targets[where] - 25)
    got = next_item_loss(net, inputs, targets, TrainConfig(), torch.Generator(), items=(24, 48))
    torch.testing.assert_close(got, want)
    # attached to each domain alone, the joint model ranks by the colour rule
    with pytest.raises(ValueError, match="not inside one domain"):
        net.scores(inputs, where, items=(20, 30))
    model.save(tmp_path / "joint")
    assert model.domain_names() == ["colours-a", "colours-b"]
    for row, ds in enumerate((a, b)):
        alone = fit(ds, tmp_path, pretrained=str(tmp_path / "joint"), tune="none", recenter=False)
        # attached to one of its domains, the joint model keeps that domain's prior weights
        torch.testing.assert_close(alone.network().prior_weight, net.prior_weight[row : row + 1])
        assert hr(alone, ds) >= 0.6, ds.name  # chance is about 3 / 20
    # a domain the joint model never saw starts from the mean of its domains' weights
    c = domain("c", seed=2)
    new = fit(c, tmp_path, pretrained=str(tmp_path / "joint"), tune="none")
    torch.testing.assert_close(new.network().prior_weight, net.prior_weight.mean(0, keepdim=True))
    assert domain_bounds(["x/1", "x/2", "y/1"]) == [0, 2, 3]
    with pytest.raises(DataError, match="not contiguous"):
        domain_bounds(["x/1", "y/1", "x/2"])
    with pytest.raises(DataError, match="no 'dataset/' prefix"):
        fit(a, tmp_path, domains=True)
