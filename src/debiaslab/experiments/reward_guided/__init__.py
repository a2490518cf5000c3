"""`reward_guided`: REINFORCE (and TRL RLOO) on a LoRA adapter with a GenBit + KL reward, over a grid of
dataset size × temperature (docs/experiments/reward_guided.md).

experiment.py is its entry in the experiment interface (experiments/base.py); data.py builds the MCQ pool,
scoring.py scores a run per grid cell, table.py and figures.py define its table and training curves,
testbed.py its testbed corpus section.
"""
