"""Capability and bias evaluations of a model (base, or base + a method's artifact).

One module per evaluation (mmlu, glue, perplexity, fluency, lm_eval_bridge) and one package, the bias
suite (bias_suite/: BBQ, WinoGender, StereoSet, CrowS-Pairs); each has a stage entry that writes
score-store rows. `evals.run` dispatches a run's evaluation by name.
"""
