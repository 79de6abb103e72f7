"""The "Add a model" page is true: its file is lmrec's file, its row is the registry's row, and
following it — the file's code run on its own, the row built from the page — gives a model that
fits, saves, loads and recommends like any other."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "guide" / "add-a-model.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_the_page_shows_the_file_and_the_row_as_they_are() -> None:
    file, imports, row = _blocks()
    assert file == (ROOT / "src/lmrec/models/classic/markov.py").read_text(encoding="utf-8")
    registry = _squash((ROOT / "src/lmrec/models/registry.py").read_text(encoding="utf-8"))
    assert _squash(imports) in registry and _squash(row) in registry


def test_following_the_page_gives_a_working_model(tmp_path: Path, tiny: object) -> None:
    from lmrec.core.checkpoint import ModelLoader
    from lmrec.core.fitted import ModelContext
    from lmrec.core.query import Query
    from lmrec.models.registry import ModelSpec, plain

    file, _, row = _blocks()
    module = types.ModuleType("page_markov")  # the page's code, not lmrec's import of it
    sys.modules["page_markov"] = module
    try:
        exec(compile(file, str(PAGE), "exec"), module.__dict__)
        spec = eval(
            row.strip().rstrip(","), {"ModelSpec": ModelSpec, "plain": plain, **module.__dict__}
        )
    finally:
        del sys.modules["page_markov"]
    assert isinstance(spec, ModelSpec) and spec.name == "markov" and not spec.slow_fit()
    model = spec.build(spec.config.model_validate({"window": 2}), ModelContext())
    model.fit(tiny)  # type: ignore[arg-type]
    ranking = model.recommend(Query(history=("10",), k=3))
    # u1 and u4 both go 10 → 20; u4 then 20 → 30: after 10 comes 20
    assert ranking.items[0] == "20" and "10" not in ranking.items
    model.save(tmp_path / "m")  # type: ignore[attr-defined]
    member: ModelLoader = lambda d, c: spec.load(d, c, member)  # noqa: E731
    loaded = spec.load(tmp_path / "m", ModelContext(), member)
    again = loaded.recommend(Query(history=("10",), k=3))
    assert again.items == ranking.items
    np.testing.assert_allclose(again.scores, ranking.scores)
