"""Dispatch a model evaluation by name (the `evaluate` rule's entry; `evaluations:` in an experiment's config).

Each named evaluation is a module with `evaluate(model, settings, run, out, *, adapter, projection,
records_out)`. The rule fingerprints the one module it runs, so editing MMLU's code reruns MMLU
jobs only.
"""

from __future__ import annotations

MODEL_EVALUATIONS = {
    "mmlu": "debiaslab.evals.mmlu",
    "glue": "debiaslab.evals.glue",
    "perplexity": "debiaslab.evals.corpus_perplexity",
    "crows_pairs": "debiaslab.evals.crows_pairs",
}


def evaluate_model(name: str, model, settings: dict, run, out, *, adapter=None, projection=None, records_out=None) -> dict:
    import importlib

    from debiaslab.config import ConfigError

    if name not in MODEL_EVALUATIONS:
        raise ConfigError(f"unknown evaluation {name!r}; known: {', '.join(MODEL_EVALUATIONS)}")
    module = importlib.import_module(MODEL_EVALUATIONS[name])
    return module.evaluate(model, settings, run, out, adapter=adapter, projection=projection, records_out=records_out)
