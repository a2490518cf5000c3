"""One folder per experiment (its data builders, scoring, table and figures, config checks, testbed corpus
section), each behind the interface in base.py; registry.py lists them."""
