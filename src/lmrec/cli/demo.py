"""``lmrec demo``, what ``make run`` shows: every baseline under leave-one-out, then example users
with titles."""

from __future__ import annotations

import time
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from lmrec.cli._common import DataDir, DatasetOpt, console, load
from lmrec.cli._console import shown
from lmrec.core.query import Query
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Dataset
from lmrec.experiment.run import Prepared, prepare, run_model
from lmrec.models.registry import available_models
from lmrec.protocols.named import named_protocol

SASREC_MINUTES = 1.5


def llm_rerank(
    dataset: Dataset,
    prepared: Prepared,
    retriever: Recommender,
    retriever_name: str,
    rows: list[int],
    llm: str,
    console: Console = console,
) -> None:
    """A local language model re-ranks the retriever's top 20 for a few users, by likelihood, and
    writes why its first choice fits (grounded in the history)."""
    from lmrec.llm.explain.explainer import Explainer
    from lmrec.llm.ranking.ranker import LLMRanker
    from lmrec.llm.runtime.config import build_backend
    from lmrec.models.llm import LLMRecommenderConfig

    start = time.perf_counter()
    config = LLMRecommenderConfig(llm=llm, method="likelihood", max_history=30)
    backend = build_backend(config)
    ranker = LLMRanker(backend, dataset.title, config).fit(prepared.split.train)
    explainer = Explainer(dataset)
    console.print(
        f"\n[bold]{llm}[/], a language model run on this machine, re-ranks {retriever_name}'s "
        f"top 20 by the likelihood of each title after the user's last 30 items "
        f"({time.perf_counter() - start:.1f} s to load)"
    )
    cases = prepared.cases
    vocab = prepared.split.train.item_vocab
    for row in rows:
        t = time.perf_counter()
        history = cases.histories[row]
        user = prepared.split.train.user_vocab.ids[cases.users[row]]
        query = Query(user=user, history=tuple(vocab.decode(history)), k=20)
        top = retriever.recommend(query).items
        ordered = ranker.order(history.tolist(), vocab.lookup(list(top)).tolist())
        best = [vocab.ids[i] for i in ordered]
        target = vocab.ids[cases.targets[row]]
        console.print(
            f"[bold]user {user}[/]: held-out next item [italic]{shown(dataset.title(target))}[/]"
        )
        for i, item in enumerate(best[:5], start=1):
            was = top.index(item) + 1
            mark = "  ← held-out item" if item == target else ""
            console.print(f"   {llm} #{i} (was #{was:<2}) {shown(dataset.title(item))}{mark}")
        # the retriever's own evidence for #1 (why it is a candidate), rewritten by the LM only
        # when the rewrite keeps to it (lmrec.llm.explain.rewrite)
        found, why = explainer.rewritten(
            retriever, list(vocab.decode(history)), best[0], backend, 20
        )
        console.print(f"   why #1: [italic]{shown(why.text, 2_000)}[/]")
        verdict = "the LM's rewrite" if why.accepted else f"rewrite refused: {why.reason}"
        console.print(
            f"   [dim]{time.perf_counter() - t:.1f} s for this user · evidence: "
            f"{len(found.supporting)} items · {shown(verdict, 200)}[/]"
        )


def run_demo(
    dataset: Dataset, n_users: int, console: Console = console, llm: str | None = None
) -> None:
    prepared = prepare(dataset, named_protocol("loo"))
    console.print(
        f"[bold]{dataset.name}[/]: {len(dataset.interactions):,} interactions · "
        f"{prepared.protocol.description()} · {len(prepared.cases):,} test users"
    )
    table = Table(
        "model",
        "HR@10",
        "NDCG@10",
        "MRR@10",
        "coverage@10",
        "mean pop@10",
        "seconds",
        title=f"{dataset.name} · leave-one-out full ranking · test split",
    )
    fitted = {}
    runs: list[tuple[str, str, dict[str, object]]] = [
        (name, name, {}) for name in available_models(slow=False, backend=False)
    ]
    # one trained model, on a budget so the demo stays short (`lmrec train` trains it fully)
    # no warm-up: ML-100K has 8 batches per epoch, the default 100 warm-up steps would fill the budget
    budget: dict[str, object] = {"train": {"max_minutes": SASREC_MINUTES, "warmup_steps": 0}}
    runs.append(("sasrec", f"sasrec ({SASREC_MINUTES:g}-min budget)", budget))
    for name, label, config in runs:
        start = time.perf_counter()
        model, result = run_model(prepared, name, config, ks=(10,))
        seconds = time.perf_counter() - start
        m = result.evaluation.as_dict()
        table.add_row(
            label,
            f"{m['hr@10']:.4f}",
            f"{m['ndcg@10']:.4f}",
            f"{m['mrr@10']:.4f}",
            f"{m['coverage@10']:.3f}",
            f"{m['popularity@10']:.1f}",
            f"{seconds:.2f}",
        )
        fitted[label] = (model, result)
    console.print(table)

    best = max(fitted, key=lambda n: fitted[n][1].evaluation.value("ndcg@10"))
    model, result = fitted[best]
    cases = prepared.cases
    rng = np.random.default_rng(0)
    users_vocab = prepared.split.train.user_vocab
    items_vocab = prepared.split.train.item_vocab
    rows = sorted(rng.choice(len(cases), size=min(n_users, len(cases)), replace=False).tolist())
    for row in rows:
        user = users_vocab.ids[cases.users[row]]
        history = items_vocab.decode(cases.histories[row])
        target = items_vocab.ids[cases.targets[row]]
        ranking = model.recommend(Query(user=user, history=tuple(history), k=10))
        console.print(
            f"\n[bold]user {user}[/] ({len(history)} items; last 5 shown), "
            f"held-out next item: [italic]{shown(dataset.title(target))}[/]"
        )
        for item in history[-5:]:
            console.print(f"   watched  {shown(dataset.title(item))}")
        for i, item in enumerate(ranking.items, start=1):
            mark = "  ← held-out item" if item == target else ""
            console.print(f"   {best} #{i:<2} {shown(dataset.title(item))}{mark}")
    if llm:
        retriever = fitted["itemknn-seq"][0]
        llm_rerank(dataset, prepared, retriever, "itemknn-seq", rows[:2], llm, console)


def demo(
    dataset: DatasetOpt = "ml-100k",
    users: Annotated[int, typer.Option(min=1, help="Example users to show.")] = 5,
    llm: Annotated[
        str | None,
        typer.Option(help="A local language model re-ranks for two users ('' = skip)."),
    ] = "smollm2-135m",
    data_dir: DataDir = None,
) -> None:
    """The main job (`make run`): every baseline under leave-one-out, example users, and a
    local language model re-ranking and explaining for two of them."""
    run_demo(load(dataset, data_dir), users, llm=llm or None)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
