"""Every evaluation an experiment's `evaluations:` can name, and how it runs.

kind:
- "model": evaluates a run's model (the base plus the method's artifact), one job per run and
  evaluation (the `evaluate` rule; `debiaslab evaluate model --evaluation NAME`), module's `evaluate`;
- "responses": scores every run's responses under one reference LM, one job per experiment (`fluency_<experiment>`);
- "lm_eval": lm-evaluation-harness (the `lm_eval` rule; optional extra).

Read by the rules (which job an evaluation gets, what it fingerprints) and by evals/run.py.
Modules are named, not imported: a job fingerprints only the evaluation it runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Evaluation:
    kind: str
    module: str
    own_table: bool = False  # its rows go to a table of their own (the bias suite), not the experiment's


EVALUATIONS: dict[str, Evaluation] = {
    "mmlu": Evaluation("model", "debiaslab.evals.mmlu"),
    "glue": Evaluation("model", "debiaslab.evals.glue"),
    "perplexity": Evaluation("model", "debiaslab.evals.corpus_perplexity"),
    "crows_pairs": Evaluation("model", "debiaslab.evals.bias_suite.crows_pairs"),  # also part of bias_suite
    "bias_suite": Evaluation("model", "debiaslab.evals.bias_suite.suite", own_table=True),
    "fluency": Evaluation("responses", "debiaslab.evals.fluency"),
    "lm_eval": Evaluation("lm_eval", "debiaslab.evals.lm_eval_bridge"),
}


def of_kind(kind: str) -> list[str]:
    return [name for name, e in EVALUATIONS.items() if e.kind == kind]


MODEL_EVALUATIONS = of_kind("model")
