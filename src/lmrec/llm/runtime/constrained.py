"""Constrained decoding shared by the runtimes: write every label once, nothing else.

At each step the allowed tokens are those that continue a label not yet written; the likeliest
allowed token is taken (greedy). Labels must be prefix-free (``[1]`` … ``[20]`` are, thanks to the
closing bracket). After each label the separator is fed, then the next label is chosen, until one
label is left (it goes last).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

LogProbs = npt.NDArray[np.float32]


def constrained_order(
    first: LogProbs,
    step: Callable[[int], LogProbs],
    labels: Sequence[Sequence[int]],
    separator: Sequence[int],
) -> tuple[list[int], int]:
    """Label positions in the order written, and the number of tokens fed. ``first`` is the
    next-token distribution after the prompt; ``step(token)`` feeds one token and returns the
    next distribution."""
    remaining = list(range(len(labels)))
    order: list[int] = []
    steps = 0
    logp = first
    while len(remaining) > 1:
        alive, depth = list(remaining), 0
        while len(alive) > 1 or depth < len(labels[alive[0]]):
            allowed = {labels[i][depth] for i in alive if depth < len(labels[i])}
            token = max(allowed, key=lambda t: float(logp[t]))
            alive = [i for i in alive if depth < len(labels[i]) and labels[i][depth] == token]
            logp = step(token)
            steps += 1
            depth += 1
        order.append(alive[0])
        remaining.remove(alive[0])
        for token in separator:
            logp = step(token)
            steps += 1
    return order + remaining, steps
