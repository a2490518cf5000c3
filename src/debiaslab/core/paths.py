"""Where a config's artifacts live: one results root per config, one path grammar under it.

Every config names itself (`name:` at its top); its artifacts live under `results/<name>/`, so the
testbed, the real tier and a full-scale study can share a clone without overwriting each other:

    results/<name>/<stage>/<experiment>/<model>/<method>/seed~<seed>/[<cell>/]<file>

with stage one of data (per experiment: data/<experiment>/<file>), train, checkpoints/train, generate,
scores, lm_eval; and beside them testbed/ (the offline world this config builds), models/ (converted
GGUF models), hub/ (the download manifest), tables/, figures/, logs/, benchmarks/ and bundle/. A grid
cell (reward_guided's dataset size × temperature) is one more folder level, `size~64/temperature~0.7`.

Paths inside a config that point at things this config builds (its testbed models and datasets) are
written with the `{results}` placeholder, e.g. `path: "{results}/testbed/lm"`: `expand_results` turns it
into the root once, when the config is validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RESULTS = "results"
PLACEHOLDER = "{results}"


def results_root(config: dict) -> str:
    """`results/<name>`: the one place a config's root is computed."""
    return f"{RESULTS}/{config['name']}"


def expand_results(node: Any, root: str) -> Any:
    """Every `{results}` in the strings of `node` replaced by `root`, in place (dicts and lists keep their
    identity and order); returns `node` (or the new string)."""
    if isinstance(node, str):
        return node.replace(PLACEHOLDER, root)
    if isinstance(node, dict):
        for key, value in node.items():
            node[key] = expand_results(value, root)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            node[i] = expand_results(value, root)
    return node


def cell_path(values: dict) -> str:
    """A grid cell's folder levels: `size~64/temperature~0.7` (numbers as `:g` writes them; ints plainly)."""
    return "/".join(f"{k}~{v}" if isinstance(v, int) else f"{k}~{v:g}" for k, v in values.items())


@dataclass(frozen=True)
class Layout:
    """The path grammar under one results root. Each argument may be a value or a `{wildcard}` pattern."""

    root: str

    def __call__(self, *parts: str) -> str:
        """`<root>/<part>/...`: testbed/, tables/, logs/ and the other stage folders."""
        return "/".join([self.root, *parts])

    def data(self, experiment: str, file: str) -> str:
        return self("data", experiment, file)

    def run(self, stage: str, experiment: str, model: str, method: str, seed, file: str = "") -> str:
        """`<root>/<stage>/<experiment>/<model>/<method>/seed~<seed>[/<file>]`."""
        return self(stage, experiment, model, method, f"seed~{seed}", *([file] if file else []))

    def testbed(self, name: str = "") -> str:
        return self("testbed", *([name] if name else []))

    def imported_model(self, name: str) -> dict[str, str]:
        """Where a GGUF model entry is converted to: its Hub-format folder and the provenance JSON beside it."""
        return {"model": self("models", name, "model"), "provenance": self("models", name, "provenance.json")}
