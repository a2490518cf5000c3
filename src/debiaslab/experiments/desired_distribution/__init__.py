"""`desired_distribution`: fine-tuning toward a desired gender distribution per occupation
(docs/experiments/desired_distribution.md).

experiment.py is its entry in the experiment interface (experiments/base.py); data.py builds its sentence
table, scoring.py scores a run by KL per split, table.py defines its bias and utility table. Its testbed
world (the dedicated masked LM, corpus section) is testbed/desired_distribution*.py.
"""
