"""The package's shape: no import circles, no import from a lower layer to a higher one, and no
file over 400 lines. Imports are read statically (ast), including lazy imports inside functions
and type-only imports under ``TYPE_CHECKING``: each is a dependency all the same."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first. A module may import its own package and the packages before it, never after.
LAYERS = (
    "lmrec.errors",  # the error taxonomy: one base class and its kinds
    "lmrec.settings",  # the base of every option set (unknown keys, booleans, NaN refused)
    "lmrec.data",  # containers, atomic files, loaders, templates, named datasets
    "lmrec.index",  # top-k, exact and approximate vector search
    "lmrec.protocols",  # splits, candidate sets, the table of named protocols
    "lmrec.text",  # sentence encoders and the embedding cache
    "lmrec.core",  # Query / Ranking / Recommender and the fitted-state machinery
    "lmrec.metrics",  # pure metrics and the batched evaluator
    "lmrec.training",  # the network contract, batches, losses, the trainer
    "lmrec.llm",  # backends, prompts, parsing, the LLM ranker
    "lmrec.models",  # every recommender and the registry
    "lmrec.experiment",  # runs with provenance, run-config files, exports
    "lmrec.service",  # the HTTP service and its store
    "lmrec.distributed",  # batch jobs and tuning on Ray (optional)
    "lmrec.testing",  # scripted servers for tests and fault injection
    "lmrec.cli",  # the command line
)
FACADE = {"lmrec", "lmrec.__main__"}  # the package root re-exports; nothing imports it
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "lmrec").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def imports_of(name: str) -> set[str]:
    """Every lmrec module ``name`` imports, wherever in the file the import statement is."""
    path = MODULES[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                root = package[: len(package) - node.level + 1]
                base = ".".join([*root, *([base] if base else [])])
            # "from pkg import sub" imports pkg.sub when sub is a module, else pkg itself
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.append(full if full in MODULES else base)
        for target in targets:
            if target.startswith("lmrec"):
                resolved = _resolve(target)
                if resolved and resolved != name:
                    found.add(resolved)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def layer_of(module: str) -> int:
    for index, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        if name not in FACADE:
            layer_of(name)


def test_no_import_runs_up_the_layers() -> None:
    wrong = [
        f"{name} (layer {LAYERS[layer_of(name)]}) imports {target} "
        f"(layer {LAYERS[layer_of(target)]})"
        for name, targets in GRAPH.items()
        if name not in FACADE
        for target in sorted(targets)
        if target in FACADE or layer_of(target) > layer_of(name)
    ]
    assert not wrong, "\n".join(wrong)


def _circles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return out


def test_no_import_circles() -> None:
    assert _circles() == []


def test_the_checks_can_fail() -> None:
    """The walker sees lazy and type-only imports, so the two checks above are not vacuous."""
    assert "lmrec.models.registry" in GRAPH["lmrec.cli.evaluate"]  # lazy, inside a command
    assert "lmrec.experiment.run" in GRAPH["lmrec.cli._common"]  # under TYPE_CHECKING
    GRAPH["lmrec.data.containers"].add("lmrec.models.registry")
    try:
        assert any("lmrec.data.containers" in c for c in _circles())
    finally:
        GRAPH["lmrec.data.containers"].discard("lmrec.models.registry")


BENCH = SRC.parent / "bench"
TEST_MODULES = {p.stem for p in (SRC.parent / "tests").glob("*.py")}


def bench_graph() -> dict[str, set[str]]:
    """``bench.X`` → the ``bench.Y`` modules it imports (any import statement, anywhere)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(BENCH.glob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found.update(n for n in names if n.startswith("bench."))
            bare = {n.split(".")[0] for n in names} & TEST_MODULES
            assert not bare, f"bench/{path.name} imports tests' {sorted(bare)}"
        graph[f"bench.{path.stem}"] = found
    return graph


def test_bench_is_a_package_without_circles_or_test_imports() -> None:
    assert (BENCH / "__init__.py").is_file()
    for path in BENCH.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "sys.path.insert" not in text and "sys.path.append" not in text, path.name
    graph = bench_graph()
    unknown = {t for targets in graph.values() for t in targets} - set(graph)
    assert not unknown, f"imports of missing bench modules: {sorted(unknown)}"
    saved = dict(GRAPH)
    try:  # the same Tarjan walk as the package's, over the bench graph
        GRAPH.clear()
        GRAPH.update(graph)
        assert _circles() == []
        graph["bench.textseq_common"].add("bench.transfer_common")  # it can fail
        assert _circles() != []
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_every_file_is_short() -> None:
    long = [
        f"{path}: {lines} lines (split it by responsibility)"
        for path in sorted(SRC.rglob("*.py"))
        if (lines := path.read_text(encoding="utf-8").count("\n")) >= MAX_LINES
    ]
    assert not long, "\n".join(long)
