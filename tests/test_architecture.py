"""The shape of the code: stages import only downwards (the import-linter contract in pyproject.toml), no module
imports itself back through another, no module grows past ~400 lines, and the public API is what __all__ says."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "traceflops"
MAX_LINES = 420


def test_import_contract_is_kept():
    from importlinter.cli import lint_imports
    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True) == 0


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycles():
    import grimp
    assert _cycles(grimp.build_graph("traceflops")) == []


def test_cycle_finder_finds_a_cycle():
    class G:
        modules = {"a", "b", "c"}

        @staticmethod
        def find_modules_directly_imported_by(m):
            return {"a": {"b"}, "b": {"a", "c"}, "c": set()}[m]
    assert _cycles(G) == [["a", "b"]]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_size(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_public_api():
    import traceflops
    for name in traceflops.__all__:
        assert hasattr(traceflops, name), name
    for name in ("analyze", "Analysis", "compare", "register_formula", "on_trace_ready", "TraceError"):
        assert name in traceflops.__all__
    readme = (REPO / "README.md").read_text()
    missing = [n for n in traceflops.__all__ if n != "__version__" and f"`{n}" not in readme]
    assert not missing, f"public names not in the README: {missing}"


def test_tests_import_public_names_or_owning_modules():
    """Tests import `traceflops`, a stage package, or the module that owns a function or class, never a name
    through another module's imports."""
    import importlib
    import inspect
    bad = []
    for f in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("traceflops")):
                continue
            mod = importlib.import_module(node.module)
            if Path(mod.__file__).name == "__init__.py":
                continue  # a package's own exports
            for a in node.names:
                obj = getattr(mod, a.name, None)
                if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ != node.module:
                    bad.append(f"{f.name}: {node.module}.{a.name} lives in {obj.__module__}")
    assert not bad, "\n".join(bad)
