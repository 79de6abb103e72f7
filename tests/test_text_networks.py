"""The torch pieces of TextSeqRec's text prior: its features, the windowed max, the cosine table
and the in-place weighted mix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def network(
    text: Any,
    hidden: int,
    layers: int,
    heads: int,
    dropout: float,
    max_len: int,
    experts: int,
    ids: bool,
    temperature: float,
    *,
    prior: bool = False,
    prior_decay: float = 0.9,
    prior_window: int = 10,
    prior_gain: float = 1.0,
    fusion: str = "add",
    segments: tuple[int, ...] | list[int] = (),
) -> Any:
    """A TextSeqNetwork from the architecture's fields (prior_gain 1: the parameters are the
    prior's weights)."""
    from lmrec.models.textseq.config import TextSeqArchitecture
    from lmrec.models.textseq.networks import TextSeqNetwork

    arch = TextSeqArchitecture(
        hidden_size=hidden,
        layers=layers,
        heads=heads,
        max_len=max_len,
        experts=experts,
        temperature=temperature,
        prior=prior,
        prior_decay=prior_decay,
        prior_window=prior_window,
        prior_gain=prior_gain,
        fusion=fusion,  # type: ignore[arg-type]
    )
    return TextSeqNetwork(text, arch, ids=ids, dropout=dropout, segments=segments)


def test_text_prior_is_the_zero_shot_mean_max_text_score() -> None:

    rng = np.random.default_rng(0)
    text = torch.from_numpy(rng.normal(size=(5, 6)).astype(np.float32))
    net = network(text, 4, 1, 1, 0.0, 4, 2, False, 0.1, prior=True, prior_decay=0.5, prior_window=2)
    net.eval()
    inputs = torch.tensor([[0, 2, 4, 1]])  # left padding, then items 1, 3, 0 (shifted by one)
    where = torch.tensor([[False, False, True, True]])
    unit = text.numpy() - text.numpy().mean(0)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    means, bests = [], []
    for history in ([1, 3], [1, 3, 0]):
        back = [0.5 ** (len(history) - 1 - n) for n in range(len(history))]
        pooled = sum(w * unit[i] for w, i in zip(back, history, strict=True))
        means.append(unit @ (pooled / np.linalg.norm(pooled)))
        # best match among the last two items only
        bests.append(np.max([back[n] * (unit @ unit[history[n]]) for n in (-2, -1)], axis=0))
    mean, best = (t.numpy() for t in net.text_prior(inputs, where))
    np.testing.assert_allclose(mean, np.array(means), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(best, np.array(bests), rtol=1e-5, atol=1e-6)
    assert net.prior_weight is not None
    with torch.no_grad():
        net.prior_weight.copy_(torch.tensor([3.0, 2.0]))
        plain = (net(inputs)[where] @ net.item_table().T).numpy()
        np.testing.assert_allclose(
            net.scores(inputs, where).numpy(), plain + 3.0 * mean + 2.0 * best, rtol=1e-5, atol=1e-5
        )
        # scoring only the last position reads the same features as training at every position
        last = torch.tensor([[False, False, False, True]])
        np.testing.assert_allclose(
            net.scores(inputs, last).numpy(), net.scores(inputs, where).numpy()[1:], rtol=1e-5
        )


@pytest.mark.parametrize("decay", [0.9, 0.3])  # 0.3: too steep to rescale 200 positions
def test_decayed_window_max_matches_a_loop(decay: float) -> None:
    from lmrec.models.textseq.networks import decayed_window_max

    values = torch.randn(2, 200, 3)
    values[0, :5] = float("-inf")  # padding
    want = torch.full_like(values, float("-inf"))
    for t in range(200):
        for k in range(min(7, t + 1)):
            want[:, t] = torch.maximum(want[:, t], decay**k * values[:, t - k])
    got = decayed_window_max(values.clone(), decay, 7)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_text_prior_without_the_cosine_table_gives_the_same_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lmrec.models.textseq import networks as text_networks

    text = torch.randn(9, 6)
    inputs = torch.tensor([[0, 0, 2, 4, 1, 9], [3, 5, 7, 8, 6, 2]])
    where = inputs > 0
    masks = (where, torch.zeros_like(where).index_fill_(1, torch.tensor([5]), True))
    torch.manual_seed(0)
    with_table = network(text, 4, 1, 1, 0.0, 6, 2, False, 0.1, prior=True)
    want = [with_table.text_prior(inputs, mask) for mask in masks]  # the table is built here
    monkeypatch.setattr(text_networks, "COSINE_TABLE_ITEMS", 5)
    torch.manual_seed(0)
    without = network(text, 4, 1, 1, 0.0, 6, 2, False, 0.1, prior=True)
    for mask, expected in zip(masks, want, strict=True):
        for a, b in zip(expected, without.text_prior(inputs, mask), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert with_table.cosines and not without.cosines


def test_in_place_prior_mix_has_the_plain_gradients() -> None:
    from lmrec.models.textseq.networks import AddWeighted

    h, table = torch.randn(5, 3, requires_grad=True), torch.randn(4, 3)
    a, b = torch.randn(5, 4), torch.randn(5, 4)
    weight = torch.tensor([2.0, -1.0], requires_grad=True)
    target = torch.tensor([0, 3, 1, 1, 2])
    plain = torch.nn.functional.cross_entropy(h @ table.T + weight[0] * a + weight[1] * b, target)
    want = torch.autograd.grad(plain, (h, weight))
    fused = torch.nn.functional.cross_entropy(AddWeighted.apply(h @ table.T, a, b, weight), target)
    torch.testing.assert_close(fused, plain)
    for got, expected in zip(torch.autograd.grad(fused, (h, weight)), want, strict=True):
        torch.testing.assert_close(got, expected)


def test_a_checkpoint_with_one_pair_of_prior_weights_loads_into_every_domain() -> None:

    text = torch.randn(7, 6)
    joint = network(text, 4, 1, 1, 0.0, 4, 2, False, 0.1, prior=True, segments=[0, 3, 7])
    assert joint.prior_weight is not None and joint.prior_weight.shape == (2, 2)
    saved = {**joint.state_dict(), "prior_weight": torch.tensor([4.0, 1.5])}  # an older save
    joint.load_state_dict(saved)
    torch.testing.assert_close(joint.prior_weight.detach(), torch.tensor([[4.0, 1.5]] * 2))
    with pytest.raises(RuntimeError, match="prior_weight"):  # a real mismatch still fails
        joint.load_state_dict({**saved, "prior_weight": torch.ones(3, 2)})
    # a save from before the gain held the weights themselves: it loads with gain 1
    fast = network(text, 4, 1, 1, 0.0, 4, 2, False, 0.1, prior=True, prior_gain=50.0)
    torch.testing.assert_close(fast.prior_weights().detach(), torch.tensor([[7.0, 3.0]]))
    fast.load_state_dict({k: v for k, v in saved.items() if k != "prior_gain"})
    torch.testing.assert_close(fast.prior_weights().detach(), torch.tensor([[4.0, 1.5]]))


def test_the_prior_gain_speeds_up_the_prior_weights_learning() -> None:

    text = torch.randn(7, 6)
    inputs = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    moved = []
    for gain in (1.0, 100.0):
        torch.manual_seed(0)
        net = network(text, 4, 1, 1, 0.0, 4, 2, False, 0.1, prior=True, prior_gain=gain)
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(5):
            optimiser.zero_grad()
            net.scores(inputs[:, :-1], inputs[:, :-1] > 0).logsumexp(-1).sum().backward()
            optimiser.step()
        moved.append(float((net.prior_weights().detach() - torch.tensor([7.0, 3.0])).abs().max()))
    assert 50 * moved[0] < moved[1] < 150 * moved[0]  # about gain times lr per Adam step


@pytest.mark.parametrize("text_net", [False, True])
def test_scoring_the_last_position_only_matches_the_full_forward(text_net: bool) -> None:
    from lmrec.models.sequential.networks import SASRecNetwork

    torch.manual_seed(0)
    net: SASRecNetwork
    if text_net:
        net = network(torch.randn(9, 6), 8, 3, 2, 0.1, 5, 2, True, 0.1, prior=True)
    else:
        net = SASRecNetwork(9, 8, 3, 2, 0.1, 5)
    net.eval()
    inputs = torch.tensor([[0, 0, 3, 1, 7], [2, 9, 4, 4, 5], [0, 0, 0, 0, 6]])
    last = torch.zeros(inputs.shape, dtype=torch.bool)
    last[:, -1] = True
    with torch.no_grad():
        full = net(inputs)[:, -1]
        torch.testing.assert_close(net.last_hidden(inputs), full, rtol=1e-5, atol=1e-5)
        assert net.encode(inputs, last=True).shape == (3, 1, 8)
        table = net.item_table()
        want = net.add_score_terms(full @ table.T, inputs, last, None)
        torch.testing.assert_close(net.scores(inputs, last), want, rtol=1e-5, atol=1e-5)
        # two positions in one row: the full forward
        both = last.clone()
        both[1, -2] = True
        assert net.scores(inputs, both).shape == (4, 9)


def test_init_fusion_starts_the_id_table_from_the_texts_principal_components() -> None:
    from lmrec.models.textseq.networks import principal_components
    from lmrec.models.textseq.tuning import parameter_counts

    torch.manual_seed(0)
    text = torch.randn(30, 12)
    text[7] = text[3]  # the same text: the same starting vector
    coords = principal_components(text, 8)
    assert coords.shape == (30, 8)
    assert abs(float(coords.std()) - 8**-0.5) < 1e-4
    torch.testing.assert_close(coords[7], coords[3])
    # the first axis carries the most variance; a wider table than the text's rank gets random
    # columns rather than zeros
    assert float(coords[:, 0].var()) > float(coords[:, -1].var())
    assert float(principal_components(text[:, :4], 8)[:, 4:].abs().sum()) > 0

    net = network(text, 8, 1, 1, 0.0, 5, 2, True, 0.0, fusion="init")
    added = network(text, 8, 1, 1, 0.0, 5, 2, True, 0.0)
    net.eval()
    torch.testing.assert_close(net.items.weight[8], net.items.weight[4])
    # dot products against the ID table itself, as SASRec's; the unused adapter does not train
    torch.testing.assert_close(net.item_table(), net.items.weight[1:])
    without_adapter = parameter_counts(added)[1] - parameter_counts(added.adapter)[1]
    assert parameter_counts(net) == (without_adapter, without_adapter)
