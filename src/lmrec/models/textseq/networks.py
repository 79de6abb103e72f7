"""Torch networks of the text-based sequence model :class:`~lmrec.models.textseq.TextSeqRec`.

Items enter as frozen text vectors (one row per item, from a sentence encoder). A trainable
:class:`MoEAdapter` maps them into the Transformer's space; the same adapted vectors are the inputs
of the sequence encoder and the output table the next item is scored against, so an item never seen
in training is scorable as soon as it has text. Follows the conventions of
:mod:`lmrec.models.sequential.networks` (indices shifted by one, 0 = padding, left padding).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lmrec.models.sequential.networks import FastDropout, SASRecNetwork
from lmrec.models.textseq.config import TextSeqArchitecture

# catalogues up to this size keep an item x item cosine table for the text prior (20k: 1.6 GB)
COSINE_TABLE_ITEMS = 20_000


class MoEAdapter(nn.Module):
    """Parametric whitening and a mixture-of-experts projection (UniSRec, Hou et al., KDD 2022).

    Expert ``e`` maps a text vector ``x`` to ``(x - b_e) W_e``; a softmax gate over ``x`` mixes the
    experts. The biases start at the mean text vector (the centring of whitening) and the weights
    are scaled so that adapted vectors start with about unit variance per coordinate.
    """

    def __init__(self, text: torch.Tensor, hidden: int, experts: int, dropout: float) -> None:
        super().__init__()
        dim = text.shape[1]
        mean = text.mean(0) if len(text) else torch.zeros(dim)
        spread = float((text - mean).norm(dim=1).mean()) if len(text) else 1.0
        self.bias = nn.Parameter(mean.repeat(experts, 1))
        # Small weights times a fixed gain: Adam moves each weight by about lr per step, so
        # weights of size ~1/sqrt(dim) learn at the pace of an embedding table, while the gain
        # gives adapted vectors about unit variance per coordinate (a mean of `experts`
        # projections has 1/experts of one's variance).
        self.weight = nn.Parameter(torch.randn(experts, dim, hidden) / math.sqrt(dim))
        # a buffer, so a transferred model keeps its source's gain
        self.register_buffer("gain", torch.tensor(math.sqrt(dim * experts) / max(spread, 1e-3)))
        self.gate = nn.Linear(dim, experts, bias=False)
        nn.init.zeros_(self.gate.weight)  # uniform mixture at the start
        self.drop = FastDropout(dropout)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        """``(n, text_dim)`` → ``(n, hidden)``."""
        x = self.drop(text)
        projected = torch.einsum("nd,edh->neh", x, self.weight)
        shift = torch.einsum("ed,edh->eh", self.bias, self.weight)
        gate = torch.softmax(self.gate(x), dim=-1)
        mixed = (gate[..., None] * (projected - shift[None])).sum(1)
        gain = self.gain
        assert isinstance(gain, torch.Tensor)
        out: torch.Tensor = mixed * gain
        return out

    def recentre(self, offset: torch.Tensor) -> None:
        """Move every whitening bias by ``offset`` (new catalogue mean − old one)."""
        with torch.no_grad():
            self.bias.add_(offset[None])


class TextSeqNetwork(SASRecNetwork):
    """SASRec's causal Transformer over adapted text vectors, optionally plus item-ID embeddings.

    With ``temperature > 0`` scores are cosine similarities divided by the temperature (as in
    UniSRec); with 0 they are dot products (as in SASRec). With ``prior`` learned multiples (one
    pair per domain of a joint model) of two training-free text scores are added (the zero-shot
    text model's "mean-max"): the cosine between the recency-weighted mean of the history's
    centred text vectors (weight ``prior_decay**n`` n steps back) and each item's, and each
    item's best recency-weighted cosine to one of the last ``prior_window`` items. The
    Transformer then learns what text similarity misses, and a transferred model keeps the text
    geometry of its target catalogue (the centring uses the catalogue it is built for).
    """

    def __init__(
        self,
        text: torch.Tensor,
        arch: TextSeqArchitecture,
        *,
        ids: bool,
        dropout: float,
        prior_weight: float = 10.0,
        segments: Sequence[int] = (),
    ) -> None:
        hidden = arch.hidden_size
        super().__init__(len(text), hidden, arch.layers, arch.heads, dropout, arch.max_len, ids)
        self.use_ids = ids
        self.register_buffer("known_ids", None, persistent=False)  # use_known_ids
        self.id_rows, self.id_dropout, self.mask_unseen = False, 0.0, False
        self.text_only = False  # every item as if it were new (its text alone)
        # "init": the ID table starts as the text's principal components and replaces the adapter
        self.text_init = ids and arch.fusion == "init"
        self.temperature = arch.temperature
        self.adapter = MoEAdapter(text, hidden, arch.experts, dropout)
        # submodules built (and saved) but never used: frozen, and not counted
        self.unused: tuple[str, ...] = ("adapter",) if self.text_init else ()
        if self.text_init:
            with torch.no_grad():
                self.items.weight[1:] = principal_components(text.float(), hidden)
        for name in self.unused:
            self.get_submodule(name).requires_grad_(False)
        self.register_buffer("text", text.float(), persistent=False)
        self.prior_decay = arch.prior_decay
        self.prior_window = arch.prior_window
        self.prior_weight: nn.Parameter | None = None
        self.transformer_weight = 1.0  # a run's choice (TextSeqRecConfig), not saved
        # item ranges (domains of a joint model): the prior centres each on its own mean
        self.bounds = list(segments) or [0, len(text)]
        if (
            self.bounds[0] != 0
            or self.bounds[-1] != len(text)
            or sorted(self.bounds) != self.bounds
        ):
            raise ValueError(f"segments {self.bounds} do not cut the {len(text)} items in order")
        # item x item cosines of each scored range for training, built at its first training
        # step (see cosine_rows)
        self.cosines: dict[tuple[int, int], torch.Tensor] = {}
        if arch.prior:
            parts = [
                part - (part.mean(0) if len(part) else 0.0)
                for part in text.float().tensor_split(self.bounds[1:-1])
            ]
            self.register_buffer("unit", F.normalize(torch.cat(parts), dim=-1), persistent=False)
            # one (mean, best match) pair per domain, split as in the zero-shot model's
            # mean-max: 70% mean, 30% best match. The parameter is the weights / prior_gain:
            # Adam moves a parameter by about lr per step, so with gain 1 a weight of 10 moves
            # by 1% per step at lr 1e-3; the gain makes it move gain times faster.
            start = torch.tensor([0.7, 0.3]) * prior_weight / arch.prior_gain
            self.prior_weight = nn.Parameter(start.repeat(len(self.bounds) - 1, 1))
            # a buffer, so a transferred model keeps its source's gain
            self.register_buffer("prior_gain", torch.tensor(float(arch.prior_gain)))

    def item_vectors(self, indices: torch.Tensor) -> torch.Tensor:
        """Adapted vectors of shifted item indices (0 = padding → zero vector)."""
        real = indices > 0
        out: torch.Tensor = self.adapter(self.text_vectors()[(indices - 1).clamp(min=0)])
        if self.use_ids and not self.text_only:
            ids = self.items(indices) * self.scale
            known = self.known_ids
            if isinstance(known, torch.Tensor) and self.id_rows:  # id_fallback: text alone
                keep = known[indices]
                if self.training and self.id_dropout:
                    keep = keep * (torch.rand_like(keep) >= self.id_dropout)
                ids = ids * keep[:, None]
            out = out + ids
        return out * real[:, None]

    def use_known_ids(
        self, seen: torch.Tensor, id_rows: bool, dropout: float, mask_unseen: bool
    ) -> None:
        """``seen``: one flag per item, True where it has training interactions. ``id_rows``
        (``id_fallback``): read the ID rows of seen items only, the others are their text vectors
        alone; ``dropout``: in training, drop each read row with this probability.
        ``mask_unseen``: in training, unseen items are left out of the softmax (they did not
        exist yet), so the model never learns to push a new item's text down."""
        self.known_ids = torch.cat([torch.zeros(1), seen.float()])
        self.id_rows, self.id_dropout, self.mask_unseen = id_rows, dropout, mask_unseen

    def text_vectors(self) -> torch.Tensor:
        text = self.text
        assert isinstance(text, torch.Tensor)
        return text

    def lookup(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.text_init:  # SASRec's ID embeddings; the text only set their start
            return super().lookup(inputs)
        # adapt each distinct item of the batch once
        unique, inverse = torch.unique(inputs, return_inverse=True)
        return self.item_vectors(unique)[inverse]

    def item_table(self, items: tuple[int, int] | None = None) -> torch.Tensor:
        if self.text_init:  # SASRec's tied ID table
            ids = super().item_table(items)
            return F.normalize(ids, dim=-1) if self.temperature else ids
        text = self.text_vectors()
        start, stop = items or (0, len(text))
        table = self.item_vectors(torch.arange(start + 1, stop + 1, device=text.device))
        if self.temperature:
            return F.normalize(table, dim=-1)
        # inputs are scaled by sqrt(hidden) (as SASRec's embeddings), the output table is not
        return table / self.scale

    def encode(self, inputs: torch.Tensor, last: bool = False) -> torch.Tensor:
        hidden = super().encode(inputs, last)
        if self.temperature:
            return F.normalize(hidden, dim=-1) / self.temperature
        return hidden

    def add_score_terms(
        self,
        out: torch.Tensor,
        inputs: torch.Tensor,
        where: torch.Tensor,
        items: tuple[int, int] | None,
    ) -> torch.Tensor:
        """The text prior's weighted scores, added in place to ``out`` (the Transformer's scores,
        first multiplied by ``transformer_weight`` when that is not 1)."""
        if self.prior_weight is None:
            return out
        if self.transformer_weight != 1.0:
            out = out * self.transformer_weight
        weight = self.prior_weights()
        domain = self.domain_of(items)
        with torch.no_grad():  # fixed features: only their weights learn
            mean, best = self.text_prior(inputs, where, items)
        if items is None and len(weight) > 1:  # every item of several domains: per-column weights
            sizes = torch.tensor([b - a for a, b in itertools.pairwise(self.bounds)])
            columns = weight.repeat_interleave(sizes.to(weight.device), dim=0)
            return out + mean * columns[:, 0] + best * columns[:, 1]
        row = weight[domain]
        mixed: torch.Tensor = AddWeighted.apply(out, mean, best, row)  # type: ignore[no-untyped-call]
        return mixed

    def softmax_excluded(self, items: tuple[int, int] | None = None) -> torch.Tensor | None:
        """With ``mask_unseen``: the items without training interactions (they did not exist
        yet, so the training softmax leaves them out)."""
        known = self.known_ids
        if not self.mask_unseen or not isinstance(known, torch.Tensor):
            return None
        start, stop = items or (0, len(known) - 1)
        return known[1:][start:stop] == 0

    def prior_weights(self) -> torch.Tensor:
        """The text prior's ``(domains, 2)`` (mean, best match) weights."""
        gain = self.prior_gain
        assert self.prior_weight is not None and isinstance(gain, torch.Tensor)
        return self.prior_weight * gain

    def domain_of(self, items: tuple[int, int] | None) -> int:
        """Index of the domain holding the item range ``items`` (None: the first and only)."""
        if items is None:
            return 0
        start, stop = items
        domain = bisect.bisect_right(self.bounds, start) - 1
        if not 0 <= domain < len(self.bounds) - 1 or stop > self.bounds[domain + 1]:
            raise ValueError(f"items {items} are not inside one domain of {self.bounds}")
        return domain

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        key = prefix + "prior_weight"
        saved = state_dict.get(key)
        if saved is not None and self.prior_weight is not None:
            # saved before the gain: the parameter held the weights themselves
            state_dict.setdefault(prefix + "prior_gain", torch.tensor(1.0))
            if saved.dim() == 1:  # saved before weights were per domain: one pair for all
                state_dict[key] = saved.expand_as(self.prior_weight).clone()
        super()._load_from_state_dict(state_dict, prefix, *args)

    def text_prior(
        self, inputs: torch.Tensor, where: torch.Tensor, items: tuple[int, int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two ``(selected positions, n_items)`` text scores (only the range ``items`` when
        given) at each selected position: the cosine between the recency-weighted mean of the history's centred text vectors and every
        item's, and every item's best recency-weighted cosine to one of the last
        ``prior_window`` history items (zeros when ``prior_window`` is 0).

        Training selects most positions: every position's cosines to every item are computed
        once and both scores follow by cheap passes along the sequence. Scoring selects one
        position per row: the mean is pooled in text space and only the last window is read.
        """
        unit = self.unit
        assert isinstance(unit, torch.Tensor)
        start, stop = items or (0, len(unit))
        scored = unit[start:stop]
        valid = inputs > 0
        x = unit[(inputs - 1).clamp(min=0)] * valid[..., None]
        pooled = decayed_cumsum(x.clone(), self.prior_decay)[where]
        first = 0
        if int(where.sum()) > len(inputs):  # dense
            sims = self.cosine_rows(inputs, x, start, stop)  # (batch, width, items); 0 at padding
            total = decayed_cumsum(sims.clone(), self.prior_decay)  # summed cosines
            mean = total[where] / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        else:
            mean = F.normalize(pooled, dim=-1) @ scored.T
            if where.any():  # only the columns the selected positions can look back to
                first = max(int(where.any(0).nonzero()[0]) - self.prior_window + 1, 0)
            sims = x[:, first:] @ scored.T
        if not self.prior_window:
            return mean, torch.zeros_like(mean)
        sims.masked_fill_(~valid[:, first:, None], float("-inf"))
        best = decayed_window_max(sims, self.prior_decay, self.prior_window)
        # no history item in the window (an empty history): the same score for every item
        return mean, torch.nan_to_num_(best[where[:, first:]], neginf=0.0)

    def cosine_rows(
        self, inputs: torch.Tensor, x: torch.Tensor, start: int, stop: int
    ) -> torch.Tensor:
        """``(..., stop - start)`` cosines of each shifted item index (all in that range, or 0)
        to every item of the range (0 → zeros); ``x`` holds the items' unit vectors (zero at
        padding). Ranges of up to COSINE_TABLE_ITEMS items gather them from an item x item table
        (row 0 = padding), built here once, instead of a matmul per position."""
        unit = self.unit
        assert isinstance(unit, torch.Tensor)
        scored = unit[start:stop]
        if stop - start > COSINE_TABLE_ITEMS:
            return x @ scored.T
        table = self.cosines.get((start, stop))
        if table is None:
            table = torch.cat([scored.new_zeros(1, len(scored)), scored @ scored.T])
            self.cosines[(start, stop)] = table
        return table[(inputs - start).clamp(min=0)]


class AddWeighted(torch.autograd.Function):
    """``scores + weight[0] · a + weight[1] · b`` for fixed ``a`` and ``b``, added in place into
    ``scores`` (a fresh matmul output): no (positions × items) temporaries, and the weights'
    gradients are two dot products."""

    @staticmethod
    def forward(
        ctx: Any, scores: torch.Tensor, a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        ctx.mark_dirty(scores)
        w = weight.detach()
        return scores.add_(a, alpha=float(w[0])).add_(b, alpha=float(w[1]))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, torch.Tensor]:
        a, b = ctx.saved_tensors
        flat = grad.reshape(-1)
        return grad, None, None, torch.stack([flat @ a.reshape(-1), flat @ b.reshape(-1)])


def principal_components(text: torch.Tensor, k: int) -> torch.Tensor:
    """``(n, k)`` coordinates of the centred ``text`` on its ``k`` principal axes, scaled to an
    overall standard deviation of 1/sqrt(k) (SASRec's embedding initialisation); columns beyond
    the text's rank are random with that deviation."""
    centred = text - text.mean(0)
    rank = min(k, *centred.shape)
    out = torch.randn(len(text), k) / math.sqrt(k)
    if rank:
        _, _, v = torch.linalg.svd(centred, full_matrices=False)
        coords = centred @ v[:rank].T
        out[:, :rank] = coords / coords.std().clamp(min=1e-12) / math.sqrt(k)
    return out


def decayed_cumsum(values: torch.Tensor, decay: float) -> torch.Tensor:
    """In place along dim 1: ``values[:, t] = sum over k ≤ t of decay**k · values[:, t - k]``."""
    for t in range(1, values.shape[1]):
        values[:, t].add_(values[:, t - 1], alpha=decay)
    return values


def decayed_window_max(values: torch.Tensor, decay: float, window: int) -> torch.Tensor:
    """Along dim 1: ``out[:, t] = max over k < window, k ≤ t of decay**k · values[:, t - k]``
    (``values`` is overwritten). Position t is scaled by ``decay**-t``, which turns the decayed max
    into a plain running max, taken by doubling between two buffers (4 passes for a window of
    10); sequences too long for that scale in float32 multiply by the decay in each pass."""
    width = values.shape[1]
    span = (width - 1) * -math.log(decay)
    scale = None
    if span < 60:  # decay**-t stays far inside float32's range
        scale = decay ** -torch.arange(width, dtype=values.dtype, device=values.device)
        values.mul_(scale[None, :, None])
    spare = torch.empty_like(values)
    covered = 1
    while covered < min(window, width):
        step = min(covered, window - covered)
        shifted = values[:, :-step] if scale is not None else values[:, :-step] * decay**step
        spare[:, :step] = values[:, :step]
        torch.maximum(values[:, step:], shifted, out=spare[:, step:])
        values, spare = spare, values
        covered += step
    if scale is not None:
        values.div_(scale[None, :, None])
    return values
