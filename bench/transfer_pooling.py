"""Zero-shot transfer of the text model's pooling (issue 26): the zero-shot model's four pooling
numbers (recency decay, best-match share and window, mean window) chosen on the *source* domains'
validation items and applied unchanged to the held-out target, whose interactions are never read.

The choice maximises the mean, over the sources, of validation NDCG@10 relative to the default
pooling, so each source weighs the same whatever its size.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from bench.textseq_common import fit
from bench.transfer_common import TARGETS, TransferBench
from lmrec.metrics.evaluate import evaluate
from lmrec.models.fusion import RankFusion

DECAYS = (0.3, 0.5, 0.7, 0.9)
MAX_SHARES = (0.0, 0.3, 0.6, 1.0)
MAX_WINDOWS = (1, 3, 10)
DEFAULT = {"decay": 0.9, "max_weight": 0.3, "max_window": 10}


def grid() -> list[dict[str, Any]]:
    out = [
        {"decay": d, "max_weight": m, "max_window": w}
        for d, m, w in itertools.product(DECAYS, MAX_SHARES, MAX_WINDOWS)
        if not (m == 0.0 and w != MAX_WINDOWS[0])  # no best-match part: its window is moot
    ]
    return out if DEFAULT in out else [DEFAULT, *out]


def name(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


def validation_grid(bench: TransferBench, domain: str) -> dict[str, float]:
    """Validation NDCG@10 of every pooling on ``domain`` (kept in the results file)."""
    key = f"pooling/valid/{domain}"
    if key in bench.results and not bench.args.redo:
        return dict(bench.results[key])
    p = bench.prepared(domain)
    valid = bench.valid(domain)
    found: dict[str, float] = {}
    for config in grid():
        built, _ = fit(bench, p.dataset, p, "zeroshot", config)
        found[name(config)] = evaluate(built, valid, ks=(10,)).value("ndcg@10")
        print(f"  {domain} {name(config)}: {found[name(config)]:.4f}", flush=True)
    bench.save(key, {**found, "users": len(valid)})
    return found


def chosen_for(bench: TransferBench, target: str) -> dict[str, Any]:
    """The pooling with the best mean relative validation gain over the other domains."""
    sources = [d for d in TARGETS if d != target]
    grids = {d: validation_grid(bench, d) for d in sources}

    def gain(config: str) -> float:
        return sum(g[config] / g[name(DEFAULT)] for g in grids.values()) / len(grids)

    best = max((c for c in grids[sources[0]] if c != "users"), key=gain)
    return {**json.loads(best), "source_gain": gain(best)}


def part_pooling(bench: TransferBench) -> None:
    for target in bench.args.targets:
        choice = chosen_for(bench, target)
        gain = choice.pop("source_gain")
        label = "zeroshot, pooling chosen on the other domains"
        key = f"zeroshot/{target}/{label}"
        if bench.todo(key):
            p = bench.prepared(target)
            built, info = fit(bench, p.dataset, p, "zeroshot", choice)
            info.update(pooling=choice, source_validation_gain=gain)
            bench.save(key, {**info, **bench.measure(key, built, bench.evals(target))})


FUSION_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5)


def part_fusion(bench: TransferBench) -> None:
    """In-domain: TextSeqRec (text + ID) fused by weighted RRF with the zero-shot model at its
    best pooling on the target's own validation; the zero-shot member's weight is chosen on
    validation too (the ensemble is fitted once and re-weighted)."""
    from bench.textseq_common import TEXT_ID

    dropout = bench.args.indomain_dropout
    textseq = {**TEXT_ID, "train": {"lr": 3e-3}}
    if dropout is not None:
        textseq["dropout"] = dropout
    for target in bench.args.indomain_targets:
        key = f"indomain/{target}/textseq (text + ID) + zeroshot, RRF" + (
            "" if dropout is None else f", dropout {dropout:g}"
        )
        if not bench.todo(key):
            continue
        own = validation_grid(bench, target)
        pooling = json.loads(max((c for c in own if c != "users"), key=lambda c: own[c]))
        members = [
            {"model": "textseq", "config": bench.length(textseq, bench.args.indomain_epochs, 0)},
            {"model": "zeroshot", "config": pooling},
        ]
        p = bench.prepared(target)
        valid = bench.valid(target)
        built, info = fit(bench, p.dataset, p, "ensemble", {"members": members}, None, valid)
        assert isinstance(built, RankFusion)
        found: dict[float, float] = {}
        for weight in FUSION_WEIGHTS:
            built.config.members[1].weight = weight
            found[weight] = evaluate(built, valid, ks=(10,)).value("ndcg@10")
        best = max(found, key=lambda w: found[w])
        built.config.members[1].weight = best
        info.update(pooling=pooling, weight=best, valid_ndcg=found)
        bench.save(key, {**info, **bench.measure(key, built, bench.evals(target))})
