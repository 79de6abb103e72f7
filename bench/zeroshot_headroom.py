"""Benchmark: how much a zero-shot model built from text similarity alone can gain (issue 5).

The zero-shot model scores a candidate by pooling its cosine similarities to the history items
(recency-weighted mean and best match, ``mean-max``). Every model that transfers from ML-1M
without knowing Games' items and users sees the same similarities, so this measures the room
left in that family on the LLMRank 20-candidate protocol:

1. the zero-shot defaults on Games validation;
2. the **ceiling**: the best pooling of a grid chosen on Games validation itself (target
   labels used, so not zero-shot: a bound, not a result);
3. **transfer**: the best pooling chosen on ML-1M validation, applied unchanged to Games
   validation and test (a zero-shot transfer of four numbers);
4. a popularity proxy that needs no interactions: each item's **catalogue density** (mean
   cosine to its 20 nearest catalogue neighbours, z-scored), added with weight ``beta`` to the
   default pooling, on both domains' validation: it transfers only if both want the same sign.

Differences come with a paired bootstrap standard error over users (1,000 resamples).
Run: LMREC_DATA_DIR=../shared/data .venv/bin/python -m bench.zeroshot_headroom
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.core.fitted import ModelContext
from lmrec.data.registry import DATASETS, load_dataset
from lmrec.experiment import named_protocol, prepare
from lmrec.metrics.evaluate import target_ranks
from lmrec.metrics.ranking import ndcg_from_ranks
from lmrec.models.registry import create_model
from lmrec.models.zeroshot import ZeroShotTextRecommender
from lmrec.models.zeroshot.maxsim import NeighbourLists
from lmrec.protocols.named import llmrank_dir

LLMRANK = llmrank_dir()
WIDTH = 50  # the zero-shot model's default window
NEIGHBOURS = 20  # catalogue density: mean cosine to this many nearest items
BETAS = (-0.05, -0.02, 0.0, 0.02, 0.05)
DEFAULT = (0.9, 0.3, 10, 0.0)  # decay, max share, max window, soft-max temperature
GRID = tuple(
    itertools.product(
        (0.6, 0.8, 0.9, 0.95, 1.0), (0.0, 0.15, 0.3, 0.5, 0.7, 1.0), (3, 10, 50), (0.0, 0.05)
    )
)
Pooling = tuple[float, float, int, float]


@dataclass(frozen=True)
class CandidateSims:
    """One split's LLMRank cases as similarities: history × candidates and history × history."""

    to_candidates: npt.NDArray[np.float32]  # (users, WIDTH, 20), most recent history item first
    gram: npt.NDArray[np.float32]  # (users, WIDTH, WIDTH)
    present: npt.NDArray[np.bool_]  # (users, WIDTH)
    # (users,) the target's column; columns are in item order, so ties break as the evaluator's
    target_column: npt.NDArray[np.int32]
    density: npt.NDArray[np.float32]  # (users, 20) the candidates' z-scored catalogue density

    @classmethod
    def build(cls, name: str, splits: tuple[str, ...], llmrank_dir: Path) -> list[CandidateSims]:
        """One per split, from one zero-shot model (the splits share the catalogue)."""
        protocol = named_protocol("llmrank-20", file=llmrank_dir / str(DATASETS[name].llmrank_file))
        dataset = load_dataset(name, download=False)
        prepared = [prepare(dataset, protocol, split) for split in splits]
        model = create_model("zeroshot", {}, ModelContext.for_dataset(dataset))
        model.fit(prepared[0].split.train)
        assert isinstance(model, ZeroShotTextRecommender)
        emb = model.item_embeddings
        density = catalogue_density(emb)
        out = []
        for cases in (p.cases for p in prepared):
            assert cases.candidates is not None
            hist = cases.histories.truncate(WIDTH)
            rows, back = hist.row_ids(), hist.steps_back()
            items = np.zeros((len(cases), WIDTH), dtype=np.int64)
            present = np.zeros((len(cases), WIDTH), dtype=bool)
            items[rows, back], present[rows, back] = hist.items, True
            cand = np.sort(cases.candidates.astype(np.int64), axis=1)
            history = emb[items] * present[:, :, None]
            target = (cand == cases.targets[:, None]).argmax(axis=1).astype(np.int32)
            out.append(
                cls(
                    np.einsum("nwd,ncd->nwc", history, emb[cand], optimize=True),
                    np.einsum("nwd,nvd->nwv", history, history, optimize=True),
                    present,
                    target,
                    density[cand],
                )
            )
        return out

    def scores(self, pooling: Pooling) -> npt.NDArray[np.float32]:
        decay, share, width, temperature = pooling
        weights = np.power(decay, np.arange(WIDTH))[None, :] * self.present
        norm = np.sqrt(np.maximum(np.einsum("nw,nwv,nv->n", weights, self.gram, weights), 1e-12))
        mean = np.einsum("nw,nwc->nc", weights, self.to_candidates) / norm[:, None]
        part = np.where(
            self.present[:, :width, None],
            weights[:, :width, None] * self.to_candidates[:, :width],
            -np.inf,
        )
        top = part.max(axis=1)
        if temperature > 0:
            shifted = np.exp((part - top[:, None]) / temperature).sum(axis=1)
            top = top + temperature * np.log(shifted)
        best = np.where(np.isfinite(top), top, 0.0)
        scores: npt.NDArray[np.float32] = ((1.0 - share) * mean + share * best).astype(np.float32)
        return scores

    def ndcg(self, pooling: Pooling, beta: float = 0.0) -> npt.NDArray[np.float64]:
        """Per-user NDCG@10 ×100 (``beta``: weight of the density); ties rank the lower item
        index first, as the evaluator does."""
        scores = self.scores(pooling) + beta * self.density
        return 100.0 * ndcg_from_ranks(target_ranks(scores, self.target_column), 10)


def catalogue_density(emb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Every item's mean cosine to its ``NEIGHBOURS`` nearest other items, z-scored (the
    neighbour lists hold the item itself, at cosine 1)."""
    lists = NeighbourLists.build(emb, NEIGHBOURS + 1)
    mean = (lists.sims.sum(axis=1) - 1.0) / NEIGHBOURS
    density: npt.NDArray[np.float32] = (mean - mean.mean()) / mean.std()
    return density


def paired_se(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], seed: int = 0) -> float:
    """Bootstrap standard error of mean(a) - mean(b) over users."""
    rng = np.random.default_rng(seed)
    diff = a - b
    draws = rng.integers(0, len(diff), size=(1000, len(diff)))
    return float(diff[draws].mean(axis=1).std())


def best_pooling(sims: CandidateSims) -> tuple[Pooling, float]:
    means = {p: float(sims.ndcg(p).mean()) for p in GRID}
    best = max(means, key=lambda p: means[p])
    return best, means[best]


def describe(pooling: Pooling) -> str:
    return "decay {}, max share {}, max window {}, temperature {}".format(*pooling)


def compare(label: str, sims: CandidateSims, pooling: Pooling) -> None:
    base, other = sims.ndcg(DEFAULT), sims.ndcg(pooling)
    gain = other.mean() - base.mean()
    print(
        f"  {label:<44}{other.mean():7.2f}  vs defaults {base.mean():6.2f}: "
        f"{gain:+.2f} ± {paired_se(other, base):.2f} (paired bootstrap SE)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llmrank-dir", type=Path, default=LLMRANK)
    args = parser.parse_args()
    games_valid, games_test = CandidateSims.build(
        "amazon-games", ("valid", "test"), args.llmrank_dir
    )
    (ml1m_valid,) = CandidateSims.build("ml-1m", ("valid",), args.llmrank_dir)
    print(f"LLMRank-20 NDCG@10 ×100; grid of {len(GRID)} poolings; defaults: {describe(DEFAULT)}")
    ceiling, _ = best_pooling(games_valid)
    print(f"Games validation ({len(games_valid.present):,} users)")
    compare("ceiling, chosen on Games validation", games_valid, ceiling)
    print(f"    ({describe(ceiling)})")
    source, source_value = best_pooling(ml1m_valid)
    print(f"ML-1M validation ({len(ml1m_valid.present):,} users): best {source_value:.2f}")
    print(f"    ({describe(source)})")
    compare("transfer ML-1M → Games validation", games_valid, source)
    print(f"Games test ({len(games_test.present):,} users)")
    compare("transfer ML-1M → Games test", games_test, source)
    compare("ceiling (chosen on Games validation)", games_test, ceiling)
    print(f"Catalogue density ({NEIGHBOURS} neighbours) added to the defaults, by weight")
    for name, sims in (("ML-1M validation", ml1m_valid), ("Games validation", games_valid)):
        cells = "  ".join(f"{b:+.2f}: {sims.ndcg(DEFAULT, b).mean():.2f}" for b in BETAS)
        print(f"  {name:<18}{cells}")


if __name__ == "__main__":
    main()
