"""The design's layering, checked from the source: arrows point down and nothing circles.

Every ``import`` of every module is read with ``ast`` (module-level and inside functions, relative
ones resolved, and ``importlib.import_module("...")`` with a literal name), so a lazy import that
would close a circle or point up counts as much as one at the top of a file.

Rules (docs/design.md, "Layout"):
- no circle among the packages of ``ssnenas`` (``ssnenas.analysis``, ``ssnenas.predstudy``,
  ``ssnenas.atomic``, ...: a subpackage and a top-level module are one node each) nor among the
  modules of ``search_algos`` (its ``__init__`` being the node ``search_algos``);
- nothing under ``ssnenas/`` but ``ssnenas/cli/`` imports ``search_algos``, ``trainables`` or
  ``experiments``: the drivers get the searcher registry from the caller;
- ``search_algos`` and ``trainables`` never import ``experiments``;
- only the entry points (``ssnenas/__main__.py``, ``experiments/``) import ``ssnenas.cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[1]
TOP_PACKAGES = ("ssnenas", "search_algos", "trainables", "experiments")
UPPER = ("search_algos", "trainables", "experiments")


def module_name(path: Path, root: Path = REPO) -> str:
    """``ssnenas/analysis/report.py`` -> ``ssnenas.analysis.report``; a package's ``__init__`` -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    return sorted(p for top in TOP_PACKAGES if (REPO / top).is_dir() for p in (REPO / top).rglob("*.py")
                  if "results" not in p.relative_to(REPO).parts)


def imported_names(path: Path, root: Path = REPO) -> list[tuple[str, int]]:
    """Every module ``path`` imports, anywhere in the file, with its line: ``from a.b import c`` gives
    ``a.b.c`` (:func:`node_of` takes it for ``a.b`` unless ``c`` is a submodule); relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``base.name`` is resolved to ``base`` by :func:`node_of` unless ``name`` is a submodule
            out.extend((base if alias.name == "*" else f"{base}.{alias.name}", node.lineno) for alias in node.names)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id == "import_module"))):
            out.append((node.args[0].value, node.lineno))
    return out


def known_modules() -> set[str]:
    return {module_name(p) for p in source_files()}


def node_of(module: str, known: set[str]) -> str | None:
    """The layering node of a project module: ``ssnenas.<first part>``, ``search_algos.<module>``
    (``search_algos`` for its ``__init__``), the top package for the rest; None outside the project."""
    parts = module.split(".")
    if parts[0] not in TOP_PACKAGES:
        return None
    # ``from pkg import name``: ``pkg.name`` is a node only when it is a real module
    while len(parts) > 1 and ".".join(parts) not in known:
        parts.pop()
    if parts[0] in ("ssnenas", "search_algos"):
        return ".".join(parts[:2])
    return parts[0]


def edges() -> dict[str, dict[str, list[str]]]:
    """node -> imported node -> ``file:line`` of each import that makes the edge (self-edges dropped)."""
    known = known_modules()
    graph: dict[str, dict[str, list[str]]] = {}
    for path in source_files():
        src = node_of(module_name(path), known)
        assert src is not None
        for name, line in imported_names(path):
            dst = node_of(name, known)
            if dst is None or dst == src:
                continue
            where = f"{path.relative_to(REPO)}:{line}"
            graph.setdefault(src, {}).setdefault(dst, [])
            if where not in graph[src][dst]:
                graph[src][dst].append(where)
    return graph


def cycles(graph: dict[str, dict[str, list[str]]], keep: Callable[[str], bool]) -> list[list[str]]:
    """The strongly connected components of more than one node among the nodes ``keep`` accepts (Tarjan)."""
    nodes = sorted({n for n in graph if keep(n)} | {d for s in graph if keep(s) for d in graph[s] if keep(d)})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if not keep(w):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def describe(graph: dict[str, dict[str, list[str]]], component: list[str]) -> str:
    members = set(component)
    lines = [" <-> ".join(component)]
    for s in component:
        for d, where in sorted(graph.get(s, {}).items()):
            if d in members:
                lines.append(f"  {s} -> {d}: {', '.join(where)}")
    return "\n".join(lines)


# --- the checker itself, on a tiny tree ---------------------------------------------------------

def test_imported_names_sees_function_level_relative_and_importlib(tmp_path):
    pkg = tmp_path / "ssnenas" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "ssnenas" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    mod = pkg / "mod.py"
    mod.write_text("import os\n"
                   "from . import sibling\n"
                   "from ..other import thing\n"
                   "def f():\n"
                   "    from search_algos._base import NASSearcher\n"
                   "    import importlib\n"
                   "    return importlib.import_module('experiments.benchmark')\n")
    names = {n for n, _ in imported_names(mod, tmp_path)}
    assert {"os", "ssnenas.sub.sibling", "ssnenas.other.thing", "search_algos._base.NASSearcher",
            "experiments.benchmark"} <= names
    known = {"ssnenas", "ssnenas.sub", "ssnenas.sub.sibling", "search_algos", "search_algos._base"}
    assert node_of("ssnenas.sub.sibling", known) == "ssnenas.sub"
    assert node_of("search_algos._base.NASSearcher", known) == "search_algos._base"
    assert node_of("search_algos.UNKNOWN", known) == "search_algos"
    assert node_of("os.path", known) is None


def test_cycles_finds_a_circle_and_ignores_a_chain():
    graph = {"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}, "d": {"a": ["w"]}}
    assert cycles(graph, lambda n: True) == [["a", "b", "c"]]
    del graph["c"]["a"]
    assert cycles(graph, lambda n: True) == []


# --- the rules, on the project ------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, list[str]]]:
    return edges()


def test_sources_found(graph):
    assert "ssnenas.cli" in graph and "search_algos" in graph, sorted(graph)


def test_no_circle_among_ssnenas_packages(graph):
    found = cycles(graph, lambda n: n.startswith("ssnenas."))
    assert not found, "import circles among ssnenas packages:\n" + "\n".join(describe(graph, c) for c in found)


def test_no_circle_among_search_algos_modules(graph):
    found = cycles(graph, lambda n: n == "search_algos" or n.startswith("search_algos."))
    assert not found, "import circles in search_algos:\n" + "\n".join(describe(graph, c) for c in found)


def test_library_below_cli_never_imports_upper_packages(graph):
    bad = [f"{src} -> {dst}: {', '.join(where)}" for src, deps in sorted(graph.items())
           if (src == "ssnenas" or src.startswith("ssnenas.")) and src != "ssnenas.cli"
           for dst, where in sorted(deps.items()) if dst.split(".")[0] in UPPER]
    assert not bad, ("only ssnenas/cli may import search_algos, trainables or experiments; the callers pass "
                     "registries down instead:\n" + "\n".join(bad))


def test_only_the_entry_point_imports_the_cli(graph):
    """``ssnenas.cli`` is the top floor: the library, searchers and trainables never reach up into it
    (``python -m ssnenas``, i.e. ``ssnenas/__main__.py``, and ``experiments/`` entry scripts may)."""
    bad = [f"{src} -> ssnenas.cli: {', '.join(deps['ssnenas.cli'])}" for src, deps in sorted(graph.items())
           if "ssnenas.cli" in deps and src not in ("ssnenas.__main__", "experiments")]
    assert not bad, "only the entry points may import ssnenas.cli:\n" + "\n".join(bad)


def test_search_algos_and_trainables_never_import_experiments(graph):
    bad = [f"{src} -> {dst}: {', '.join(where)}" for src, deps in sorted(graph.items())
           if src.split(".")[0] in ("search_algos", "trainables")
           for dst, where in sorted(deps.items()) if dst == "experiments"]
    assert not bad, "search_algos and trainables must not import experiments:\n" + "\n".join(bad)
