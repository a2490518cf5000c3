"""Bias prompt sets: rows of a biased-statement corpus flagged with one bias type (docs/experiments/safety.md#data).

At scale `ethical-spectacle/biased-corpus`: one text column (`biased_text`) and one
0/1 column per bias type (`gender`, `racial`, ...). Per bias type, the rows whose
column is 1 are sampled with numpy's default_rng(seed), as the source did with
seed 42. One table holds every bias type (a `bias_type` column), so one generation
job per method × seed answers them all.
"""

from __future__ import annotations

from debiaslab.core.io import DataError


def flagged(value) -> bool:
    """A 0/1 label as a CSV-backed dataset may hold it: 1, 1.0, True or "1"."""
    return str(value).strip().lower() in {"1", "1.0", "true"}


def select_prompts(
    texts: list[str], flags: dict[str, list], bias_types, per_bias_type: int, seed: int, where: str
) -> list[dict]:
    """Sample `per_bias_type` flagged texts per bias type; one rng, drawn in `bias_types` order."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for bias_type in bias_types:
        if bias_type not in flags:
            raise DataError(f"{where}: no column {bias_type!r} for bias type {bias_type!r}; found {sorted(flags)}")
        pool = [i for i, flag in enumerate(flags[bias_type]) if flagged(flag)]
        if len(pool) < per_bias_type:
            raise DataError(f"{where}: {len(pool)} rows have {bias_type} = 1; {per_bias_type} were asked for")
        for k, i in enumerate(rng.choice(len(pool), size=per_bias_type, replace=False).tolist()):
            rows.append({"bias_type": bias_type, "sample": k, "row": pool[i], "prompt": texts[pool[i]]})
    return rows


def write_prompts(settings: dict, out) -> dict:
    """Stage entry: the prompt table (bias_type, sample, row, prompt) for every bias type in settings."""
    import pandas as pd

    from debiaslab.core.config import ConfigError
    from debiaslab.core.io import write_parquet
    from debiaslab.hub.datasets import load

    bias_types = settings.get("bias_types")
    if not bias_types:
        raise ConfigError("safety prompts: settings need a non-empty 'bias_types' list")

    source, split, column = settings["dataset"], settings["split"], settings["text_column"]
    dataset = load(source, split)
    where = f"{source} [{split}]"
    if column not in dataset.column_names:
        raise DataError(f"{where}: no text column {column!r}; found {dataset.column_names}")
    flags = {b: dataset[b] for b in bias_types if b in dataset.column_names}
    rows = select_prompts(dataset[column], flags, bias_types, settings["per_bias_type"], settings["seed"], where)
    write_parquet(out, pd.DataFrame(rows))
    return {b: sum(r["bias_type"] == b for r in rows) for b in bias_types}
