"""House rules of the package, checked over its source with ``ast`` (see docs: ARCHITECTURE "Layout").

- no ``from .x import _y`` across modules (a helper two modules need gets a package name in the
  module that owns the concept);
- no import cycle between the package's modules (imports inside functions count too);
- no module over 700 lines;
- no function over 80 lines, not counting its docstring;
- plot modules draw results, they compute none: they import no analysis function
  (from ``analysis/``, ``search/`` or ``vectors/projection.py``; result classes and constants are fine);
- ruff's complexity rule is on (``C90``, ``max-complexity = 12``; ``ruff check .`` enforces it).

Each rule's checker is a plain function over parsed modules; each has a self-test that feeds it a
synthetic bad example, so a checker that silently stops finding anything fails here.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bertviz_kit"
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80
# Modules a plot module may not take functions from: what computes a result a plot draws.
ANALYSIS_PREFIXES = ("bertviz_kit.analysis", "bertviz_kit.search", "bertviz_kit.vectors.projection")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def parse_package(root: Path = PACKAGE) -> dict[str, tuple[Path, ast.Module]]:
    """``{module name: (path, tree)}`` for every ``.py`` file under ``root``."""
    return {module_name(p, root): (p, ast.parse(p.read_text(), str(p))) for p in sorted(root.rglob("*.py"))}


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imported_module(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package(path) else name.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(modules: dict[str, tuple[Path, ast.Module]], top: str = "bertviz_kit") -> list[str]:
    """``module:line name`` for each ``_name`` (not a dunder) imported from another module of the package."""
    found = []
    for name, (path, tree) in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = imported_module(name, path, node)
                if source != top and not source.startswith(top + "."):
                    continue
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{name}:{node.lineno} {alias.name} from {source}")
    return found


def import_graph(modules: dict[str, tuple[Path, ast.Module]], top: str = "bertviz_kit") -> dict[str, set[str]]:
    """Module -> the package modules it imports, at any depth of the file (functions, TYPE_CHECKING)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, tree) in modules.items():
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = imported_module(name, path, node)
                # ``from pkg import mod`` reads a submodule; ``from mod import name`` reads mod
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]], ignore: tuple[str, ...] = ()) -> list[list[str]]:
    """Import cycles (each once, as a path that returns to its start); edges into ``ignore`` are skipped."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in ignore:
                continue
            if state.get(nxt) == 1:
                loop = stack[stack.index(nxt):] + [nxt]
                if frozenset(loop) not in seen:
                    seen.add(frozenset(loop))
                    found.append(loop)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def long_modules(modules: dict[str, tuple[Path, ast.Module]], limit: int = MAX_MODULE_LINES) -> list[str]:
    out = []
    for name, (path, _) in modules.items():
        n = len(path.read_text().splitlines())
        if n > limit:
            out.append(f"{name}: {n} lines")
    return out


def function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body, not counting its docstring (nor its signature and decorators)."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if not body:
        return 0
    return node.end_lineno - body[0].lineno + 1


def long_functions(modules: dict[str, tuple[Path, ast.Module]], limit: int = MAX_FUNCTION_LINES) -> list[str]:
    out = []
    for name, (_, tree) in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = function_lines(node)
                if n > limit:
                    out.append(f"{name}.{node.name} (line {node.lineno}): {n} lines")
    return out


def is_function_name(name: str) -> bool:
    """A function's name by the house's naming: lower case (classes are CapWords, constants UPPER)."""
    return name.lstrip("_")[:1].islower()


def plot_computations(modules: dict[str, tuple[Path, ast.Module]], plot: str = "bertviz_kit.plot",
                      analysis: tuple[str, ...] = ANALYSIS_PREFIXES) -> list[str]:
    """Functions a plot module imports from an analysis module, or calls as ``bk.<analysis function>``."""
    public = analysis_functions(modules, analysis)
    out = []
    for name, (path, tree) in modules.items():
        if name != plot and not name.startswith(plot + "."):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = imported_module(name, path, node)
                if source.startswith(analysis):
                    out += [f"{name}:{node.lineno} imports {a.name} from {source}"
                            for a in node.names if is_function_name(a.name)]
            elif isinstance(node, ast.Attribute) and node.attr in public and isinstance(node.value, ast.Name):
                out.append(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return out


def analysis_functions(modules: dict[str, tuple[Path, ast.Module]], analysis: tuple[str, ...]) -> set[str]:
    """Names of the top-level functions defined in the analysis modules."""
    return {node.name for name, (_, tree) in modules.items() if name.startswith(analysis)
            for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}


# --- the rules, on the package ------------------------------------------------------------------

@pytest.fixture(scope="module")
def package():
    return parse_package()


def test_no_private_names_imported_across_modules(package):
    assert private_imports(package) == []


def test_no_import_cycles(package):
    # the package's __init__ imports every module to re-export the public names: edges into it
    # (a submodule reading ``bertviz_kit.__version__``) would be a cycle by construction, so none exist.
    assert cycles(import_graph(package)) == []


def test_explorer_panels_do_not_import_the_explorer_widget(package):
    graph = import_graph(package)
    assert "bertviz_kit.explorer.widget" not in graph["bertviz_kit.explorer.panels"]


def test_no_module_is_over_700_lines(package):
    assert long_modules(package) == []


def test_no_function_is_over_80_lines(package):
    assert long_functions(package) == []


def test_plot_modules_compute_no_analysis_result(package):
    assert plot_computations(package) == []


def test_no_compatibility_seams(package):
    """``__all__`` is built once, in the package's __init__; no module extends it with ``+=``."""
    seams = [f"{name}:{node.lineno}" for name, (_, tree) in package.items() for node in ast.walk(tree)
             if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__"]
    assert seams == []


def test_ruff_complexity_rule_is_on():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "C90" in lint["select"]
    assert lint["mccabe"]["max-complexity"] <= 12


# --- each checker finds a synthetic bad example ---------------------------------------------------

def fake_package(tmp_path: Path, files: dict[str, str]) -> dict[str, tuple[Path, ast.Module]]:
    root = tmp_path / "bertviz_kit"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return parse_package(root)


def test_private_import_checker_finds_one(tmp_path):
    mods = fake_package(tmp_path, {
        "__init__.py": "from . import __version__\n",
        "a.py": "def _helper(): pass\n",
        "sub/__init__.py": "",
        "sub/b.py": "from ..a import _helper\nimport os\nfrom os import _exit\n",
    })
    assert private_imports(mods) == ["bertviz_kit.sub.b:1 _helper from bertviz_kit.a"]


def test_cycle_checker_finds_one_through_a_function_level_import(tmp_path):
    mods = fake_package(tmp_path, {
        "__init__.py": "",
        "a.py": "from .b import x\n",
        "b.py": "def f():\n    from .sub import c\n",
        "sub/__init__.py": "",
        "sub/c.py": "from ..a import y\n",
        "d.py": "from .a import y\n",
    })
    found = cycles(import_graph(mods))
    assert len(found) == 1
    assert set(found[0]) == {"bertviz_kit.a", "bertviz_kit.b", "bertviz_kit.sub.c"}


def test_module_length_checker_finds_one(tmp_path):
    mods = fake_package(tmp_path, {"__init__.py": "", "big.py": "x = 1\n" * 701, "ok.py": "x = 1\n" * 700})
    assert long_modules(mods) == ["bertviz_kit.big: 701 lines"]


def test_function_length_checker_counts_the_body_without_its_docstring(tmp_path):
    doc = '    """' + "doc\n" * 30 + '    """\n'
    mods = fake_package(tmp_path, {
        "__init__.py": "",
        "f.py": "def long():\n" + "    x = 1\n" * 81 + "\n\ndef documented():\n" + doc + "    x = 1\n" * 80,
    })
    assert long_functions(mods) == ["bertviz_kit.f.long (line 1): 81 lines"]


def test_plot_computation_checker_finds_imports_and_bk_calls(tmp_path):
    mods = fake_package(tmp_path, {
        "__init__.py": "",
        "analysis/__init__.py": "",
        "analysis/attention.py": "def word_attention(e): pass\nclass Result: pass\nLEVELS = ()\n",
        "plot/__init__.py": "",
        "plot/attention.py": """\
            from ..analysis.attention import LEVELS, Result, word_attention
            import bertviz_kit as bk

            def plot(e):
                return bk.word_attention(e)
        """,
    })
    assert plot_computations(mods) == [
        "bertviz_kit.plot.attention:1 imports word_attention from bertviz_kit.analysis.attention",
        "bertviz_kit.plot.attention:5 uses bk.word_attention",
    ]
