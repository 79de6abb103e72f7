"""The documentation site builds with warnings as errors (broken links, pages missing from the
nav, a registered model without its page all fail), and the generated model pages hold every
option of the model's config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs extra (mkdocs, mkdocstrings) is not installed")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_every_registered_model_has_a_page_with_all_its_options(site: Path) -> None:
    from lmrec.models.registry import model_specs

    for name, spec in model_specs().items():
        page = (site / "models" / name / "index.html").read_text(encoding="utf-8")
        for option in spec.config.model_fields:
            assert f"<code>{option}</code>" in page, (name, option)
    textseq = (site / "models" / "textseq" / "index.html").read_text(encoding="utf-8")
    assert "<code>train.lr</code>" in textseq  # nested configs are expanded


def test_api_pages_render_the_contract(site: Path) -> None:
    page = (site / "reference" / "core" / "index.html").read_text(encoding="utf-8")
    for name in ("Recommender", "QueryBatch", "FittedModel", "ReadsText"):
        assert name in page


def test_readme_python_quick_start_runs(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python block, as written, on the offline ML-100K."""
    import contextlib
    import io
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1
    monkeypatch.setenv("LMREC_DATA_DIR", str(data_dir))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(blocks[0], "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert "'ndcg@10': 0.1023" in lines[0]  # the figure the README's results quote
    assert len(lines) == 6  # the metrics, then five titles
