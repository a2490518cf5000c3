"""Dispatch a model evaluation by name (the `evaluate` rule's entry; `evaluations:` in an experiment's config).

Each model evaluation (evals/registry.py) is a module with `evaluate(model, settings, run, out, *, adapter, projection,
records_out)`. The rule fingerprints the one module it runs, so editing MMLU's code reruns MMLU
jobs only. A run with several trained artifacts (reward_guided: one adapter per grid cell) is
evaluated once per cell (`evaluate_cells`); each cell's rows carry the cell's label as their split,
as the run's own scores do.
"""

from __future__ import annotations


def evaluate_model(
    name: str, model, settings: dict, run, out, *, adapter=None, projection=None, records_out=None
) -> dict:
    import importlib

    from debiaslab.core.config import ConfigError
    from debiaslab.evals.registry import EVALUATIONS, MODEL_EVALUATIONS

    if name not in MODEL_EVALUATIONS:
        raise ConfigError(f"unknown evaluation {name!r}; known: {', '.join(MODEL_EVALUATIONS)}")
    module = importlib.import_module(EVALUATIONS[name].module)
    return module.evaluate(model, settings, run, out, adapter=adapter, projection=projection, records_out=records_out)


def evaluate_cells(name: str, model, settings: dict, run, out, cells: list[dict]) -> dict:
    """The evaluation of every cell {label, adapter (None: the base model)}, in one score-store file;
    cells that share an adapter (the base model's, one per temperature) are evaluated once."""
    import tempfile
    from pathlib import Path

    import pandas as pd

    from debiaslab.core.store import read_scores, write_scores

    frames, summary, done = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="debiaslab-cells-") as tmp:
        for cell in cells:
            adapter = cell.get("adapter")
            if adapter not in done:
                done[adapter] = Path(tmp) / f"cell{len(done)}.parquet"
                summary[cell["label"]] = evaluate_model(name, model, settings, run, done[adapter], adapter=adapter)
            frames.append(read_scores([done[adapter]]).assign(split=cell["label"]))
    write_scores(out, pd.concat(frames, ignore_index=True))
    return {"cells": summary}
