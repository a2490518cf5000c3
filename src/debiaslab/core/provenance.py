"""Fingerprints of code and config, so results say what produced them.

Snakemake reruns a job when its params change, but it cannot see edits to an
imported package. Each rule therefore carries `source_fingerprint(<entry module>)`:
a hash of that module and every debiaslab module it imports, transitively (found
by reading the import statements, without importing anything). Editing the SFT
trainer reruns SFT jobs; editing the DPO trainer does not.
"""

from __future__ import annotations

import ast
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = "debiaslab"
ROOT = Path(__file__).resolve().parents[1]  # src/debiaslab


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _statements(nodes: list):
    """Every statement in `nodes` and in the blocks nested in them. An import is a statement, so the
    expressions (most of a module's nodes, which `ast.walk` would visit too) are skipped."""
    for node in nodes:
        yield node
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, block, None)
            if isinstance(inner, list):
                yield from _statements(inner)


@cache
def _imports(path: Path, module: str) -> tuple[str, ...]:
    """debiaslab modules imported anywhere in `path` (including inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            found.add(target)
            # `from debiaslab.metrics import balance` imports a submodule
            found.update(f"{target}.{a.name}" for a in node.names if _module_file(f"{target}.{a.name}"))
    return tuple(sorted(found))


def module_closure(*modules: str) -> list[Path]:
    """The files of `modules` and of every debiaslab module they import, transitively."""
    seen: dict[str, Path] = {}
    stack = list(modules)
    while stack:
        module = stack.pop()
        if module in seen:
            continue
        path = _module_file(module)
        if path is None:
            if module == PACKAGE or module.startswith(PACKAGE + "."):
                if module in modules:
                    raise ValueError(f"no such module: {module}")
                continue
            raise ValueError(f"not a {PACKAGE} module: {module}")
        seen[module] = path
        # parent packages' __init__ run on import too
        parent = module.rpartition(".")[0]
        if parent:
            stack.append(parent)
        stack.extend(_imports(path, module))
    return sorted(set(seen.values()))


@cache
def source_fingerprint(*modules: str) -> str:
    """A short hash of the source that running `modules` executes."""
    digest = hashlib.sha256()
    for path in module_closure(*modules):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def config_fingerprint(obj: Any) -> str:
    """A short, order-independent hash of a config slice."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_version() -> str:
    from debiaslab import __version__

    return __version__
