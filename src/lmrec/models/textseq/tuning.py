"""What a TextSeqRec network trains: LoRA on attention (Hu et al., ICLR 2022), and the count of
trainable parameters."""

from __future__ import annotations

import math

import torch
from torch import nn

from lmrec.models.sequential.networks import SASRecNetwork, TransformerBlock


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update (Hu et al., ICLR 2022):
    ``base(x) + (alpha / rank) · x Aᵀ Bᵀ``, with ``B = 0`` at the start (same outputs as base)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.down = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.up = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scaling = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.base(x) + (x @ self.down.T @ self.up.T) * self.scaling
        return out


def add_lora(net: SASRecNetwork, rank: int, alpha: float = 16.0) -> None:
    """Wrap the query/key/value and output projections of every attention layer with LoRA."""
    for block in net.blocks:
        assert isinstance(block, TransformerBlock)
        for name in ("qkv", "out"):
            layer = getattr(block.attn, name)
            if isinstance(layer, nn.Linear):
                setattr(block.attn, name, LoRALinear(layer, rank, alpha))


def parameter_counts(net: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters the network uses; the frozen text vectors are a buffer, and
    the submodules a :class:`TextSeqNetwork` lists as ``unused`` are not counted either."""
    unused = tuple(f"{name}." for name in getattr(net, "unused", ()))
    used = [p for name, p in net.named_parameters() if not name.startswith(unused)]
    return sum(p.numel() for p in used if p.requires_grad), sum(p.numel() for p in used)
