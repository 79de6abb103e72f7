"""A run written down: the typed specification, its protocol union, YAML with errors that name
the field, ``lmrec run``, and the LLMRank file taken from the dataset's registry entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from lmrec.errors import ConfigError


def test_each_protocol_takes_only_its_own_options() -> None:
    from lmrec.protocols.named import TemporalProtocol, named_protocol

    temporal = named_protocol("temporal", cutoff_quantile=0.8)
    assert isinstance(temporal, TemporalProtocol) and temporal.cutoff_quantile == 0.8
    with pytest.raises(ConfigError, match="protocol 'loo' takes no option cutoff_quantile"):
        named_protocol("loo", cutoff_quantile=0.8)
    with pytest.raises(ConfigError, match="'cutoff_quantile'"):
        named_protocol("temporal", cutoff_quantile=1.5)
    with pytest.raises(ConfigError, match="'file'"):
        named_protocol("candidates")  # a candidate file is required
    with pytest.raises(ConfigError, match="unknown protocol 'nope'"):
        named_protocol("nope")


def test_run_spec_from_yaml(tmp_path: Path) -> None:
    from lmrec.experiment.spec import load_run_spec

    good = tmp_path / "run.yaml"
    good.write_text(
        "dataset: ml-100k\nmodel: pop\nprotocol: {name: temporal, cutoff_quantile: 0.7}\n"
        "ks: [5, 10]\n"
    )
    spec = load_run_spec(good, {"config": {}})
    assert spec.protocol.name == "temporal" and spec.ks == (5, 10) and spec.split == "test"
    for text, field in (
        ("dataset: x\nmodel: pop\nprotocol: {name: loo, cutoff_quantile: 0.5}\n", "protocol.loo"),
        ("dataset: x\nmodel: pop\nks: [0]\n", "ks"),
        ("dataset: x\n", "model"),
        ("dataset: x\nmodel: pop\nsplit: train\n", "split"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=f"bad.yaml: (field|unknown option) '{field}"):
            load_run_spec(bad)


def test_lmrec_run_writes_the_spec_into_the_provenance(data_dir: Path, tmp_path: Path) -> None:
    spec = tmp_path / "run.yaml"
    spec.write_text("dataset: ml-100k\nmodel: pop\nks: [10]\nusers: 100\n")
    out = tmp_path / "r.json"
    result = run_cli(data_dir, f"run {spec} -o {out}")
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["provenance"]["run_spec"]["users"] == 100
    assert payload["provenance"]["users_evaluated"] == 100
    # the same spec through evaluate -c refuses the keys that belong to a whole run
    result = run_cli(data_dir, f"evaluate -d ml-100k -c {spec}")
    assert result.exit_code == 2 and "lmrec run" in result.output


def test_llmrank_file_comes_from_the_dataset_entry(llmrank_dir: Path) -> None:
    from lmrec.data.registry import DATASETS
    from lmrec.experiment.spec import resolve_protocol
    from lmrec.protocols.named import LLMRankProtocol, llmrank_file, named_protocol

    assert DATASETS["ml-1m"].llmrank_file == "ml-1m-full.random"
    assert DATASETS["amazon-games"].llmrank_sample == "games-200.random"
    found = resolve_protocol(named_protocol("llmrank-20"), "ml-1m")
    assert isinstance(found, LLMRankProtocol) and found.file == llmrank_file("ml-1m")
    assert found.file is not None and found.file.name == "ml-1m-full.random"
    sampled = resolve_protocol(named_protocol("llmrank-20"), "ml-100k")  # no published file
    assert isinstance(sampled, LLMRankProtocol) and sampled.file is None
