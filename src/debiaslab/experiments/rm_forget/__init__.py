"""`rm_forget`: reward-model debiasing by subtracting a forget-LoRA (docs/experiments/rm_forget.md).

experiment.py is its entry in the experiment interface (experiments/base.py); data.py builds its styled pairs
and RM-Bench items, scoring.py runs the λ sweep, table.py defines its table and λ-curve figure.
"""
