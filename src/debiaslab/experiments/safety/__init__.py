"""`safety`: SFT and DPO on hh-rlhf, scored by a bias-type classifier and a reward model
(docs/experiments/safety.md).

experiment.py is its entry in the experiment interface (experiments/base.py); hh_rlhf.py and bias_prompts.py
build its data, scoring.py scores its responses, table.py defines its table, published.py rebuilds the table
from the source's published score files. Its testbed world (files and corpus section) is testbed/safety.py.
"""
