"""debiaslab: LoRA-based bias-mitigation experiments as one cached Snakemake DAG.

Heavy libraries (torch, transformers, peft, trl) are imported lazily inside the
functions that use them, so `import debiaslab` and the CLI's `--help` stay fast.
"""

__version__ = "0.1.0"
