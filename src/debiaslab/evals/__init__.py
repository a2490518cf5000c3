"""Capability and bias evaluations of a model (base, or base + a method's artifact).

One module per evaluation (mmlu, glue, perplexity, crows_pairs, fluency, lm_eval_bridge); each has
a stage entry that writes score-store rows. `evals.run` dispatches a run's evaluation by name.
"""
