"""The report of ``bench.llm_rank_variants``: every choice made on validation users, then test.

A *variant* turns saved title log-probabilities into one score per candidate:

- a prompt kind ``K`` (story, list, relevant; ``n-`` natural titles, ``y-`` with the year, ``g-``
  with the genres):
  ``sum / tokens**β − α · (the same after no history)``;
- ``contrast``: the story after the user's history minus ``α`` times the story after another
  user's (a contrastive prompt), both ``sum / tokens**β``.

β and α ∈ {0, ¼, ½, ¾, 1} (``length_norm`` and ``calibrate`` of ``-m llm``) are chosen per variant
and model on the validation users. The ensemble fuses variants that ``-m llm`` runs (story and
list prompts, either model) by reciprocal rank (k = 60, equal weights: what ``-m ensemble``
computes), members added greedily while the validation NDCG@10 rises by at least 0.5 point.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.metrics.ranking import ndcg_from_ranks
from lmrec.models.fusion import ranks_of

BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
DEFAULT = (0.5, 0.5)  # lmrec's likelihood-by-title defaults (β, α), chosen in an earlier session
LIBRARY_KINDS = ("story", "list")  # what `-m llm` runs (contrast, relevant: this bench only)
MIN_GAIN = 0.5  # NDCG@10 ×100 an ensemble member must add on validation
Array = npt.NDArray[np.float64]


def ndcg10(scores: Array, targets: npt.NDArray[np.int64]) -> Array:
    """Per user NDCG@10 of the target (ties count against it)."""
    rank = (scores >= scores[np.arange(len(targets)), targets][:, None]).sum(1) - 1
    return ndcg_from_ranks(rank.astype(np.float64), 10)


def reciprocal_ranks(scores: Array, k: float = 60.0) -> Array:
    """1 / (k + rank) of each candidate within its row: what ``-m ensemble`` sums."""
    return (1.0 / (k + ranks_of(scores))).astype(np.float64)


def calibrated(
    main: tuple[Array, Array], other: tuple[Array, Array], beta: float, alpha: float
) -> Array:
    """``sum / tokens**β − α · (the other prompt's sum / tokens**β)``, per candidate."""
    out: Array = main[0] / main[1] ** beta - alpha * other[0] / other[1] ** beta
    return out


@dataclass(frozen=True)
class Split:
    targets: npt.NDArray[np.int64]
    folder: Path

    def load(self, model: str, kind: str) -> tuple[Array, Array] | None:
        if not len(self.targets):
            return None
        path = self.folder / f"{model}.{kind}.npz"
        if not path.exists():
            return None
        z = np.load(path)
        return z["sums"], z["counts"]

    def seconds(self, model: str, kind: str) -> float:
        return float(np.load(self.folder / f"{model}.{kind}.npz")["seconds"]) / len(self.targets)


@dataclass(frozen=True)
class Variant:
    model: str
    kind: str  # a prompt kind, or "[n-]contrast"

    @property
    def parts(self) -> tuple[str, str]:
        """(the scored prompt, the one subtracted)."""
        style, dash, base = self.kind.rpartition("-")
        prefix = style + dash
        if base == "contrast":
            return f"{prefix}story", self.kind
        if base == "list":
            return self.kind, f"{prefix}list-null"
        return self.kind, f"{prefix}story-null"

    def scorer(self, split: Split) -> Callable[[float, float], Array] | None:
        """(β, α) → scores, from the split's saved parts (read once); None when one is missing."""
        main, other = (split.load(self.model, p) for p in self.parts)
        if main is None or other is None:
            return None
        return lambda beta, alpha: calibrated(main, other, beta, alpha)

    def scores(self, split: Split, beta: float, alpha: float) -> Array | None:
        score = self.scorer(split)
        return None if score is None else score(beta, alpha)

    def choose(self, valid: Split) -> tuple[float, float, float] | None:
        """(β, α, validation NDCG@10 ×100), the best on validation (ties: the first)."""
        score = self.scorer(valid)
        if score is None:
            return None
        best = (BETAS[0], ALPHAS[0], -1.0)
        for beta in BETAS:
            for alpha in ALPHAS:
                v = 100 * ndcg10(score(beta, alpha), valid.targets).mean()
                if v > best[2] + 1e-9:
                    best = (beta, alpha, v)
        return best


def cell(per_user: Array) -> str:
    return (
        f"{100 * per_user.mean():.2f} ± {100 * per_user.std(ddof=1) / np.sqrt(len(per_user)):.2f}"
    )


def split_at(folder: Path) -> Split:
    """The saved split; no targets when nothing was collected there."""
    path = folder / "targets.npy"
    return Split(np.load(path) if path.exists() else np.zeros(0, dtype=np.int64), folder)


def report_dataset(root: Path, name: str) -> None:
    valid, test = (split_at(root / name / s) for s in ("valid", "test"))
    found = sorted(p.stem for p in valid.folder.glob("*.npz"))
    variants = [
        Variant(*f.split(".")) for f in found if not f.endswith("-null") and "contrast" not in f
    ]
    variants += [
        Variant(v.model, v.kind.replace("story", "contrast")) for v in variants if "story" in v.kind
    ]
    print(
        f"\n### {name} · LLMRank-20 · NDCG@10 ×100 · validation: 200 sampled users · test: 200-user file"
    )
    print("| model | variant | β, α (chosen on validation) | validation | test | s/user (test) |")
    print("|---|---|---|---|---|---|")
    pool: list[tuple[str, Array, Array]] = []  # (label, valid, test): reciprocal ranks
    for v in variants:
        chosen = v.choose(valid)
        if chosen is None:
            continue
        beta, alpha, vv = chosen
        label = f"{v.model} {v.kind}"
        ts = v.scores(test, beta, alpha)
        vs = v.scores(valid, beta, alpha)
        assert vs is not None
        test_cell = "not run" if ts is None else cell(ndcg10(ts, test.targets))
        seconds = "" if ts is None else f"{sum(test.seconds(v.model, p) for p in v.parts):.2f}"
        print(f"| {v.model} | {v.kind} | {beta}, {alpha} | {vv:.2f} | {test_cell} | {seconds} |")
        if v.kind == "story":
            d = v.scores(valid, *DEFAULT)
            dt = v.scores(test, *DEFAULT)
            assert d is not None
            dcell = "not run" if dt is None else cell(ndcg10(dt, test.targets))
            print(
                f"| {v.model} | story, lmrec default | 0.5, 0.5 | {100 * ndcg10(d, valid.targets).mean():.2f} | {dcell} | |"
            )
        if v.kind.rpartition("-")[2] in LIBRARY_KINDS:
            test_ranks = reciprocal_ranks(ts if ts is not None else vs[:0])
            pool.append((label, reciprocal_ranks(vs), test_ranks))
    ensemble(pool, valid, test)


def ensemble(pool: list[tuple[str, Array, Array]], valid: Split, test: Split) -> None:
    """Greedy forward selection of equally weighted members on validation."""
    if not pool:
        return
    chosen: list[int] = []
    best = -1.0
    while True:
        trials = []
        for i in range(len(pool)):
            if i in chosen:
                continue
            s = sum(pool[j][1] for j in [*chosen, i])
            trials.append((100 * ndcg10(np.asarray(s), valid.targets).mean(), i))
        if not trials:
            break
        value, i = max(trials)
        if chosen and value < best + MIN_GAIN:
            break
        chosen.append(i)
        best = value
    members = " + ".join(pool[j][0] for j in chosen)
    test_cell = "not run"
    if all(len(pool[j][2]) for j in chosen):
        test_cell = cell(ndcg10(np.asarray(sum(pool[j][2] for j in chosen)), test.targets))
    print(f"| ensemble | {members} | each member's own | {best:.2f} | {test_cell} | |")


def report(args: argparse.Namespace) -> None:
    for name in args.datasets.split(","):
        if (args.results / name / "valid" / "targets.npy").exists():
            report_dataset(args.results, name)


def test_at(args: argparse.Namespace) -> None:
    """Test NDCG@10 of saved variants at a β, α chosen on validation elsewhere (``--at
    model:kind:β:α``, e.g. from the results page when the validation parts are on another
    machine); the paired difference is against the first ``--at``."""
    test = split_at(args.results / args.dataset / "test")
    rows: list[tuple[str, Array]] = []
    for spec in args.at:
        try:
            model, kind, beta, alpha = spec.split(":")
            b, a = float(beta), float(alpha)
        except ValueError:
            raise SystemExit(f"--at {spec!r}: expected MODEL:KIND:BETA:ALPHA") from None
        scores = Variant(model, kind).scores(test, b, a)
        if scores is None:
            raise SystemExit(f"{spec}: test parts of {model} {kind} not collected")
        rows.append((f"{model} {kind} ({beta}, {alpha})", ndcg10(scores, test.targets)))
    for label, per_user in rows:
        d = rows[0][1] - per_user
        paired = f"{100 * d.mean():+.2f} ± {100 * d.std(ddof=1) / np.sqrt(len(d)):.2f}"
        print(f"{label}: {cell(per_user)}; {rows[0][0]} minus it: {paired}")
