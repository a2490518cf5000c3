"""The package's imports point one way: down the layer order below, and never in a circle.

Every module of src/debiaslab is read with `ast` (nothing is imported); every `import` and
`from ... import` at ANY depth counts, including those inside functions: the package imports its
heavy libraries lazily, so a function-level import is as real an edge as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "debiaslab"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE

# The layers, top first. A module may import modules of its own layer or of any layer BELOW it,
# never one above. The key is a module's first
# name under debiaslab (a package or a top-level module); `debiaslab/__init__.py` itself is the
# package's face (its version) and sits at the bottom.
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("runtime",),
    ("experiments",),
    ("aggregate",),
    ("methods", "generation", "evals", "testbed", "data"),
    ("metrics",),
    ("models", "hub"),
    ("core", ""),
]


def layer_of(module: str) -> int:
    """Index of `module`'s layer in LAYERS (0 = top)."""
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else ""
    for index, names in enumerate(LAYERS):
        if key in names:
            return index
    raise AssertionError(f"{module}: its first name {key!r} is in no layer of tests/test_imports.py's LAYERS")


def modules(root: Path = SOURCE) -> dict[str, Path]:
    """Dotted name -> file of every module (a package's `__init__.py` is named as its package)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(target: str, known: dict[str, Path]) -> str | None:
    """The module `target` names: itself, or the longest known module it lies in (`pkg.name` where
    name is not a module but a name defined in pkg/__init__.py); None outside the package."""
    while target:
        if target in known:
            return target
        target = target.rpartition(".")[0]
    return None


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's own modules that `module` imports, at any depth of its code."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upward
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # `from pkg import name`: the submodule pkg.name where there is one, else pkg itself
            names = [f"{origin}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                target = _resolve(name, known)
                if target is not None and target != module:
                    found.add(target)
    return found


def graph(root: Path = SOURCE) -> dict[str, set[str]]:
    known = modules(root)
    return {module: imports(module, path, known) for module, path in known.items()}


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets if layer_of(b) < layer_of(a))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_every_module_has_a_layer():
    for module in modules():
        layer_of(module)


def test_no_import_points_up_the_layers():
    upward = upward_imports(graph())
    assert not upward, "imports that point up the layer order (tests/test_imports.py LAYERS):\n  " + "\n  ".join(upward)


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "modules that import each other in a circle:\n  " + "\n  ".join(" <-> ".join(c) for c in found)


# --- the checks themselves fail where they must ---------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / PACKAGE
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_planted_upward_import_inside_a_function_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "core/__init__.py": "",
            "core/io.py": "def read():\n    from debiaslab.metrics import balance\n    return balance\n",
            "metrics/__init__.py": "",
            "metrics/balance.py": "from debiaslab.core.io import read\n",
        },
    )
    assert upward_imports(graph(root)) == ["debiaslab.core.io -> debiaslab.metrics.balance"]
    assert cycles(graph(root)) == [["debiaslab.core.io", "debiaslab.metrics.balance"]]


def test_a_planted_cycle_within_one_layer_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "methods/__init__.py": "",
            "methods/a.py": "from . import b\n",
            "methods/b.py": "import debiaslab.methods.c\n",
            "methods/c.py": "def f():\n    from debiaslab.methods.a import x\n",
            "methods/d.py": "from debiaslab.methods import a, b\n",
        },
    )
    edges = graph(root)
    assert edges["debiaslab.methods.d"] == {"debiaslab.methods.a", "debiaslab.methods.b"}
    assert upward_imports(edges) == []
    assert cycles(edges) == [["debiaslab.methods.a", "debiaslab.methods.b", "debiaslab.methods.c"]]


@pytest.mark.parametrize(
    "module, layer",
    [
        ("debiaslab.cli", 0),
        ("debiaslab.cli.args", 0),
        ("debiaslab", 7),
        ("debiaslab.core.io", 7),
        ("debiaslab.testbed.corpus", 4),
        ("debiaslab.experiments.occupations.scoring", 2),
        ("debiaslab.experiments.registry", 2),
    ],
)
def test_layer_of(module, layer):
    assert layer_of(module) == layer
