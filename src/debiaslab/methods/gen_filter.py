"""Generate-then-filter: sample k candidates per prompt and keep the first acceptable one.

A post-hoc baseline (docs/experiments/occupations.md#method, "gen+filter"): it changes no weights, so its
success is bounded by how often the base model already produces an acceptable
text. Rows with no acceptable candidate keep their first candidate (so every prompt
still has a response to score) and are flagged; the acceptance rate is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FilterSettings:
    k: int = 8  # candidates sampled per prompt


def select(rows: list[dict], candidates: list[list[str]], accept: Callable[[dict, str], bool]):
    """Per row: the first accepted candidate (or the first candidate), whether one was accepted, how many were."""
    chosen, found, n_accepted = [], [], []
    for row, cands in zip(rows, candidates):
        ok = [accept(row, c) for c in cands]
        first = ok.index(True) if any(ok) else 0
        chosen.append(cands[first])
        found.append(any(ok))
        n_accepted.append(sum(ok))
    return chosen, found, n_accepted


def decode(
    lm, tokenizer, inputs: list[str], rows: list[dict], sampling, seed: int, settings: dict, criterion: Callable
):
    """Generation entry (generation/responses.py): k samples per prompt, the first accepted kept.
    `criterion`: the experiment's acceptance test for (prompt row, candidate) (its `decoding` entry).
    Returns the texts, the columns added to the responses table, and the job summary's entries."""
    from debiaslab.core.config import build
    from debiaslab.generation.autoregressive import generate

    filt = build(FilterSettings, settings, "gen_filter")
    texts = generate(lm, tokenizer, [p for p in inputs for _ in range(filt.k)], sampling, seed, desc="generate k")
    candidates = [texts[i * filt.k : (i + 1) * filt.k] for i in range(len(inputs))]
    chosen, found, n_ok = select(rows, candidates, criterion)
    columns = {"filter_accepted": found, "filter_candidates_accepted": n_ok, "filter_k": filt.k}
    return chosen, columns, {"acceptance_rate": sum(found) / max(1, len(found))}
