"""The package's walls: the planning layers never import torch, and no module imports itself in a cycle.

The README promises that study, run, report, analysis, design and cli work without torch (a login node
plans and reports; only the stage notebooks train). The import graph is read from the source with
`ast` (written here rather than adding a dependency such as pydeps or import-linter for one check).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "intertask"
NO_TORCH = ("study", "run", "report", "analysis", "design", "cli", "leakage", "audit")
HEAVY = ("torch", "transformers")


def _module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its __init__)."""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(modules: dict[str, Path], name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package modules an import statement in module `name` refers to."""
    if isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    else:
        if node.level:
            base = name.split(".")
            if modules[name].name != "__init__.py":
                base = base[:-1]  # relative to the module's package
            base = base[:len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
    return {c for c in candidates if c in modules and c != name}


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """Edges module -> modules it imports (anywhere in the file), and the imports made inside functions."""
    modules = _module_names(root)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    inner: list[tuple[str, str]] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges[name] |= _imported(modules, name, node)
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and _imported(modules, name, node):
                        inner.append((name, fn.name))
    return edges, inner


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None (depth-first search with colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import x\n")
    (pkg / "c.py").write_text("import pkg.a\nx = 1\n")
    edges, inner = import_graph(pkg)
    assert edges["pkg.a"] == {"pkg.sub", "pkg.sub.b"} and edges["pkg.sub.b"] == {"pkg.c"}
    assert find_cycle(edges) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    assert inner == [("pkg.sub.b", "f")]
    (pkg / "c.py").write_text("x = 1\n")
    assert find_cycle(import_graph(pkg)[0]) is None


def test_the_package_has_no_import_cycle():
    edges, _ = import_graph(PACKAGE)
    assert len(edges) > 30
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_function_level_project_imports_are_only_the_documented_ones():
    """Lazy project imports hide cycles; the one allowed keeps torch-side code out of `intertask status`."""
    _, inner = import_graph(PACKAGE)
    assert inner == [("intertask.cli", "cmd_prepare_model")]


def test_planning_layers_never_import_torch():
    code = (f"import sys\nimport {', '.join(f'intertask.{m}' for m in NO_TORCH)}\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", f"the planning layers imported {proc.stdout.strip()}"


@pytest.mark.parametrize("module", ["intertask.registry", "intertask.readers", "intertask.data",
                                    "intertask.registry.metadata", "intertask.metrics"])
def test_task_and_data_layers_never_import_torch(module):
    """Study expansion reads the registry and the data layer, so they stay torch-free too."""
    code = f"import sys, {module}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", f"{module} imported {proc.stdout.strip()}"


def test_every_registry_entry_names_rows_of_the_tables():
    """A task is data: its format, reader, hub converter, scorer and benchmarks must exist in their one table."""
    from intertask.formats import IMPLEMENTATIONS
    from intertask.metrics import SCORERS
    from intertask.readers import HUB_CONVERTERS, READERS
    from intertask.registry import REGISTRY, XTREME_R_TASKS, benchmark_tasks

    for task in REGISTRY.values():
        assert task.format in IMPLEMENTATIONS, task.name
        assert task.scorer in SCORERS, task.name
        assert task.local is None or task.local.reader in READERS, task.name
        assert task.hub is None or task.hub.converter in HUB_CONVERTERS, task.name
        assert set(task.benchmarks) <= {"xtreme", "xtreme-r"}, task.name
    assert len(XTREME_R_TASKS) == 10 and "bucc" not in XTREME_R_TASKS and "xcopa" in XTREME_R_TASKS
    assert set(benchmark_tasks("xtreme")) == {"xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc",
                                              "tatoeba"}


def test_no_code_branches_on_a_task_name():
    """The README's rule, checked in the source: no comparison of a task's `.name` with a string literal."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                named = any(isinstance(s, ast.Attribute) and s.attr == "name" for s in sides)
                literal = any(isinstance(s, (ast.Constant, ast.Set, ast.Tuple, ast.List)) for s in sides)
                if named and literal:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders
