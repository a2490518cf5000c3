"""`occupations`: agentic/communal balance of occupation descriptions (docs/experiments/occupations.md).

experiment.py is its entry in the experiment interface (experiments/base.py); data.py builds its data,
scoring.py scores its responses, table.py defines its table and figure, testbed.py its testbed corpus section.
"""
