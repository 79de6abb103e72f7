"""The same people in Games and Scientific (issue 26, part 4): cross-domain cold start and merged
profiles for the 556 users whose reviewer ids appear in both, on the joint dataset
``amazon-games+amazon-scientific``.

Every case ranks all items of one domain (the target's), with the history masked:

- *cold start*: the Scientific test item from the user's whole Games sequence alone;
- *alone*: the domain's test item from that domain's own history (the usual LOO case);
- *merged*: the same target from the other domain's whole sequence followed by the own history
  (no timestamps cross domains, so the own domain's items count as the latest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.textseq_common import GAMES, fit
from bench.transfer_common import SCIENTIFIC, TransferBench
from bench.zeroshot_headroom import paired_se
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Dataset, Sequences
from lmrec.data.joint import domain_range, domain_ranges
from lmrec.data.people import People
from lmrec.data.registry import load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.protocols.base import EvalCases

JOINT = f"{GAMES}+{SCIENTIFIC}"


def sequences_of(ds: Dataset, seqs: Sequences, users: list[str]) -> list[np.ndarray]:
    vocab = ds.interactions.user_vocab
    return [np.asarray(seqs[vocab.index(u)]) for u in users]


def cross_cases(ds: Dataset, pairs: list[tuple[str, str]]) -> dict[str, EvalCases]:
    """The five case sets of the module docstring, keyed ``setting/target domain``."""
    seqs = ds.interactions.sequences()
    games = sequences_of(ds, seqs, [g for g, _ in pairs])
    science = sequences_of(ds, seqs, [s for _, s in pairs])
    ranges = domain_ranges(ds.interactions.item_vocab.ids)
    rows = {
        "games": np.array([ds.interactions.user_vocab.index(g) for g, _ in pairs]),
        "scientific": np.array([ds.interactions.user_vocab.index(s) for _, s in pairs]),
    }

    def cases(target: str, histories: list[np.ndarray], last: list[np.ndarray]) -> EvalCases:
        start, stop = domain_range(ranges, GAMES if target == "games" else SCIENTIFIC)
        candidates = np.tile(np.arange(start, stop, dtype=np.int32), (len(pairs), 1))
        return EvalCases(
            rows[target].astype(np.int32),
            np.array([seq[-1] for seq in last], dtype=np.int32),
            Sequences.from_lists([h.tolist() for h in histories]),
            candidates,
        )

    return {
        "cold start/scientific": cases("scientific", games, science),
        # the validation item (second to last) from the same Games history: for choosing weights
        "cold start valid/scientific": cases("scientific", games, [s[:-1] for s in science]),
        "alone/scientific": cases("scientific", [s[:-1] for s in science], science),
        "merged/scientific": cases(
            "scientific",
            [np.concatenate([g, s[:-1]]) for g, s in zip(games, science, strict=True)],
            science,
        ),
        "alone/games": cases("games", [g[:-1] for g in games], games),
        "merged/games": cases(
            "games",
            [np.concatenate([s, g[:-1]]) for g, s in zip(games, science, strict=True)],
            games,
        ),
    }


def explanation_share(
    ds: Dataset, model: Recommender, cases: EvalCases, n: int = 100
) -> dict[str, Any]:
    """Of the top item of ``n`` cold-start users, the share whose explanation names a Games item,
    and one example."""
    from lmrec.core.query import Query
    from lmrec.llm.explain.explainer import Explainer, ItemVectors

    vectors = getattr(model, "item_embeddings", None)
    if vectors is None:
        vectors = model.text  # type: ignore[attr-defined]
    explainer = Explainer(ds, ItemVectors(model.item_vocab.ids, vectors))
    ids = model.item_vocab.ids
    named, example = 0, ""
    for row in range(min(n, len(cases))):
        history = [ids[i] for i in cases.histories[row]]
        ranking = model.recommend(Query(history=tuple(history), k=1, domain=SCIENTIFIC))
        found = explainer.explain(history, ranking.items[0])
        named += any(s.startswith(f"{GAMES}/") for s in found.supporting)
        example = example or found.text
    return {
        "explained_users": min(n, len(cases)),
        "names_games_item": named / min(n, len(cases)),
        "example": example,
    }


WEIGHTS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def popularity_weight(bench: TransferBench, ds: Dataset, p: Any, valid: EvalCases) -> float:
    """The zero-shot model's ``popularity_weight`` with the best cold-start NDCG@10 on the
    validation item (never the test item)."""
    from lmrec.metrics.evaluate import evaluate

    if "cross/popularity weight" in bench.results and not bench.args.redo:
        return float(bench.results["cross/popularity weight"]["weight"])
    found = {}
    for w in WEIGHTS:
        built, _ = fit(bench, ds, p, "zeroshot", {"popularity_weight": w})
        found[w] = evaluate(built, valid, ks=(10,), exclude_history=True).value("ndcg@10")
    best = max(found, key=lambda w: found[w])
    bench.save("cross/popularity weight", {"weight": best, "valid_ndcg@10": found})
    return best


def run_cross(bench: TransferBench, transferred: Path, joint_model: Path) -> None:
    """Popularity, zeroshot, the model pretrained without Scientific (``transferred``, attached to
    the joint catalogue unchanged) and the model trained on Games + Scientific (``joint_model``),
    on the five case sets; then the paired differences."""
    ds = load_dataset(JOINT, download=False)
    pairs = People.of(ds).across(GAMES, SCIENTIFIC)
    p = prepare(ds, named_protocol("loo"))
    evals = cross_cases(ds, pairs)
    attach = {"tune": "none", "recenter": False, "domains": True}
    models: dict[str, tuple[str, dict[str, Any]]] = {
        "popularity": ("pop", {}),
        "zeroshot (lmrec text)": ("zeroshot", {}),
        "textseq ← Games+Office": ("textseq", {**attach, "pretrained": str(transferred)}),
    }
    if joint_model.exists():
        models["textseq, Games+Scientific joint"] = (
            "textseq",
            {**attach, "pretrained": str(joint_model)},
        )
    weight = popularity_weight(bench, ds, p, evals.pop("cold start valid/scientific"))
    models["zeroshot + popularity (weight on validation)"] = (
        "zeroshot",
        {"popularity_weight": weight},
    )
    for label, (name, config) in models.items():
        key = f"cross/{label}"
        if not bench.todo(key):
            continue
        built, info = fit(bench, ds, p, name, config)
        info.update(bench.measure(key, built, evals, exclude_history=True), pairs=len(pairs))
        if name != "pop":
            info.update(explanation_share(ds, built, evals["cold start/scientific"]))
        bench.save(key, info)
    # paired SEs of the differences the issue asks about
    for label in models:
        key = f"cross/{label}"

        def get(setting: str, key: str = key) -> Any:
            return bench.per_user(key, setting)

        diffs: dict[str, Any] = {}
        for a, b in (("merged/scientific", "alone/scientific"), ("merged/games", "alone/games")):
            x, y = get(a), get(b)
            if x is not None and y is not None:
                diffs[f"{a} − {b}"] = [float(x.mean() - y.mean()), paired_se(x, y)]
        pop = bench.per_user("cross/popularity", "cold start/scientific")
        cold = get("cold start/scientific")
        if pop is not None and cold is not None and label != "popularity":
            diffs["cold start − popularity"] = [
                float(cold.mean() - pop.mean()),
                paired_se(cold, pop),
            ]
        bench.results.setdefault("cross-diffs", {})[label] = diffs
    bench.save("cross-diffs", bench.results["cross-diffs"])
